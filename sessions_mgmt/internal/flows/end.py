"""The one door that ends sessions: every deletion of a ``DeviceSession`` row or of a
session-store key, whatever the cause, goes through ``end_sessions`` / ``end_rows`` /
``end_all_sessions``. The order is fixed here, once: lock the rows → write their history
→ delete rows and store keys → commit → end the cache entries again → ``session_revoked``.

Inside a transaction of the caller's (``ATOMIC_REQUESTS``, a sign-in's commit, the admin's
delete) what cannot roll back with it (cache entries, files, the signal) waits for its
commit. ``services`` decides *which* sessions to end; this module ends them, including
the request's own session when it has no row left to end (``flush``) and sessions Django
refuses from now on while the store is down (``end_refused_sessions``). Not public API:
use ``services``.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections, router, transaction
from django.views.decorators.debug import sensitive_variables

from ... import history
from ...conf import app_settings
from ...models import DeviceSession, DeviceSessionQuerySet
from ...signals import session_revoked
from .. import store
from ..queries import primary

logger = logging.getLogger("sessions_mgmt.services")  # the log lines' name, as before

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
def _delete(rows: Sequence[Row], *, outer: bool, keys: bool = True) -> None:
    """Delete the rows and their store keys (``keys``). Rows first: if the store then
    fails, the enclosing transaction brings them back. ``outer``: the caller's own
    transaction encloses this one (``ATOMIC_REQUESTS``, a sign-in's commit), so what
    cannot roll back with it (cache entries, files) is ended once it commits, never
    before."""
    store.delete_where_in(DeviceSession, "id", [row.pk for row in rows])
    if keys:
        store.delete_keys([row.session_key for row in rows], deferred=outer)


def _after_commit(
    rows: Sequence[Row], reason: str, detail: str | None, *, outer: bool, keys: bool = True
) -> None:
    """What follows an ending's commit: the store's cache entries go (again), then
    ``session_revoked``. At once after the door's own transaction, or when the caller's
    commits (``outer``): nothing of an ending that rolled back. A receiver that raises is
    logged, not allowed to stop the batches after it (they are ended all the same)."""

    def run() -> None:
        if keys:
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
    keys: bool = True,
) -> int:
    """End the sessions of every row in ``queryset`` and delete the rows; return the count.

    Each batch is read with ``SELECT … FOR UPDATE`` inside its transaction, so a sign-in
    that checks its new row meanwhile (see the middleware) waits for the outcome instead
    of saving a session that is being ended. ``on_batch`` is called with each batch once it
    has been ended (for progress reports). Each ended session leaves an event in the
    history (in the same transaction): ``by`` is the device that ended them, ``actor`` the
    staff member. ``keys=False`` leaves the store's keys alone (``end_refused_sessions``).
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
                _delete(batch, outer=outer, keys=keys)
        if batch:
            _after_commit(batch, reason, detail, outer=outer, keys=keys)
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
def end_keys(session_keys: Sequence[str]) -> None:
    """End store keys that no row names: a session made during a request that failed, whose
    key no browser received. No history and no signal: nobody was ever signed in on it."""
    using = primary()
    outer = store.in_callers_transaction(using)
    with transaction.atomic(using=using):
        store.delete_keys(session_keys, deferred=outer)
    if outer:
        transaction.on_commit(lambda: store.end_after_commit(session_keys), using=using)
    else:
        store.end_after_commit(session_keys)


@sensitive_variables()
def end_refused_sessions(queryset: DeviceSessionQuerySet, *, reason: str) -> int:
    """End sessions that Django itself refuses from now on (a password change, a hash
    upgrade, a deactivation, each already saved); return the count.

    As ``end_sessions``; but if the session store cannot be reached, the rows go all the
    same, with their history and ``session_revoked``, and the failure is logged, not
    raised: the change is saved, and those cookies no longer work (the session is tied to
    the password hash; ``ModelBackend`` refuses inactive users), so they are not working
    sessions to keep listed. Their store entries expire as usual. Only a project whose
    backend lets inactive users in (``AllowAllUsersModelBackend``) should retry
    ``revoke_sessions --user`` once the store is back.
    """
    try:
        return end_sessions(queryset, reason=reason)
    except store.SessionStoreError as exc:
        logger.error(
            "The session store failed while ending sessions (%s): %r. Their rows were "
            "removed; Django refuses those cookies after this change.",
            reason,
            exc,
        )
        return end_sessions(queryset, reason=reason, keys=False)


def flush(session) -> None:
    """End the request's own session when it has no row left to end: Django's ``flush()``
    (its store key and, at the response, its cookie). For a session whose row the door
    has just ended or found gone, a sign-in refused or undone before its row committed,
    and a session from before the app that a revocation cut off. Here so that every
    deletion of a store key passes through this module."""
    session.flush()
