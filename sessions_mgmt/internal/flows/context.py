"""What the request being handled has done to its session so far, shared by the sign-in,
sign-out and request flows: the request itself (for receivers that need its session),
the key its row is known by, whether it signed in, the row of a sign-in not yet written,
and the tracking state the app writes into the session."""

import time
import zlib
from contextvars import ContextVar

from django.http import HttpRequest

from ...conf import app_settings
from ...models import DeviceSession
from .. import state as codec

# Request attribute: the session key the row is known to carry, when it is not the cookie's.
TRACKED_KEY_ATTR = "_sessions_mgmt_key"
# Request attribute: set when the session signed in during this request.
SIGNED_IN_ATTR = "_sessions_mgmt_signed_in"
# Request attribute: the row of this request's sign-in, built but not yet written.
NEW_ROW_ATTR = "_sessions_mgmt_new_row"
# Request attribute: the key whose row was already dropped in this request.
FORGOTTEN_KEY_ATTR = "_sessions_mgmt_forgotten"
#: Request attribute: set by views whose errors must be JSON (the API); the middleware
#: then answers a failure of its own after the view in JSON too.
JSON_ERRORS = "_sessions_mgmt_json_errors"

_current_request: ContextVar[HttpRequest | None] = ContextVar("sessions_mgmt_request", default=None)


def agent(request: HttpRequest) -> int:
    """A checksum of the User-Agent, to notice a different browser mid-session."""
    return zlib.crc32(request.META.get("HTTP_USER_AGENT", "").encode())


def remember(request: HttpRequest, state: dict, **changes) -> dict:
    """Write the tracking state into the session (which marks it modified)."""
    state = {**state, **changes}
    codec.write(request.session, state)
    setattr(request, TRACKED_KEY_ATTR, request.session.session_key)
    return state


def new_state(request: HttpRequest, row: DeviceSession) -> dict:
    """The state of a session that has just got its row (a sign-in, an adoption)."""
    now = time.time()
    session = request.session
    return {
        "id": row.pk,
        "t": now,
        "s": now,
        "a": now,
        "ip": row.ip,
        "ua": agent(request),
        "x": row.expires_at.timestamp(),
        "e": session.get(codec.EXPIRY_KEY),
    }


def signed_in_now(request: HttpRequest) -> bool:
    """Whether the request's session signed in during this request."""
    return getattr(request, SIGNED_IN_ATTR, False)


def current_request() -> HttpRequest | None:
    """The request being handled in this context, for receivers that need its session."""
    return _current_request.get()


def known_key(request: HttpRequest) -> str | None:
    """The key the session's row is known by: the one this request moved it to, if it did,
    else the cookie's."""
    return getattr(request, TRACKED_KEY_ATTR, None) or request.COOKIES.get(
        app_settings.SESSION_COOKIE_NAME
    )


#: Make a request the current one: ``token = handling(request)``, then ``done(token)``.
#: The context variable's own methods, bound: no Python frame on every request.
handling = _current_request.set
done = _current_request.reset
