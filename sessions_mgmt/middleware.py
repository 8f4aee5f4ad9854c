"""Keep each signed-in session's ``DeviceSession`` row in step with the session store.

The steady state costs nothing: the row's id and the time of its last update live in the
session data, which the request has already loaded, so deciding that nothing is due reads
no database. The middleware only looks at sessions the request itself used (a view that
never reads ``request.user`` or ``request.session`` gets no work and no query); such a
request does not count as activity.
"""

import time
import zlib
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from .alerts import check_new_device
from .conf import app_settings
from .devices import describe
from .location import locate
from .models import STATE_KEY, DeviceSession
from .network import client_ip
from .reauth import mark_authenticated
from .signals import session_client_changed, session_started
from .timeouts import guard_user

# Request attribute: the session key the row is known to carry, when it is not the cookie's.
_TRACKED_KEY_ATTR = "_sessions_mgmt_key"
# Request attribute: set when the session signed in during this request.
_SIGNED_IN_ATTR = "_sessions_mgmt_signed_in"
# Request attribute: the key whose row was already dropped in this request.
_FORGOTTEN_KEY_ATTR = "_sessions_mgmt_forgotten"
_current_request: ContextVar[HttpRequest | None] = ContextVar("sessions_mgmt_request", default=None)


def _agent(request: HttpRequest) -> int:
    """A checksum of the User-Agent, to notice a different browser mid-session."""
    return zlib.crc32(request.META.get("HTTP_USER_AGENT", "").encode())


def _remember(
    request: HttpRequest, row_id: int, ip: str | None, agent: int, signed_in_at: int | None = None
) -> None:
    now = int(time.time())
    request.session[STATE_KEY] = {
        "id": row_id,
        "t": now,
        "s": signed_in_at or now,
        "ip": ip,
        "ua": agent,
    }
    setattr(request, _TRACKED_KEY_ATTR, request.session.session_key)


def _started(request: HttpRequest, row: DeviceSession) -> None:
    if session_started.has_listeners(DeviceSession):
        session_started.send(sender=DeviceSession, device_session=row, request=request)


def start_tracking(request: HttpRequest, user) -> DeviceSession:
    """Create the row of a session that has just signed in (called from ``user_logged_in``).

    ``login()`` has already replaced the session key (unless the same user signs in again);
    the row of the key the browser came with, if any, is dropped: that sign-in is over.
    """
    session = request.session
    if session.session_key is None:  # login() flushed another user's session: make a key
        session.save()
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if old_key and old_key != session.session_key:
        forget(request, old_key)
    elif STATE_KEY in session:  # signed in again without a new key: a fresh row replaces it
        forget(request, session.session_key)
    row = DeviceSession.objects.create(
        user=user, session_key=session.session_key, **_device_fields(request)
    )
    _remember(request, row.pk, row.ip, _agent(request))
    mark_authenticated(request)
    setattr(request, _SIGNED_IN_ATTR, True)
    _started(request, row)
    check_new_device(request, row)
    return row


def _device_fields(request: HttpRequest) -> dict:
    device = describe(request.META.get("HTTP_USER_AGENT"))
    ip = client_ip(request)
    now = timezone.now()
    return {
        "user_agent": device.user_agent,
        "browser": device.browser,
        "os": device.os,
        "device_type": device.device_type,
        "device_name": device.name,
        "ip": ip,
        "location": locate(ip),
        "created_at": now,
        "last_active_at": now,
        "expires_at": request.session.get_expiry_date(),
    }


def sync(request: HttpRequest, response: HttpResponse | None = None) -> None:
    """Adopt, re-key or touch the row of the request's session, as needed.

    Ends the session when its row has gone: the row was revoked, and a request that was
    already in flight must not keep the session alive.
    """
    session = getattr(request, "session", None)
    if session is None or not session.accessed:
        return
    key = session.session_key
    if key is None or SESSION_KEY not in session:
        _forget_if_flushed(request, session)
        return
    state = session.get(STATE_KEY)
    if state is None:
        _adopt(request)
        return
    known_key = getattr(request, _TRACKED_KEY_ATTR, None) or request.COOKIES.get(
        settings.SESSION_COOKIE_NAME
    )
    if key == known_key and getattr(request, _SIGNED_IN_ATTR, False):
        _commit_sign_in(request, response, state["id"])
        return
    if key == known_key and time.time() - state["t"] < app_settings.TOUCH_INTERVAL:
        return
    ip, agent = client_ip(request), _agent(request)
    moved = {"location": locate(ip)} if ip != state.get("ip", ip) else {}
    found = DeviceSession.objects.filter(pk=state["id"]).update(
        session_key=key,
        last_active_at=timezone.now(),
        ip=ip,
        expires_at=session.get_expiry_date(),
        **moved,
    )
    if not found:
        session.flush()
        return
    _remember(request, state["id"], ip, agent, state.get("s"))
    changed_ip, changed_agent = ip != state.get("ip", ip), agent != state.get("ua", agent)
    if (changed_ip or changed_agent) and session_client_changed.has_listeners(DeviceSession):
        session_client_changed.send(
            sender=DeviceSession,
            device_session_id=state["id"],
            user_id=session[SESSION_KEY],
            old_ip=state.get("ip"),
            new_ip=ip,
            user_agent_changed=changed_agent,
            request=request,
        )


def _commit_sign_in(request: HttpRequest, response: HttpResponse | None, row_id: int) -> None:
    """Save a new sign-in's session while its row is locked.

    A "sign out of all other devices" running at the same moment may already have picked
    this row. Locking the row (an UPDATE of nothing) and saving the session in the same
    transaction means the revoke either ended it before (the row is gone: the session is
    flushed and the browser simply is not signed in) or waits until the session is saved
    (and then ends it cleanly). Saving here, not in SessionMiddleware after us, leaves no
    moment in which a revoke could delete the session that is about to be saved, which
    Django would answer with SessionInterrupted (400). So we also set the cookie, as
    SessionMiddleware would have.
    """
    session = request.session
    if response is None or response.status_code >= 500 or settings.SESSION_SAVE_EVERY_REQUEST:
        # Only the row check: SessionMiddleware saves the session as usual.
        if not DeviceSession.objects.filter(pk=row_id).update(session_key=session.session_key):
            session.flush()
        return
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        alive = DeviceSession.objects.filter(pk=row_id).update(session_key=session.session_key)
        if alive:
            session.save()
    if not alive:
        session.flush()
        return
    session.modified = False  # saved: SessionMiddleware has nothing left to do but Vary
    if session.get_expire_at_browser_close():
        max_age = expires = None
    else:
        max_age = session.get_expiry_age()
        expires = http_date(time.time() + max_age)
    response.set_cookie(
        settings.SESSION_COOKIE_NAME,
        session.session_key,
        max_age=max_age,
        expires=expires,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE or None,
        httponly=settings.SESSION_COOKIE_HTTPONLY or None,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )
    patch_vary_headers(response, ("Cookie",))


def forget(request: HttpRequest, session_key: str) -> None:
    """Drop the row of a session that Django itself has ended (``logout()``, ``flush()``)."""
    DeviceSession.objects.filter(session_key=session_key).delete_rows()
    setattr(request, _FORGOTTEN_KEY_ATTR, session_key)


def _forget_if_flushed(request: HttpRequest, session) -> None:
    """A signed-in session flushed during the request (e.g. by Django's password-hash check)
    loses its row too; a stale or absent cookie, which is not flushed, costs nothing."""
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if (
        session.modified
        and session.session_key is None
        and old_key
        and old_key != getattr(request, _FORGOTTEN_KEY_ATTR, None)
    ):
        forget(request, old_key)


def _adopt(request: HttpRequest) -> None:
    """Give a row to a session that signed in before the app was installed."""
    user = request.user
    if not user.is_authenticated:  # the session names a user who no longer exists
        return
    row, created = DeviceSession.objects.get_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, **_device_fields(request)},
    )
    _remember(request, row.pk, row.ip, _agent(request))
    if created:
        _started(request, row)


def current_request() -> HttpRequest | None:
    """The request being handled in this context, for receivers that need its session."""
    return _current_request.get()


class DeviceSessionMiddleware:
    """Place after ``SessionMiddleware`` and ``AuthenticationMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(limit is not None for limit in app_settings.timeouts()):
            guard_user(request)
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
            sync(request, response)
        finally:
            _current_request.reset(token)
        return response
