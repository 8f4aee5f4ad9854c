"""Server-side idle and absolute timeouts (NIST SP 800-63B §7), independent of the cookie.

The timestamps live in the session's tracking data (see ``state``), so the
check reads nothing the request does not load anyway. It runs where the user is first
needed (``request.user`` / ``request.auser``), so a timed-out session never reaches a view
as signed in, and again after a view that used only ``request.session``, before tracking
would count that request as activity.

Idle time is exact: with an idle timeout set, every request that uses the session records
its time in the session (``"a"``; the app saves the session, keeping its expiry), so the
limit counts from the last request, to the fraction of a second. Without one, nothing is
recorded between touches.

The same check ends a session at its expiry (``"x"``, see ``flows.request``) on engines the app
cannot make keep that expiry themselves (``file`` and engines it does not know), so that
the app's own saves never make a session outlive the time Django would have ended it.
"""

import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.timesince import timesince
from django.utils.translation import gettext, gettext_noop

from . import services
from .conf import app_settings
from .internal import backend_paths, store, unseen
from .internal.flows import end
from .internal.state import read as state_of
from .models import DeviceSession

_EXPIRY_MESSAGE = gettext_noop("Your session has expired. Please sign in again.")


def timed_out(state: dict, now: float) -> tuple[str, str] | None:
    """Whether a session with this tracking state is over, by the configured timeouts or
    (where the store cannot keep it) its expiry: ``(detail, message)`` — the
    ``session_revoked`` detail and what to tell the person — or None."""
    if "x" in state and now >= state["x"] and not _store_keeps_expiry():
        return services.EXPIRY, gettext(_EXPIRY_MESSAGE)
    idle, absolute = app_settings.timeouts()
    if absolute is not None and now - state.get("s", now) > absolute:
        message = gettext("You were signed out: sessions end %(limit)s after signing in.")
        limit = timesince(timezone.now() - timedelta(seconds=absolute))
        return services.ABSOLUTE_TIMEOUT, message % {"limit": limit}
    if idle is not None and now - state.get("a", state.get("t", now)) > idle:
        message = gettext("You were signed out after %(limit)s without activity.")
        limit = timesince(timezone.now() - timedelta(seconds=idle))
        return services.IDLE_TIMEOUT, message % {"limit": limit}
    return None


def _store_keeps_expiry() -> bool:
    """Whether the configured engine ends sessions itself at the expiry the app keeps
    (worked out once per configuration: a change of SESSION_ENGINE clears it)."""
    return app_settings.memo("store_keeps_expiry", lambda: store.keeps_expiry(store.engine()))


def needed() -> bool:
    """Whether requests must be checked: timeouts are set, or the store cannot keep expiry.
    Worked out once per configuration: the middleware asks on every request."""
    return app_settings.memo("timeouts_needed", _needed)


def _needed() -> bool:
    idle, absolute = app_settings.timeouts()
    return idle is not None or absolute is not None or not _store_keeps_expiry()


def guarding() -> bool:
    """Whether ``request.user`` must be guarded before the view, beyond the timeouts
    (``needed``): sessions from before may still come back (from before the app,
    ``unseen``; of a backend since replaced, ``backend_paths``). Both windows are worked
    out together, on the first request of a configuration (a query each, once per
    process), then it is a clock comparison."""
    return time.time() < app_settings.memo("guard_until", _guard_until)


async def aguarding() -> bool:
    """``guarding`` on the event loop: the first time, the queries run in a thread."""
    until = app_settings.peek("guard_until")
    if until is None:
        return await sync_to_async(guarding)()
    return time.time() < until


def _guard_until() -> float:
    return max(unseen.until(), backend_paths.until())


def _end(request: HttpRequest, state: dict, ended: tuple[str, str]) -> None:
    detail, message = ended
    services.end_sessions(
        DeviceSession.objects.filter(pk=state["id"]), reason=services.EXPIRED, detail=detail
    )
    end.flush(request.session)
    messages.info(request, message, fail_silently=True)


def pending_end(request: HttpRequest) -> Callable[[], None] | None:
    """After a view that used only the session: the work of ending it if it has timed out
    (None if not), so that tracking does not count the request as activity, which would
    revive it. Deciding reads only the loaded session. Only called when ``needed()``."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed:
        return None
    state = state_of(session)
    ended = state and SESSION_KEY in session and timed_out(state, time.time())
    return partial(_end, request, state, ended) if ended else None


def _user_within_timeouts(request: HttpRequest):
    """``request.user``, unless the session has timed out, or is one from before the app
    that a revocation cut off (``unseen``): then the session ends (row and store key), a
    message says why, and the request goes on signed out."""
    session = request.session
    if unseen.possible() and unseen.refused(session):
        end.flush(session)
        return AnonymousUser()
    if backend_paths.possible():
        backend_paths.take_over(session)
    if needed():
        state = state_of(session)
        ended = state and SESSION_KEY in session and timed_out(state, time.time())
        if ended:
            _end(request, state, ended)
            return AnonymousUser()
    return get_user(request)


def guard_user(request: HttpRequest) -> None:
    """Replace the lazy ``request.user`` and ``request.auser`` that AuthenticationMiddleware
    set with ones that end a timed-out session first."""
    resolved = {}

    def resolve():
        if "user" not in resolved:
            resolved["user"] = _user_within_timeouts(request)
        return resolved["user"]

    async def auser():
        return await sync_to_async(resolve)()

    request.user = SimpleLazyObject(resolve)
    request.auser = auser
