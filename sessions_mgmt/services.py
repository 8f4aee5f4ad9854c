"""The app's public API: which sessions to end and why (revoke one, the others, a user's,
the session limit, pruning), through the one door that ends them (``flows/end.py``), and
the reads (``queries.py``), re-exported here.

Ending a session means deleting its key from the session store *and* its ``DeviceSession``
row inside one transaction: if the store cannot be reached the transaction rolls the row
back, it stays visible and the caller gets :class:`SessionStoreError`, so a live session is
never hidden.
Many sessions are ended in batches of ``SESSIONS_MGMT_REVOKE_BATCH_SIZE``: one bulk delete
per batch on the database and/or one ``delete_many`` on the cache, never a round trip each.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.contrib.auth import SESSION_KEY, get_user_model
from django.db import router, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import alerts, history
from .conf import app_settings
from .internal import store, unseen
from .internal.flows.end import (  # the door and the reasons, public through services as before
    _ROW_FIELDS,
    ADMIN,
    DELETED,
    EXPIRED,
    EXPIRY,
    GONE,
    LIMIT,
    NOT_ME,
    OTHER_DEVICES,
    USER,
    Row,
    _for_each_batch,
    end_refused_sessions,
    end_rows,
    end_sessions,
)
from .internal.flows.end import ABSOLUTE_TIMEOUT as ABSOLUTE_TIMEOUT
from .internal.flows.end import COMMAND as COMMAND
from .internal.flows.end import DEACTIVATED as DEACTIVATED
from .internal.flows.end import IDLE_TIMEOUT as IDLE_TIMEOUT
from .internal.flows.end import PASSWORD_CHANGE as PASSWORD_CHANGE
from .internal.flows.end import PASSWORD_REHASHED as PASSWORD_REHASHED
from .internal.flows.end import REPLACED as REPLACED
from .internal.flows.end import SERVER_BATCH_SIZE as SERVER_BATCH_SIZE
from .internal.flows.end import SIGNED_OUT as SIGNED_OUT
from .internal.flows.end import USER_DELETED as USER_DELETED
from .internal.flows.end import end_all_sessions as end_all_sessions

# The reads live in internal/queries.py; public through services, as before.
from .internal.queries import LIVE_FIELDS as LIVE_FIELDS
from .internal.queries import _apply_liveness
from .internal.queries import events_of as events_of
from .internal.queries import get_session as get_session
from .internal.queries import list_devices as list_devices
from .internal.queries import live_session as live_session
from .internal.queries import primary as primary
from .internal.queries import session_events as session_events
from .internal.queries import user_sessions as user_sessions
from .internal.queries import with_liveness as with_liveness
from .internal.store import SessionStoreError as SessionStoreError  # raised through services
from .models import DeviceSession, DeviceSessionQuerySet

logger = logging.getLogger(__name__)


class RevocationError(Exception):
    """A session could not be ended; nothing about it changed."""


class SessionLimitReached(Exception):
    """A sign-in refused by ``SESSIONS_MGMT_LIMIT_POLICY = "deny_new"``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(limit)


class CurrentSessionError(RevocationError):
    """The session asked to be ended is the caller's own; signing out is logout's job."""


@sensitive_variables()
def refresh_rows(queryset: DeviceSessionQuerySet, *, batch_size: int | None = None) -> int:
    """Bring the rows' copies of their sessions' live values up to date, in batches: one
    read of the store and at most one bulk update each. Return how many rows changed.

    The copies serve what reads rows rather than sessions (the admin's sorting and
    filters, a project's own queries); ``revoke_sessions --expired`` runs this, and
    ``--inactive-for`` runs it on its candidates before deciding.
    """
    rows = queryset.using(primary()).order_by("pk")
    changed = 0

    @sensitive_variables()
    def refresh(page) -> list[DeviceSession]:
        nonlocal changed
        batch = list(page)
        live = store.session_data([row.session_key for row in batch])
        stale = [
            row
            for row in batch
            if row.session_key in live and _apply_liveness(row, live[row.session_key])
        ]
        if stale:
            DeviceSession.objects.using(primary()).bulk_update(stale, LIVE_FIELDS)
            changed += len(stale)
        return batch

    _for_each_batch(rows, batch_size or app_settings.REVOKE_BATCH_SIZE, refresh)
    return changed


@sensitive_variables()
def revoke(user, public_id: str | uuid.UUID, *, current_session_key: str | None) -> DeviceSession:
    """End one of the user's sessions, but never the one making the request. A session
    that has already ended (its row waits for pruning) is unknown, as it is to the list and
    the details page: ``DeviceSession.DoesNotExist``, and nothing is recorded."""
    row = get_session(user, public_id)
    if current_session_key is not None and row.session_key == current_session_key:
        raise CurrentSessionError
    if not store.working([(row.session_key, user)]):
        raise DeviceSession.DoesNotExist
    by = _current_row(user, current_session_key)
    end_sessions(DeviceSession.objects.filter(pk=row.pk), reason=USER, by=by)
    return row


@sensitive_variables()
def _current_row(user, session_key: str | None) -> DeviceSession | None:
    """The row of the session doing the revoking, for the history's "from …"."""
    if session_key is None:
        return None
    return user_sessions(user).filter(session_key=session_key).first()


@sensitive_variables()
def revoke_others(user, keep_session_key: str | None, *, reason: str = OTHER_DEVICES) -> int:
    """End every session of the user except ``keep_session_key``, whatever the rows' stored
    expiry says; return how many."""
    queryset = user_sessions(user).exclude(session_key=keep_session_key)
    unseen.cut_off([user])  # first: should the ending fail, they stay refused (safe side)
    return end_sessions(queryset, reason=reason, by=_current_row(user, keep_session_key))


def revoke_all(user, *, reason: str = DELETED) -> int:
    """End every session of the user, expired rows included; return how many rows went."""
    return end_sessions(user_sessions(user), reason=reason)


@sensitive_variables()
def end_after_account_change(user, keep_session_key: str | None, *, reason: str) -> int:
    """End the user's sessions (but ``keep_session_key``) after a password change, a hash
    upgrade or a deactivation, which has already been saved; with the session store down,
    the rows still go (``end_refused_sessions``: Django refuses those cookies now)."""
    unseen.cut_off([user])
    return end_refused_sessions(
        user_sessions(user).exclude(session_key=keep_session_key), reason=reason
    )


END_OLDEST, DENY_NEW = "end_oldest", "deny_new"
#: How long a new row's session may still be empty in the store (a sign-in on a cache engine
#: saves the session just after its row commits) and count against the limit all the same.
SIGNING_IN = timedelta(seconds=60)


def session_limit(user) -> int | None:
    """How many sessions ``user`` may have at once (None: no limit)."""
    limit = app_settings.MAX_SESSIONS
    if limit is None:
        return None
    if app_settings.LIMIT_EXEMPT_STAFF and (user.is_staff or user.is_superuser):
        return None
    return limit


@sensitive_variables()
def admit(user, replacing_key: str | None, *, lock: bool = True) -> None:
    """Hold a sign-in of ``user`` to ``SESSIONS_MGMT_MAX_SESSIONS``.

    With ``lock`` (the sign-in's commit, see ``flows.sign_in``): call it inside the transaction
    that then writes the new row and saves the session. It locks the user's row until that
    commits, so concurrent sign-ins of one account are counted one after another
    (PostgreSQL, MariaDB; SQLite has one writer anyway). At the limit, ``"end_oldest"``
    ends the least recently active working sessions (one, unless the limit was lowered
    meanwhile) with reason ``LIMIT``, through the door, in that same transaction;
    ``"deny_new"`` raises ``SessionLimitReached`` and changes nothing.

    Without ``lock`` it only reads: ``"deny_new"``'s early word during ``login()``, so that
    the login view can still say why; the commit then decides for good.
    ``replacing_key``: the session this sign-in replaces in the same browser, which does
    not count.
    """
    limit = session_limit(user)
    if limit is None or (not lock and app_settings.LIMIT_POLICY != DENY_NEW):
        return
    if lock:
        using = router.db_for_write(DeviceSession)
        type(user)._default_manager.using(using).select_for_update().filter(pk=user.pk).exists()
    rows = list(user_sessions(user).exclude(session_key=replacing_key or ""))
    data = store.session_data([row.session_key for row in rows])
    signing_in = timezone.now() - SIGNING_IN
    live = {
        row.session_key: data[row.session_key]
        for row in rows
        if row.session_key in data
        and (
            store.works(data[row.session_key], user)
            # Signing in right now on a cache engine: the row has committed and the session
            # is saved just after, still empty in the store until then. It counts.
            or (SESSION_KEY not in data[row.session_key] and row.created_at >= signing_in)
        )
    }
    working = [row for row in rows if row.session_key in live]
    for row in working:
        _apply_liveness(row, live[row.session_key])
    excess = len(working) - limit + 1
    if excess <= 0:
        return
    if app_settings.LIMIT_POLICY == DENY_NEW:
        raise SessionLimitReached(limit)
    oldest = sorted(working, key=lambda row: row.last_active_at)[:excess]
    end_sessions(DeviceSession.objects.filter(pk__in=[row.pk for row in oldest]), reason=LIMIT)


@sensitive_variables()
def password_changed(user, session_key: str | None) -> None:
    """Record a password change in the history, with the device it was made from."""
    history.password_changed(user, by=_current_row(user, session_key))


def scrub_history() -> int:
    """Blank IP, location and User-Agent of events older than ``SESSIONS_MGMT_HISTORY_DAYS``."""
    return history.scrub()


def revoke_users(users, *, reason: str = ADMIN, actor=None) -> int:
    """End every session of these users (a queryset or list of users or ids), those the app
    has not seen yet included; ``actor``, the staff member who did it, goes into the
    history."""
    users = list(users)
    unseen.cut_off(users)  # first: should the ending fail, they stay refused (safe side)
    return end_sessions(DeviceSession.objects.filter(user__in=users), reason=reason, actor=actor)


def revoke_unseen(users=None) -> None:
    """End the sessions the app has not seen yet (signed in before it was installed) of
    these users, or of everyone: from their next request on, they are refused. For callers
    that end tracked sessions their own way (``revoke_sessions``)."""
    unseen.cut_off(users)


def not_me(row: DeviceSession) -> int:
    """The "This wasn't me" link: end that one session, and forget its kind of device, so
    that the intruder's next sign-in from it sends an alert again. (If the owner uses the
    same kind of device, their own next sign-in from it alerts once too: the safe side.)"""
    with transaction.atomic(using=router.db_for_write(DeviceSession)):
        history.not_me(row)
        ended = end_sessions(DeviceSession.objects.filter(pk=row.pk), reason=NOT_ME)
        alerts.forget_device(row)
    return ended


@sensitive_variables()
def prune_dead(
    queryset: DeviceSessionQuerySet,
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
) -> int:
    """End the rows of ``queryset`` whose session has expired or left the store; live ones
    are left alone. Return how many were (or, with ``dry_run``, would be) ended.

    Announced as ``EXPIRED``, with the detail ``EXPIRY`` (the row's copy of the expiry has
    passed) or ``GONE`` (the store no longer has a session that should still be alive)."""
    rows = queryset.using(primary()).order_by("pk").values_list(*_ROW_FIELDS)
    found = 0

    @sensitive_variables()
    def prune(page) -> list[Row]:
        nonlocal found
        batch = [Row(*row) for row in page]
        dead = dead_rows(batch)
        found += len(dead)
        if not dry_run:
            now = timezone.now()
            expired = [row for row in dead if row.expires_at and row.expires_at <= now]
            gone = [row for row in dead if not (row.expires_at and row.expires_at <= now)]
            end_rows(expired, reason=EXPIRED, detail=EXPIRY)
            end_rows(gone, reason=EXPIRED, detail=GONE)
        return batch

    _for_each_batch(rows, batch_size or app_settings.REVOKE_BATCH_SIZE, prune)
    return found


@sensitive_variables()
def dead_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows whose session has expired or is no longer in the session store, as the
    store says (a row's ``expires_at`` is a copy, and may be out of date), or whose session
    Django refuses (``store.works``: a changed password, a deactivated user). A session
    present but holding no user (cleared, or being signed in on a cache engine right now)
    is left until it expires."""
    data = store.session_data([row.session_key for row in rows])
    signed_in = [row for row in rows if SESSION_KEY in data.get(row.session_key, {})]
    users = get_user_model()._default_manager.in_bulk({row.user_id for row in signed_in})
    refused = {
        row.session_key
        for row in signed_in
        if not store.works(data[row.session_key], users.get(row.user_id))
    }
    return [row for row in rows if row.session_key not in data or row.session_key in refused]


@sensitive_variables()
def alive_store_keys(session_keys: Sequence[str]) -> set[str]:
    """Which of these keys still hold an unexpired session in the configured store."""
    return store.alive_keys(session_keys)
