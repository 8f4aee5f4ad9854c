"""A request, in one order: before the view, the user is checked against the timeouts and
the cutoffs (``timeouts.guard_user``); after it, a timed-out session ends, or else the
session's row is kept in step (a sign-in committed, a session from before the app
adopted, a key change followed, a touch recorded), and a key the view changed and then
failed is undone.

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

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.views.decorators.debug import sensitive_variables

from ... import timeouts
from ...conf import app_settings
from ...models import DeviceSession
from ...network import client_ip
from ...signals import session_client_changed
from .. import state as codec
from .. import store
from . import end, sign_in
from .context import (
    FORGOTTEN_KEY_ATTR,
    NEW_ROW_ATTR,
    SIGNED_IN_ATTR,
    TRACKED_KEY_ATTR,
    agent,
    known_key,
    remember,
)
from .sign_out import forget

#: Work left to do for a request (I/O), from ``pending``.
Work = Callable[[], None]


def after_view(request: HttpRequest, response: HttpResponse, checked: bool) -> Work | None:
    """What is left to do after the view, in this order: end the session if it has timed
    out (when timeouts are ``checked``: the request must not count as activity), or else
    keep its row in step (``pending``). None in the steady state."""
    return (checked and timeouts.pending_end(request)) or pending(request, response)


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
    new_row = getattr(request, NEW_ROW_ATTR, None)
    if new_row is not None:
        if response is not None and response.status_code >= 500:
            # Django saves nothing and sends no cookie: the new key, never delivered, goes.
            delivered = key == request.COOKIES.get(app_settings.SESSION_COOKIE_NAME)
            return None if delivered else partial(end.end_keys, [key])
        return partial(sign_in.commit, request, response, new_row)
    state = codec.read(session)
    failed = response is not None and response.status_code >= 500
    if failed:  # Django does not save the session of a failed response: neither do we
        if key != request.COOKIES.get(app_settings.SESSION_COOKIE_NAME):
            return partial(_drop_unsaved_key, request, state and state["id"], key)
        return None
    if state is None:
        return partial(sign_in.adopt, request)
    known = known_key(request)
    if key == known and getattr(request, SIGNED_IN_ATTR, False):
        return partial(sign_in.commit_again, request, response, state)
    return _touch(request, state, moved_key=key != known)


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
    known = getattr(request, TRACKED_KEY_ATTR, None) or request.COOKIES.get(
        app_settings.SESSION_COOKIE_NAME
    )  # known_key(), inline: this runs on every request
    return (
        key is not None
        and key == known
        and SESSION_KEY in session
        and not getattr(request, SIGNED_IN_ATTR, False)
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
    expiry_changed = session.get(codec.EXPIRY_KEY) != state.get("e")
    due = moved_key or expiry_changed or now - state["t"] >= app_settings.TOUCH_INTERVAL
    exact_idle = app_settings.timeouts()[0] is not None
    if not due:
        if sliding or exact_idle:  # free when the project saves anyway; see timeouts
            remember(request, state, a=now, x=expiry)
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
        end.flush(session)
        return
    ip, ua = client_ip(request), agent(request)
    remember(request, state, t=now, a=now, ip=ip, ua=ua, x=expiry, e=session.get(codec.EXPIRY_KEY))
    _save(request, sliding, expiry)
    if SESSION_KEY not in session:  # ended by another request meanwhile
        return
    if not moved_key and not row.exists():  # revoked meanwhile, or deleted behind our back
        end.flush(session)
        return
    changed_ip, changed_agent = ip != state.get("ip", ip), ua != state.get("ua", ua)
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
        store.save_now(request.session, datetime.fromtimestamp(expiry, tz=UTC))


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
    return store.save_now(session, codec.expires_at(state) if "x" in state else None)


def _forget_if_flushed(request: HttpRequest, session) -> Work | None:
    """A signed-in session flushed during the request (e.g. by Django's password-hash check)
    loses its row too; a stale or absent cookie, which is not flushed, costs nothing."""
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if (
        session.modified
        and session.session_key is None
        and old_key
        and old_key != getattr(request, FORGOTTEN_KEY_ATTR, None)
    ):
        return partial(forget, request, old_key)
    return None
