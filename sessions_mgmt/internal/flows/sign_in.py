"""Sign-in, in one order: admit (``SESSIONS_MGMT_MAX_SESSIONS``) → write the row, its
history event and the session's state → commit, with the session on database engines →
signals, the known device and the new-device mail → the cookie. Also adoption, the
sign-in of a session from before the app, found on its first request.

Django's ``login()`` starts it (``user_logged_in``: ``begin``); when the middleware
handles the request, the writes wait for the end of the request (``commit``), so that a
sign-in commits once, as in plain Django, and one that fails leaves nothing behind.
"""

import logging
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import UpdateError
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.debug import sensitive_variables

from ... import history, services
from ...alerts import check_new_device, send_limit_alert
from ...devices import describe
from ...location import locate
from ...models import DeviceSession
from ...network import client_ip
from ...reauth import mark_authenticated
from ...signals import session_started
from .. import state as codec
from .. import store, unseen
from . import end
from .context import NEW_ROW_ATTR, SIGNED_IN_ATTR, current_request, new_state, remember
from .sign_out import forget

logger = logging.getLogger(__name__)


def _started(request: HttpRequest, row: DeviceSession) -> None:
    if session_started.has_listeners(DeviceSession):
        session_started.send(sender=DeviceSession, device_session=row, request=request)


@sensitive_variables()
def begin(request: HttpRequest, user) -> DeviceSession:
    """Begin the row of a session that has just signed in (called from ``user_logged_in``).

    ``login()`` has already replaced the session key, except when the same user signs in
    again, where it is replaced here; the row of a signed-in key the browser came with, if
    any, is dropped: that sign-in is over.

    When the middleware handles the request, the row is only built here: it is admitted
    (``SESSIONS_MGMT_MAX_SESSIONS``) and written at the end of the request, in the
    transaction that saves the session (``commit``), so a sign-in commits no
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
    setattr(request, SIGNED_IN_ATTR, True)
    if current_request() is request:
        setattr(request, NEW_ROW_ATTR, row)
        return row
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        services.admit(user, old_key)
        after = _write_sign_in(request, row)
    _started(request, row)
    if after is not None:
        after()
    return row


def refused(request: HttpRequest, user, limit: int) -> None:
    """A sign-in with the right password that the device limit refused ("deny_new"): the
    owner should know. Recorded in the history now, and the owner told by email once the
    request's transaction (if any) has committed."""
    device = DeviceSession(user=user, session_key="", **_device_fields(request))
    history.sign_in_refused(device)
    transaction.on_commit(
        partial(send_limit_alert, request, device, limit),
        using=router.db_for_write(DeviceSession),
    )


def _write_sign_in(request: HttpRequest, row: DeviceSession) -> Callable[[], None] | None:
    """Write a new sign-in: its row, its history event, the known device, and its state in
    the session. Returns what to do once that has committed (``check_new_device``)."""
    row.save(force_insert=True)
    history.signed_in(row)
    after = check_new_device(request, row)
    remember(request, new_state(request, row))
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


@sensitive_variables()
def commit(request: HttpRequest, response: HttpResponse | None, row: DeviceSession) -> None:
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
    delattr(request, NEW_ROW_ATTR)
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
        end.flush(session)
        return
    if saves_now and not inside and not store.save_now(session, None):
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
        send_cookie(request, response)


@sensitive_variables()
def commit_again(request: HttpRequest, response: HttpResponse | None, state: dict) -> None:
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
    remember(request, state, x=expiry.timestamp(), e=session.get(codec.EXPIRY_KEY))
    fields = {"session_key": session.session_key, "expires_at": expiry}
    row = DeviceSession.objects.filter(pk=state["id"])
    if response is None or settings.SESSION_SAVE_EVERY_REQUEST:
        # Only the row check: SessionMiddleware saves the session as usual.
        if not row.update(**fields):
            end.flush(session)
        return
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        alive = row.update(**fields)
        if alive:
            session.save()
    if not alive:
        end.flush(session)
        return
    send_cookie(request, response)


def send_cookie(request: HttpRequest, response: HttpResponse) -> None:
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


def adopt(request: HttpRequest) -> None:
    """Give a row to a session that signed in before the app was installed. Its expiry
    restarts once, here (the store's own expiry is not readable on every engine)."""
    user = request.user
    # Not for a session naming a user who no longer exists, nor an untracked account.
    if not user.is_authenticated or not tracks(user, warn=False):
        return
    if unseen.possible() and unseen.refused(request.session):  # a view that read no user
        end.flush(request.session)
        return
    row, created = DeviceSession.objects.get_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, **_device_fields(request), "sign_in_known": False},
    )
    if not created:  # its expiry restarts, as the session's does
        row.expires_at = request.session.get_expiry_date()
    remember(request, new_state(request, row))
    if created:
        _started(request, row)
