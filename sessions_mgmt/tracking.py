"""Keep each signed-in session's ``DeviceSession`` row in step with the session store:
sign-in, adoption, touch, key changes, sign-out.

The steady state costs nothing: the row's id and the time of the last touch live in the
session data, which the request has already loaded, so deciding that nothing is due reads
no database. Only sessions the request itself used are looked at (a view that never reads
``request.user`` or ``request.session`` gets no work and no query); such a request does not
count as activity.

Liveness lives in the session, not the row. A touch (at most once per
``SESSIONS_MGMT_TOUCH_INTERVAL``) records the time, IP and expiry in the session's state,
and lists read it back from the store in one round trip (``store.session_data``); the row
keeps what the device said at sign-in, and its copies of the live fields are brought up to
date in bulk (``services.refresh_rows``), never per request.

Expiry. Installing the app must not change when sessions end. Django ends a session
``SESSION_COOKIE_AGE`` after its last save (or at the date a view gave ``set_expiry()``); the
app's own bookkeeping saves would push that back on every touch. So the state remembers
the moment the store is due to end the session (``"x"``), moved only when the *project*
saves the session (a view changed it, ``set_expiry()``, or ``SESSION_SAVE_EVERY_REQUEST``),
and the app's own saves keep it (``store.save_keeping_expiry``).
"""

import logging
import time
import zlib
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import UpdateError
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.debug import sensitive_variables

from . import history, services, store, unseen
from . import state as codec
from .alerts import check_new_device
from .conf import app_settings
from .devices import describe
from .flows import end
from .location import locate
from .models import DeviceSession
from .network import client_ip
from .reauth import mark_authenticated
from .signals import session_client_changed, session_started

logger = logging.getLogger(__name__)

#: Work left to do for a request (I/O), from ``pending``.
Work = Callable[[], None]

# Request attribute: the session key the row is known to carry, when it is not the cookie's.
_TRACKED_KEY_ATTR = "_sessions_mgmt_key"
# Request attribute: set when the session signed in during this request.
_SIGNED_IN_ATTR = "_sessions_mgmt_signed_in"
# Request attribute: the row of this request's sign-in, built but not yet written.
_NEW_ROW_ATTR = "_sessions_mgmt_new_row"
# Request attribute: the key whose row was already dropped in this request.
_FORGOTTEN_KEY_ATTR = "_sessions_mgmt_forgotten"
#: Request attribute: set by views whose errors must be JSON (the API); the middleware
#: then answers a failure of its own after the view in JSON too.
JSON_ERRORS = "_sessions_mgmt_json_errors"
_EXPIRY = codec.EXPIRY_KEY
_current_request: ContextVar[HttpRequest | None] = ContextVar("sessions_mgmt_request", default=None)


def _agent(request: HttpRequest) -> int:
    """A checksum of the User-Agent, to notice a different browser mid-session."""
    return zlib.crc32(request.META.get("HTTP_USER_AGENT", "").encode())


def _remember(request: HttpRequest, state: dict, **changes) -> dict:
    """Write the tracking state into the session (which marks it modified)."""
    state = {**state, **changes}
    codec.write(request.session, state)
    setattr(request, _TRACKED_KEY_ATTR, request.session.session_key)
    return state


def _new_state(request: HttpRequest, row: DeviceSession) -> dict:
    now = time.time()
    session = request.session
    return {
        "id": row.pk,
        "t": now,
        "s": now,
        "a": now,
        "ip": row.ip,
        "ua": _agent(request),
        "x": row.expires_at.timestamp(),
        "e": session.get(_EXPIRY),
    }


def _started(request: HttpRequest, row: DeviceSession) -> None:
    if session_started.has_listeners(DeviceSession):
        session_started.send(sender=DeviceSession, device_session=row, request=request)


@sensitive_variables()
def start_tracking(request: HttpRequest, user) -> DeviceSession:
    """Begin the row of a session that has just signed in (called from ``user_logged_in``).

    ``login()`` has already replaced the session key, except when the same user signs in
    again, where it is replaced here; the row of a signed-in key the browser came with, if
    any, is dropped: that sign-in is over.

    When the middleware handles the request, the row is only built here: it is admitted
    (``SESSIONS_MGMT_MAX_SESSIONS``) and written at the end of the request, in the
    transaction that saves the session (``_commit_new_sign_in``), so a sign-in commits no
    more often than Django's own, and one that fails leaves nothing behind. Otherwise
    (``login()`` outside the middleware, as the test client's) it is admitted and written
    now, in one transaction. Either way signals, the known device and the new-device mail
    follow the commit. Raises ``SessionLimitReached`` for a refused sign-in written now.
    """
    session = request.session
    flushed = session.session_key is None
    if flushed:  # login() flushed another user's session: make a key
        session.save()
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    tracked = flushed or codec.read(session) is not None  # the old key had a row
    kept = old_key == session.session_key if old_key else tracked and not flushed
    if kept:
        # Django's login() keeps the key when the same user signs in again in the same
        # browser (with its cookie, or without one, as the test client's force_login()):
        # a copied cookie would survive the sign-in, and even share its fresh "Confirm
        # it's you" window (ASVS 4.0.3 V3.2.1). Every sign-in gets a new key: the old
        # session is ended through the door, and its data moves to the new key.
        forget(request, session.session_key)
        session.cycle_key()
    elif old_key and tracked:
        forget(request, old_key)
    codec.clear(session)
    row = DeviceSession(user=user, session_key=session.session_key, **_device_fields(request))
    mark_authenticated(request)
    setattr(request, _SIGNED_IN_ATTR, True)
    if current_request() is request:
        setattr(request, _NEW_ROW_ATTR, row)
        return row
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        services.admit(user, old_key)
        after = _write_sign_in(request, row)
    _started(request, row)
    if after is not None:
        after()
    return row


def _write_sign_in(request: HttpRequest, row: DeviceSession) -> Work | None:
    """Write a new sign-in: its row, its history event, the known device, and its state in
    the session. Returns what to do once that has committed (``check_new_device``)."""
    row.save(force_insert=True)
    history.signed_in(row)
    after = check_new_device(request, row)
    _remember(request, _new_state(request, row))
    return after


def tracks(user, *, warn: bool = True) -> bool:
    """Whether the app tracks this account's sessions: users of ``AUTH_USER_MODEL`` (and
    its proxies), which its rows point to. A backend that signs in an account of another
    model (a partner, a kiosk) gets a plain Django sign-in, untracked and unlisted, and a
    warning in the log: it is a project's decision, not an error to answer with a 500."""
    if isinstance(user, get_user_model()):
        return True
    if warn:
        logger.warning(
            "A sign-in of a %s, not of AUTH_USER_MODEL (%s), is not tracked: its session is "
            "not listed and only Django's own sign-out ends it.",
            type(user)._meta.label,
            settings.AUTH_USER_MODEL,
        )
    return False


def _device_fields(request: HttpRequest) -> dict:
    device = describe(request.META.get("HTTP_USER_AGENT"))
    ip = client_ip(request)
    location = locate(ip)
    now = timezone.now()
    return {
        "user_agent": device.user_agent,
        "browser": device.browser,
        "os": device.os,
        "device_type": device.device_type,
        "device_name": device.name,
        "ip": ip,
        "location": location,
        "first_ip": ip,
        "first_location": location,
        "created_at": now,
        "last_active_at": now,
        "expires_at": request.session.get_expiry_date(),
    }


def sync(request: HttpRequest, response: HttpResponse | None = None) -> None:
    """Adopt, re-key or touch the row of the request's session, as needed.

    Ends the session when its row has gone: the row was revoked, and a request that was
    already in flight must not keep the session alive.
    """
    work = pending(request, response)
    if work is not None:
        work()


def pending(request: HttpRequest, response: HttpResponse | None = None) -> Work | None:
    """What ``sync`` must do for this request, as a function to call, or None in the
    steady state. Deciding reads nothing but the loaded session (no I/O), so an async
    caller only moves to a thread when there is work."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed:
        return None
    if response is not None and _steady(request, session):
        return None
    key = session.session_key
    if key is None or SESSION_KEY not in session:
        return _forget_if_flushed(request, session)
    new_row = getattr(request, _NEW_ROW_ATTR, None)
    if new_row is not None:
        if response is not None and response.status_code >= 500:
            # Django saves nothing and sends no cookie: the new key, never delivered, goes.
            delivered = key == request.COOKIES.get(app_settings.SESSION_COOKIE_NAME)
            return None if delivered else partial(end.end_keys, [key])
        return partial(_commit_new_sign_in, request, response, new_row)
    state = codec.read(session)
    failed = response is not None and response.status_code >= 500
    if failed:  # Django does not save the session of a failed response: neither do we
        if key != request.COOKIES.get(app_settings.SESSION_COOKIE_NAME):
            return partial(_drop_unsaved_key, request, state and state["id"], key)
        return None
    if state is None:
        return partial(_adopt, request)
    known_key = getattr(request, _TRACKED_KEY_ATTR, None) or request.COOKIES.get(
        app_settings.SESSION_COOKIE_NAME
    )
    if key == known_key and getattr(request, _SIGNED_IN_ATTR, False):
        return partial(_commit_sign_in, request, response, state)
    return _touch(request, state, moved_key=key != known_key)


def _steady(request: HttpRequest, session) -> bool:
    """The common case, decided from the state string without parsing it all: a tracked
    session on the key it is known by, touched within the interval, with the same kind of
    expiry, that neither the view nor the project saves and that records no idle clock.
    ``pending`` would find nothing to do for it; this finds that out in fewer steps, since
    it runs on every request (docs/PERFORMANCE.md, issue 14 §2)."""
    if session.modified or not app_settings.memo("quiet", _quiet):
        return False
    if not codec.quiet_and_fresh(session, app_settings.TOUCH_INTERVAL):
        return False
    key = session.session_key
    known_key = getattr(request, _TRACKED_KEY_ATTR, None) or request.COOKIES.get(
        app_settings.SESSION_COOKIE_NAME
    )
    return (
        key is not None
        and key == known_key
        and SESSION_KEY in session
        and not getattr(request, _SIGNED_IN_ATTR, False)
    )


def _quiet() -> bool:
    """Whether an ordinary request inside the touch interval records nothing: no idle
    timeout to keep exact, and the project does not save every request."""
    return app_settings.timeouts()[0] is None and not app_settings.SESSION_SAVE_EVERY_REQUEST


@sensitive_variables()
def _drop_unsaved_key(request: HttpRequest, row_id: int | None, key: str) -> None:
    """The view changed the session key (``cycle_key()``, ``login()``) and then failed.

    Django does not save a failed response's session nor send its cookie, so the browser
    keeps its old key. The new key, which no browser has, goes. The old one was deleted by
    the key change, and its row goes with it, so that no device is listed whose cookie
    does not work; unless the key change was rolled back with the view's transaction
    (``ATOMIC_REQUESTS`` on a database engine), which brought the old session back: then
    the browser is still signed in on it, and its row, which still names it, stays.
    """
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    restored = bool(old_key) and bool(store.alive_keys([old_key]))
    if row_id is not None and not restored:
        end.end_sessions(DeviceSession.objects.filter(pk=row_id), reason=end.REPLACED)
    end.end_keys([key])
    request.session.clear()
    request.session.modified = False


def _touch(request: HttpRequest, state: dict, *, moved_key: bool) -> Work | None:
    """Decide the touch (no I/O); return the work it needs, if any."""
    session = request.session
    now = time.time()
    sliding = session.modified or app_settings.SESSION_SAVE_EVERY_REQUEST
    if sliding:  # the project saves the session anyway: its expiry moves, by Django's rules
        expiry = session.get_expiry_date().timestamp()
    else:
        expiry = state.get("x") or session.get_expiry_date().timestamp()
    expiry_changed = session.get(_EXPIRY) != state.get("e")
    due = moved_key or expiry_changed or now - state["t"] >= app_settings.TOUCH_INTERVAL
    exact_idle = app_settings.timeouts()[0] is not None
    if not due:
        if sliding or exact_idle:  # free when the project saves anyway; see timeouts
            _remember(request, state, a=now, x=expiry)
            if not sliding:
                return partial(_save, request, sliding, expiry)
        return None
    return partial(_write_touch, request, state, now, expiry, sliding, moved_key)


def _write_touch(
    request: HttpRequest, state: dict, now: float, expiry: float, sliding: bool, moved_key: bool
) -> None:
    """Record the activity in the session itself (time, IP, expiry), not in its row: lists
    read it from the store (``services.list_devices``), so a touch costs the database
    nothing beyond the session save and one read of the row by its primary key: a session
    whose row has gone (revoked while this request ran, or deleted behind the app's back)
    ends, so that no working session goes unlisted for longer than the touch interval. The
    row is written only when the key moved (a view called ``cycle_key()``), so that it
    still names the session.

    The row is read *after* the app's own save: a cache engine saves by checking that the
    entry exists and then writing it, and a revoke landing between the two would be
    undone by the write. Read after, the row is either gone (the revoke committed first:
    the session is ended again here) or the revoke's own deletes, after its commit, come
    after this write. A save left to SessionMiddleware (the project saves the session
    anyway) cannot be checked after it: such a write-back lasts until the session's next
    touch, at most ``SESSIONS_MGMT_TOUCH_INTERVAL``, and only for a request that was in
    flight when the session was revoked."""
    session = request.session
    row = DeviceSession.objects.filter(pk=state["id"])
    if moved_key and not row.update(session_key=session.session_key):
        session.flush()
        return
    ip, agent = client_ip(request), _agent(request)
    _remember(request, state, t=now, a=now, ip=ip, ua=agent, x=expiry, e=session.get(_EXPIRY))
    _save(request, sliding, expiry)
    if SESSION_KEY not in session:  # ended by another request meanwhile
        return
    if not moved_key and not row.exists():  # revoked meanwhile, or deleted behind our back
        session.flush()
        return
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


def _save(request: HttpRequest, sliding: bool, expiry: float) -> None:
    """After a change of the app's own state: leave the save to SessionMiddleware when the
    project saves the session anyway; else save it now, keeping its expiry, and tell
    SessionMiddleware there is nothing to save (so the cookie is not sent again either)."""
    if not sliding:
        _save_now(request.session, datetime.fromtimestamp(expiry, tz=UTC))


def _save_now(session, expiry: datetime | None) -> bool:
    """Save the session now, keeping ``expiry`` (or as Django would, when unknown), and
    leave SessionMiddleware nothing to save. False if another request ended the session
    meanwhile: it then stays ended."""
    try:
        if expiry is not None:
            store.save_keeping_expiry(session, expiry)
        else:
            session.save()
    except UpdateError:
        session.clear()
        return False
    finally:
        session.modified = False
    return True


@sensitive_variables()
def save_changes(request: HttpRequest) -> bool:
    """Save the app's own changes to the session now (keeping its expiry); False if the
    session was ended meanwhile (another device signed it out during this request).

    For callers that must answer that case themselves, such as the JSON API: left to
    SessionMiddleware, it becomes Django's ``SessionInterrupted``, an HTML 400.
    """
    session = request.session
    if not session.modified or settings.SESSION_SAVE_EVERY_REQUEST:
        return True
    if session.session_key != request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return True  # a new key: SessionMiddleware must save it and send the new cookie
    return save_session(session)


@sensitive_variables()
def save_session(session) -> bool:
    """Save a tracked session now, keeping the expiry its state records; False if it was
    ended meanwhile (it then stays ended)."""
    state = codec.read(session) or {}
    return _save_now(session, codec.expires_at(state) if "x" in state else None)


def signed_in_now(request: HttpRequest) -> bool:
    """Whether the request's session signed in during this request."""
    return getattr(request, _SIGNED_IN_ATTR, False)


@sensitive_variables()
def _commit_new_sign_in(
    request: HttpRequest, response: HttpResponse | None, row: DeviceSession
) -> None:
    """Write a new sign-in's row, its history event and its state in the transaction that
    saves the session: a sign-in commits once, as in plain Django, and on database engines
    the four extra statements are the two INSERTs and the savepoint Django's session save
    takes inside our transaction (docs/PERFORMANCE.md). A kind of device seen within a day
    costs no query (``check_new_device``); a new one's alert is sent after the commit.

    No row lock is needed: until this commits, no revoke can see the row, and the session
    is saved signed in only together with it; a revoke running meanwhile leaves it alone
    (it is a sign-in after the revoke), so it survives, listed and working.

    The login view may have called ``set_expiry()`` after ``login()`` ("remember me"): the
    row and the state take the expiry the session is saved with now. When SessionMiddleware
    saves the session itself (``SESSION_SAVE_EVERY_REQUEST``, or a view that calls
    ``sync()`` before the response exists), only the row and its state are written here.
    """
    session = request.session
    delattr(request, _NEW_ROW_ATTR)
    row.session_key, row.expires_at = session.session_key, session.get_expiry_date()
    saves_now = response is not None and not settings.SESSION_SAVE_EVERY_REQUEST
    # A database engine saves inside the transaction, so row and session commit together;
    # any other saves after the commit, so that a failed commit leaves no signed-in
    # session without a row (a revoke in between makes that save fail: not signed in).
    inside = store.saves_in_database(router.db_for_write(DeviceSession))
    try:
        with transaction.atomic(using=router.db_for_write(DeviceSession)):
            services.admit(row.user, request.COOKIES.get(settings.SESSION_COOKIE_NAME))
            after = _write_sign_in(request, row)
            if saves_now and inside:
                session.save()
    except (UpdateError, services.SessionLimitReached):
        # The new session was deleted meanwhile, or a sign-in of the same account that
        # committed first took the last place ("deny_new"): nothing was committed, and
        # the browser is not signed in.
        session.flush()
        return
    if saves_now and not inside and not _save_now(session, None):
        # Ended between the commit and the save (a revoke, an eviction): not signed in.
        # The sign-in did happen: its event stays, and a new device is still announced.
        end.end_sessions(
            DeviceSession.objects.filter(pk=row.pk), reason=end.EXPIRED, detail=end.GONE
        )
        if after is not None:
            after()
        return
    _started(request, row)
    if after is not None:  # committed: remember the device, send the alert
        after()
    if saves_now:
        _send_cookie(request, response)


@sensitive_variables()
def _commit_sign_in(request: HttpRequest, response: HttpResponse | None, state: dict) -> None:
    """Save a new sign-in's session while its row is locked.

    A "sign out of all other devices" running at the same moment may already have picked
    this row. Locking the row (an UPDATE) and saving the session in the same transaction
    means the revoke either ended it before (the row is gone: the session is flushed and
    the browser simply is not signed in) or waits until the session is saved (and then
    ends it cleanly). Saving here, not in SessionMiddleware after us, leaves no moment in
    which a revoke could delete the session that is about to be saved, which Django would
    answer with SessionInterrupted (400). So we also set the cookie, as SessionMiddleware
    would have.

    The login view may have called ``set_expiry()`` after ``login()`` ("remember me"): the
    row and the state take the expiry the session is saved with now.
    """
    session = request.session
    expiry = session.get_expiry_date()
    _remember(request, state, x=expiry.timestamp(), e=session.get(_EXPIRY))
    fields = {"session_key": session.session_key, "expires_at": expiry}
    row = DeviceSession.objects.filter(pk=state["id"])
    if response is None or settings.SESSION_SAVE_EVERY_REQUEST:
        # Only the row check: SessionMiddleware saves the session as usual.
        if not row.update(**fields):
            session.flush()
        return
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        alive = row.update(**fields)
        if alive:
            session.save()
    if not alive:
        session.flush()
        return
    _send_cookie(request, response)


def _send_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """After saving the session ourselves: set its cookie as SessionMiddleware would have,
    and leave SessionMiddleware nothing to do but ``Vary``."""
    session = request.session
    session.modified = False
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


@sensitive_variables()
def forget(request: HttpRequest, session_key: str, *, signed_out: bool = False) -> None:
    """End, through the door, a session that Django itself is ending (``logout()``,
    ``flush()``, a new sign-in in the same browser); ``signed_out``: the person signed out,
    which the history records. Row and store key go in one transaction: if the store
    fails, the row stays and the session, still working, stays listed (``logout()`` then
    fails too, as it would without the app)."""
    services.end_sessions(
        DeviceSession.objects.filter(session_key=session_key),
        reason=services.SIGNED_OUT if signed_out else services.REPLACED,
    )
    setattr(request, _FORGOTTEN_KEY_ATTR, session_key)


def _forget_if_flushed(request: HttpRequest, session) -> Work | None:
    """A signed-in session flushed during the request (e.g. by Django's password-hash check)
    loses its row too; a stale or absent cookie, which is not flushed, costs nothing."""
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if (
        session.modified
        and session.session_key is None
        and old_key
        and old_key != getattr(request, _FORGOTTEN_KEY_ATTR, None)
    ):
        return partial(forget, request, old_key)
    return None


def _adopt(request: HttpRequest) -> None:
    """Give a row to a session that signed in before the app was installed. Its expiry
    restarts once, here (the store's own expiry is not readable on every engine)."""
    user = request.user
    # Not for a session naming a user who no longer exists, nor an untracked account.
    if not user.is_authenticated or not tracks(user, warn=False):
        return
    if unseen.possible() and unseen.refused(request.session):  # a view that read no user
        request.session.flush()
        return
    row, created = DeviceSession.objects.get_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, **_device_fields(request), "sign_in_known": False},
    )
    if not created:  # its expiry restarts, as the session's does
        row.expires_at = request.session.get_expiry_date()
    _remember(request, _new_state(request, row))
    if created:
        _started(request, row)


def current_request() -> HttpRequest | None:
    """The request being handled in this context, for receivers that need its session."""
    return _current_request.get()


#: Make a request the current one: ``token = handling(request)``, then ``done(token)``.
#: The context variable's own methods, bound: no Python frame on every request.
handling = _current_request.set
done = _current_request.reset
