"""The only code that ends sessions.

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
from importlib import import_module
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.sessions.backends import db as db_engine
from django.core.cache import caches
from django.db import connections, router, transaction
from django.utils import timezone

from .conf import app_settings
from .models import DeviceSession, DeviceSessionQuerySet
from .signals import session_revoked

logger = logging.getLogger(__name__)

# Why a session was ended: the ``reason`` of the ``session_revoked`` signal and the logs.
USER = "user"  # its owner signed it out from another device (page or API)
OTHER_DEVICES = "other_devices"  # its owner chose "sign out of all other devices"
ADMIN = "admin"  # staff, in the Django admin
COMMAND = "command"  # manage.py revoke_sessions
PASSWORD_CHANGE = "password_change"  # the user's password changed
DEACTIVATED = "deactivated"  # the user was saved with is_active=False
USER_DELETED = "user_deleted"  # the user was deleted
TIMEOUT = "timeout"  # idle or absolute timeout
NOT_ME = "not_me"  # the "This wasn't me" link of a new-device alert
DELETED = "deleted"  # its row was deleted through the ORM


class RevocationError(Exception):
    """A session could not be ended; nothing about it changed."""


class SessionStoreError(RevocationError):
    """The session store could not be reached; the sessions are still live and still listed."""


class CurrentSessionError(RevocationError):
    """The session asked to be ended is the caller's own; signing out is logout's job."""


def live_sessions(user) -> DeviceSessionQuerySet:
    """The user's sessions that have not expired, most recently active first."""
    return DeviceSession.objects.filter(user=user).live().order_by("-last_active_at")


def list_devices(user, current_session_key: str | None) -> list[DeviceSession]:
    """The user's live sessions for display: the current one first, flagged ``is_current``."""
    rows = list(live_sessions(user))
    for row in rows:
        row.is_current = current_session_key is not None and row.session_key == current_session_key
    rows.sort(key=lambda row: not row.is_current)  # stable: keeps most-recent-first order
    return rows


def get_session(user, public_id: str | uuid.UUID) -> DeviceSession:
    """The user's session with this public id; another user's id is treated as unknown.

    Raises ``DeviceSession.DoesNotExist`` for unknown, malformed and foreign ids alike, so
    a caller cannot tell them apart.
    """
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise DeviceSession.DoesNotExist from None
    return live_sessions(user).get(public_id=public_id)


def revoke(user, public_id: str | uuid.UUID, *, current_session_key: str | None) -> DeviceSession:
    """End one of the user's sessions, but never the one making the request."""
    row = get_session(user, public_id)
    if current_session_key is not None and row.session_key == current_session_key:
        raise CurrentSessionError
    end_sessions(DeviceSession.objects.filter(pk=row.pk), reason=USER)
    return row


def revoke_others(user, keep_session_key: str | None, *, reason: str = OTHER_DEVICES) -> int:
    """End every live session of the user except ``keep_session_key``; return how many."""
    queryset = live_sessions(user).exclude(session_key=keep_session_key)
    return end_sessions(queryset, reason=reason)


def revoke_all(user, *, reason: str = DELETED) -> int:
    """End every session of the user, expired rows included; return how many rows went."""
    return end_sessions(DeviceSession.objects.filter(user=user), reason=reason)


def revoke_users(users, *, reason: str = ADMIN) -> int:
    """End every session of these users (a queryset or list of users or ids)."""
    return end_sessions(DeviceSession.objects.filter(user__in=users), reason=reason)


class Row(NamedTuple):
    pk: int
    session_key: str
    user_id: Any
    public_id: uuid.UUID
    expires_at: datetime | None = None  # read only where needed (pruning)


_ROW_FIELDS = ("pk", "session_key", "user_id", "public_id")


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


def delete_where_in(model, field_name: str, values: Sequence) -> None:
    """``DELETE FROM model WHERE field IN values``, as one array parameter on PostgreSQL.

    A long ``IN (%s, %s, …)`` list costs more to build and send than the delete itself;
    ``= ANY(%s)`` sends the batch as one value. Other databases use the ORM's ``__in``.
    """
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._base_manager.using(using).filter(**{f"{field_name}__in": list(values)}).delete()
        return
    quote = connection.ops.quote_name
    column = model._meta.get_field(field_name).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(column)} = ANY(%s)",
            [list(values)],
        )


def _delete(rows: Sequence[Row]) -> None:
    # Rows first: if the store then fails, the enclosing transaction brings them back.
    delete_where_in(DeviceSession, "id", [row.pk for row in rows])
    delete_store_keys([row.session_key for row in rows])


def _announce(rows: Sequence[Row], reason: str) -> None:
    """Log the ended sessions by public id (never by key) and send ``session_revoked``."""
    logger.info(
        "Ended %d session(s), reason %s: %s%s",
        len(rows),
        reason,
        ", ".join(str(row.public_id) for row in rows[:10]),
        " …" if len(rows) > 10 else "",
    )
    if session_revoked.has_listeners(DeviceSession):
        session_revoked.send(sender=DeviceSession, sessions=list(rows), reason=reason)


def end_rows(rows: Sequence[Row], *, reason: str = DELETED) -> int:
    """End these sessions: rows and store keys, in one transaction."""
    if rows:
        with transaction.atomic(using=router.db_for_write(DeviceSession)):
            _delete(rows)
        _announce(rows, reason)
    return len(rows)


def end_sessions(
    queryset: DeviceSessionQuerySet,
    *,
    reason: str = DELETED,
    batch_size: int | None = None,
    on_batch: Callable[[list[Row]], None] | None = None,
) -> int:
    """End the sessions of every row in ``queryset`` and delete the rows; return the count.

    Each batch is read with ``SELECT … FOR UPDATE`` inside its transaction, so a sign-in
    that checks its new row meanwhile (see the middleware) waits for the outcome instead
    of saving a session that is being ended. ``on_batch`` is called with each batch once it
    has been ended (for progress reports).
    """
    rows = queryset.order_by("pk").values_list(*_ROW_FIELDS).select_for_update(of=("self",))

    def end(page) -> list[Row]:
        with transaction.atomic(using=router.db_for_write(DeviceSession)):
            batch = [Row(*row) for row in page]
            if batch:
                _delete(batch)
        if batch:
            _announce(batch, reason)
            if on_batch is not None:
                on_batch(batch)
        return batch

    return _for_each_batch(rows, batch_size or app_settings.REVOKE_BATCH_SIZE, end)


def prune_dead(
    queryset: DeviceSessionQuerySet,
    *,
    reason: str = DELETED,
    batch_size: int | None = None,
    dry_run: bool = False,
) -> int:
    """End the rows of ``queryset`` whose session has expired or left the store; live ones
    are left alone. Return how many were (or, with ``dry_run``, would be) ended."""
    rows = queryset.order_by("pk").values_list(*_ROW_FIELDS, "expires_at")
    found = 0

    def prune(page) -> list[Row]:
        nonlocal found
        batch = [Row(*row) for row in page]
        dead = dead_rows(batch)
        found += len(dead)
        if not dry_run:
            end_rows(dead, reason=reason)
        return batch

    _for_each_batch(rows, batch_size or app_settings.REVOKE_BATCH_SIZE, prune)
    return found


def dead_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows whose session has expired or is no longer in the session store."""
    now = timezone.now()
    alive = alive_store_keys([row.session_key for row in rows if row.expires_at > now])
    return [row for row in rows if row.session_key not in alive]


def alive_store_keys(session_keys: Sequence[str]) -> set[str]:
    """Which of these keys still hold an unexpired session in the configured store."""
    if not session_keys:
        return set()
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    try:
        if issubclass(store_class, db_engine.SessionStore):  # the database is the truth
            model = store_class.get_model_class()
            return set(
                model._default_manager.filter(
                    session_key__in=list(session_keys), expire_date__gt=timezone.now()
                ).values_list("session_key", flat=True)
            )
        if hasattr(store_class, "cache_key_prefix"):
            prefix = store_class.cache_key_prefix
            found = caches[settings.SESSION_CACHE_ALIAS].get_many(
                [prefix + k for k in session_keys]
            )
            return {key.removeprefix(prefix) for key in found}
        store = store_class()
        return {key for key in session_keys if store.exists(key)}
    except Exception as exc:
        raise SessionStoreError(str(exc)) from exc


def delete_store_keys(session_keys: Sequence[str]) -> None:
    """Delete these keys from the configured session store, in as few round trips as it allows.

    Raises :class:`SessionStoreError` when the store fails; keys already gone are fine.
    """
    if not session_keys:
        return
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    uses_db = issubclass(store_class, db_engine.SessionStore)  # db and cached_db
    uses_cache = hasattr(store_class, "cache_key_prefix")  # cache and cached_db
    try:
        if uses_db:
            delete_where_in(store_class.get_model_class(), "session_key", session_keys)
        if uses_cache:
            prefix = store_class.cache_key_prefix
            caches[settings.SESSION_CACHE_ALIAS].delete_many([prefix + k for k in session_keys])
        if not (uses_db or uses_cache):  # file, or an engine we know nothing about
            store = store_class()
            for key in session_keys:
                store.delete(key)
    except Exception as exc:
        logger.warning(
            "Could not end %d session(s): the session store failed: %r", len(session_keys), exc
        )
        raise SessionStoreError(str(exc)) from exc
