"""The only code that ends sessions (the door), and the app's public API.

Ending a session means deleting its key from the session store *and* its ``DeviceSession``
row inside one transaction: if the store cannot be reached the transaction rolls the row
back, it stays visible and the caller gets :class:`SessionStoreError`, so a live session is
never hidden.
Many sessions are ended in batches of ``SESSIONS_MGMT_REVOKE_BATCH_SIZE``: one bulk delete
per batch on the database and/or one ``delete_many`` on the cache, never a round trip each.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import SESSION_KEY, get_user_model
from django.db import connections, router, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import alerts, history, store, unseen
from .conf import app_settings
from .models import DeviceSession, DeviceSessionQuerySet

# The reads live in queries.py; public through services, as before.
from .queries import LIVE_FIELDS as LIVE_FIELDS
from .queries import _apply_liveness
from .queries import events_of as events_of
from .queries import get_session as get_session
from .queries import list_devices as list_devices
from .queries import live_session as live_session
from .queries import primary as primary
from .queries import session_events as session_events
from .queries import user_sessions as user_sessions
from .queries import with_liveness as with_liveness
from .signals import session_revoked
from .store import SessionStoreError as SessionStoreError  # raised through services

logger = logging.getLogger(__name__)

# Why a session was ended: the ``reason`` of the ``session_revoked`` signal and the logs.
USER = "user"  # its owner signed it out from another device (page or API)
OTHER_DEVICES = "other_devices"  # its owner chose "sign out of all other devices"
ADMIN = "admin"  # staff, in the Django admin
COMMAND = "command"  # manage.py revoke_sessions
PASSWORD_CHANGE = "password_change"  # the user's password changed
PASSWORD_REHASHED = "password_rehashed"  # Django re-encoded the same password (a new hasher)
DEACTIVATED = "deactivated"  # the user was saved with is_active=False
USER_DELETED = "user_deleted"  # the user was deleted
EXPIRED = "expired"  # it reached its expiry or a timeout: see ``detail``
NOT_ME = "not_me"  # the "This wasn't me" link of a new-device alert
LIMIT = "limit"  # a new sign-in went over SESSIONS_MGMT_MAX_SESSIONS ("end_oldest")
DELETED = "deleted"  # its row was deleted through the ORM
SIGNED_OUT = "signed_out"  # its owner signed out in it (Django's logout())
REPLACED = "replaced"  # Django ended it itself: a new sign-in in the same browser, a flush()

# What ended an ``EXPIRED`` session: the ``detail`` of ``session_revoked``.
IDLE_TIMEOUT = "idle_timeout"  # SESSIONS_MGMT_IDLE_TIMEOUT without activity
ABSOLUTE_TIMEOUT = "absolute_timeout"  # SESSIONS_MGMT_ABSOLUTE_TIMEOUT after signing in
EXPIRY = "expiry"  # the session's own expiry (its cookie age or set_expiry()) passed
GONE = "gone"  # found missing from the session store (evicted, or the store was cleared)


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
    upgrade or a deactivation, which has already been saved.

    If the session store cannot be reached, the rows go anyway and the failure is logged,
    not raised: the change is saved, and Django itself refuses those cookies from now on
    (the session is tied to the password hash; ``ModelBackend`` refuses inactive users),
    so they are not working sessions to keep listed. Their store entries expire as usual.
    Only a project whose backend lets inactive users in (``AllowAllUsersModelBackend``)
    should retry ``revoke_sessions --user`` once the store is back.
    """
    queryset = user_sessions(user).exclude(session_key=keep_session_key)
    unseen.cut_off([user])
    try:
        return end_sessions(queryset, reason=reason)
    except SessionStoreError as exc:
        logger.error(
            "The session store failed while ending the sessions of user %s (%s): %r. Their "
            "rows were removed; Django refuses those cookies after this change.",
            user.pk,
            reason,
            exc,
        )
        count, _ = queryset.delete_rows()
        return count


END_OLDEST, DENY_NEW = "end_oldest", "deny_new"


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

    With ``lock`` (the sign-in's commit, see ``tracking``): call it inside the transaction
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
    live = store.working([(row.session_key, user) for row in rows])
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


class Row(NamedTuple):
    pk: int
    session_key: str
    user_id: Any
    public_id: uuid.UUID
    expires_at: datetime | None = None
    # The device, for the history.
    browser: str = ""
    os: str = ""
    device_type: str = ""
    ip: str | None = None
    location: str = ""

    def __repr__(self) -> str:
        """Without the key: rows are passed to receivers and sit in the frames an error
        report shows (Django's signal dispatch, a project's receiver)."""
        return f"Row(pk={self.pk!r}, public_id={self.public_id!r}, user_id={self.user_id!r})"


_ROW_FIELDS = Row._fields


@sensitive_variables()
def _for_each_batch(rows, size: int, handle: Callable[[Any], list[Row]]) -> int:
    """Walk ``rows`` (a queryset ordered by pk) one batch at a time; return how many.

    ``handle`` evaluates and deals with one page (a sliced queryset) and returns its rows.
    Pages follow by key (``pk > last``), so memory stays flat and deleting the rows of a
    batch does not shift the next one.
    """
    seen, last_pk = 0, None
    while True:
        batch = handle((rows if last_pk is None else rows.filter(pk__gt=last_pk))[:size])
        seen += len(batch)
        if len(batch) < size:
            return seen
        last_pk = batch[-1].pk


@sensitive_variables()
def _delete(rows: Sequence[Row], *, outer: bool) -> None:
    """Delete the rows and their store keys. Rows first: if the store then fails, the
    enclosing transaction brings them back. ``outer``: the caller's own transaction
    encloses this one (``ATOMIC_REQUESTS``, a sign-in's commit), so what cannot roll back
    with it (cache entries, files) is ended once it commits, never before."""
    store.delete_where_in(DeviceSession, "id", [row.pk for row in rows])
    store.delete_keys([row.session_key for row in rows], deferred=outer)


def _after_commit(rows: Sequence[Row], reason: str, detail: str | None, *, outer: bool) -> None:
    """What follows an ending's commit: the store's cache entries go (again), then
    ``session_revoked``. At once after the door's own transaction, or when the caller's
    commits (``outer``): nothing of an ending that rolled back. A receiver that raises is
    logged, not allowed to stop the batches after it (they are ended all the same)."""

    def run() -> None:
        store.end_after_commit([row.session_key for row in rows])
        try:
            _announce(rows, reason, detail)
        except Exception:
            logger.exception("A session_revoked receiver failed (reason %s)", reason)

    if outer:
        transaction.on_commit(run, using=primary())
    else:
        run()


def _announce(rows: Sequence[Row], reason: str, detail: str | None = None) -> None:
    """Log the ended sessions by public id (never by key) and send ``session_revoked``."""
    logger.info(
        "Ended %d session(s), reason %s%s: %s%s",
        len(rows),
        reason,
        f" ({detail})" if detail else "",
        ", ".join(str(row.public_id) for row in rows[:10]),
        " …" if len(rows) > 10 else "",
    )
    if session_revoked.has_listeners(DeviceSession):
        session_revoked.send(
            sender=DeviceSession, sessions=list(rows), reason=reason, detail=detail
        )


@sensitive_variables()
def end_rows(rows: Sequence[Row], *, reason: str = DELETED, detail: str | None = None) -> int:
    """End these sessions: rows and store keys, and their events, in one transaction."""
    if rows:
        using = router.db_for_write(DeviceSession)
        outer = store.in_callers_transaction(using)
        with transaction.atomic(using=using):
            history.ended(rows, reason, detail)  # first: on PostgreSQL it reads the rows
            _delete(rows, outer=outer)
        _after_commit(rows, reason, detail, outer=outer)
    return len(rows)


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
def end_sessions(
    queryset: DeviceSessionQuerySet,
    *,
    reason: str = DELETED,
    detail: str | None = None,
    by: DeviceSession | None = None,
    actor=None,
    batch_size: int | None = None,
    on_batch: Callable[[list[Row]], None] | None = None,
) -> int:
    """End the sessions of every row in ``queryset`` and delete the rows; return the count.

    Each batch is read with ``SELECT … FOR UPDATE`` inside its transaction, so a sign-in
    that checks its new row meanwhile (see the middleware) waits for the outcome instead
    of saving a session that is being ended. ``on_batch`` is called with each batch once it
    has been ended (for progress reports). Each ended session leaves an event in the
    history (in the same transaction): ``by`` is the device that ended them, ``actor`` the
    staff member.
    """
    using = primary()
    rows = queryset.using(using).order_by("pk").values_list(*_ROW_FIELDS)
    if connections[using].features.has_select_for_update_of:
        rows = rows.select_for_update(of=("self",))
    else:  # MariaDB, MySQL: the query reads only this table unless the caller's filter joins
        rows = rows.select_for_update()

    outer = store.in_callers_transaction(using)

    @sensitive_variables()
    def end(page) -> list[Row]:
        with transaction.atomic(using=using):
            batch = [Row(*row) for row in page]
            if batch:
                history.ended(batch, reason, detail, by=by, actor=actor)  # reads the rows
                _delete(batch, outer=outer)
        if batch:
            _after_commit(batch, reason, detail, outer=outer)
            if on_batch is not None:
                on_batch(batch)
        return batch

    return _for_each_batch(rows, batch_size or app_settings.REVOKE_BATCH_SIZE, end)


#: Rows per batch of ``end_all_sessions``' server-side path, unless told otherwise: each
#: batch is one statement that holds its rows' locks for about 0.1 s at this size, and
#: fewer batches mean fewer commits (docs/PERFORMANCE.md §5).
SERVER_BATCH_SIZE = 5000


@sensitive_variables()
def end_all_sessions(
    *,
    reason: str = COMMAND,
    batch_size: int | None = None,
    on_batch: Callable[[int, set], None] | None = None,
) -> int:
    """End every tracked session (``revoke_sessions --all``); return the count.
    ``on_batch(count, user_ids)`` follows each batch, for progress reports; ``batch_size``
    defaults to ``SESSIONS_MGMT_REVOKE_BATCH_SIZE``, and to at least ``SERVER_BATCH_SIZE``
    on the server-side path.

    On PostgreSQL with the ``db`` engine each batch is one statement, run by the server:
    it locks the batch's rows (``FOR UPDATE``, as ``end_sessions`` does, so a sign-in's
    row is either in it or committed after it), deletes them and their sessions by key,
    and writes their history events. Only a summary comes back (count, last id, users, a
    few public ids for the log), unless ``session_revoked`` has receivers, which get the
    rows. Elsewhere it is ``end_sessions`` over every row.
    """
    using = primary()
    sessions = store.session_table(using)
    if connections[using].vendor != "postgresql" or sessions is None:
        return end_sessions(
            DeviceSession.objects.all(),
            reason=reason,
            batch_size=batch_size,
            on_batch=on_batch
            and (lambda batch: on_batch(len(batch), {row.user_id for row in batch})),
        )
    with_rows = session_revoked.has_listeners(DeviceSession)
    outer = store.in_callers_transaction(using)
    size = batch_size or max(app_settings.REVOKE_BATCH_SIZE, SERVER_BATCH_SIZE)
    done, last_pk = 0, 0
    while True:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(
                *_end_batch(connections[using], sessions, last_pk, size, reason, with_rows)
            )
            if with_rows:
                batch = [Row(*row) for row in cursor.fetchall()]
                count, user_ids = len(batch), {row.user_id for row in batch}
                last = batch[-1].pk if batch else None
            else:
                count, last, users, public_ids = cursor.fetchone()
                user_ids = set(users or ())
        if count:
            done += count
            last_pk = last
            if with_rows:
                _after_commit(batch, reason, None, outer=outer)
            else:
                logger.info(
                    "Ended %d session(s), reason %s: %s …", count, reason, ", ".join(public_ids)
                )
            if on_batch is not None:
                on_batch(count, user_ids)
        if count < size:
            return done


def _end_batch(
    connection, sessions: tuple[str, str], last_pk, size: int, reason: str, with_rows: bool
) -> tuple[str, list]:
    """The one statement that ends a batch server-side, and its parameters (see
    ``end_all_sessions``)."""
    session_table, key_column = sessions
    quote = connection.ops.quote_name
    device = quote(DeviceSession._meta.db_table)
    names = {"pk": DeviceSession._meta.pk.name, "user_id": "user"}
    row_columns = ", ".join(
        quote(DeviceSession._meta.get_field(names.get(f, f)).column) for f in _ROW_FIELDS
    )
    logged, logged_params = history.ended_sql(connection, "batch", reason)
    result = (
        "SELECT * FROM batch ORDER BY id"
        if with_rows
        else "SELECT count(*), max(id), array_agg(DISTINCT user_id), "
        "(array_agg(public_id::text ORDER BY id))[1:10] FROM batch"
    )
    sql = f"""
        WITH batch AS (
            SELECT {row_columns} FROM {device} WHERE id > %s ORDER BY id LIMIT %s FOR UPDATE
        ), rows_gone AS (
            DELETE FROM {device} d USING batch b WHERE d.id = b.id
        ), sessions_gone AS (
            DELETE FROM {quote(session_table)} s USING batch b
            WHERE s.{quote(key_column)} = b.session_key
        ), logged AS ({logged})
        {result}"""
    return sql, [last_pk, size, *logged_params]


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
