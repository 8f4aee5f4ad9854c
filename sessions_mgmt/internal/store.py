"""Talking to the configured session store: end keys, tell which keys are alive, save a
session without moving its expiry.

Django's own engines (``db``, ``cache``, ``cached_db``, ``file``) get a fast path: one
query or one cache call for a whole batch. The fast path is taken only where it provably
does what the engine's public API would: the engine is one of Django's, or a subclass that
overrides none of the methods the fast path stands in for (a subclass may change
``cache_key_prefix`` or ``get_model_class()``, which the fast path reads). Any other engine
is driven one key at a time through its public API (``load()``, ``delete()``), which is
slower but right; ``checks.py`` warns about engines the app does not know.
"""

import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.sessions.backends import cache as cache_engine
from django.contrib.sessions.backends import cached_db as cached_db_engine
from django.contrib.sessions.backends import db as db_engine
from django.contrib.sessions.backends import file as file_engine
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.core.cache import caches
from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from . import backend_paths
from . import state as codec

logger = logging.getLogger(__name__)

#: Django's engines, most specific first.
KNOWN_ENGINES = (cached_db_engine.SessionStore, db_engine.SessionStore, cache_engine.SessionStore)
#: What the fast path stands in for; a subclass overriding any of these gets the slow path.
_FAST_PATH_METHODS = (
    "__init__",
    "load",
    "exists",
    "delete",
    "save",
    "cache_key",
    "_get_session_from_db",
    "get_expiry_age",
    "get_expiry_date",
)


#: How long a revoked ``cached_db`` session's empty cache entry lasts if the delete after
#: the commit fails: longer than any request that could have read the row before.
TOMBSTONE_SECONDS = 300


class SessionStoreError(Exception):
    """The session store could not be reached; the sessions are still live and still listed."""


def engine() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore


@functools.cache
def _stock_base(store_class: type) -> type | None:
    """The Django engine ``store_class`` behaves exactly like, for the fast path, if any."""
    for base in KNOWN_ENGINES:
        if issubclass(store_class, base):
            same = all(
                getattr(store_class, name, None) is getattr(base, name, None)
                for name in _FAST_PATH_METHODS
            )
            return base if same else None
    return None


def keeps_expiry(store_class: type) -> bool:
    """Whether ``save_keeping_expiry`` can make this engine end a session when it should."""
    return _stock_base(store_class) is not None


def is_known_engine(store_class: type) -> bool:
    """Whether the app knows how this engine keeps sessions (Django's four and subclasses)."""
    return issubclass(store_class, (*KNOWN_ENGINES, file_engine.SessionStore))


@sensitive_variables()
def delete_where_in(model, field_name: str, values: Sequence) -> None:
    """``DELETE FROM model WHERE field IN values``, with the ORM's semantics.

    When the ORM itself would delete without loading rows (no signal receivers, no
    cascades: ``Collector.can_fast_delete``), PostgreSQL gets one ``= ANY(%s)`` array
    parameter, which costs far less to build and send than a long ``IN`` list. Otherwise,
    and on other databases, Django's own ``QuerySet.delete()`` runs, so ``pre_delete`` /
    ``post_delete`` receivers and cascades behave the same on every database.
    """
    using = router.db_for_write(model)
    connection = connections[using]
    queryset = model._base_manager.using(using).filter(**{f"{field_name}__in": list(values)})
    if connection.vendor == "postgresql" and Collector(using).can_fast_delete(queryset):
        quote = connection.ops.quote_name
        column = model._meta.get_field(field_name).column
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(column)} = ANY(%s)",
                [list(values)],
            )
        return
    QuerySet.delete(queryset)  # Django's own, whatever the model's queryset overrides


@sensitive_variables()
def alive_keys(session_keys: Sequence[str]) -> set[str]:
    """Which of these keys hold an unexpired session in the configured store: the sessions
    whose cookies still work, and those being signed in right now (saved with their user
    when their request ends). One query or one cache call on the fast path."""
    return set(_read(session_keys, with_data=False))


@sensitive_variables()
def session_data(session_keys: Sequence[str]) -> dict[str, Mapping]:
    """The stored data of those of these keys that hold an unexpired session, by key (the
    same keys ``alive_keys`` finds; a session being signed in right now may still be
    empty). One query or one cache call on the fast path: this is where lists read each
    session's liveness (see ``state.live_values``)."""
    return _read(session_keys, with_data=True)


@sensitive_variables()
def _read(session_keys: Sequence[str], *, with_data: bool) -> dict[str, Mapping]:
    if not session_keys:
        return {}
    store_class = engine()
    base = _stock_base(store_class)
    try:
        if base is db_engine.SessionStore or base is cached_db_engine.SessionStore:
            # The database is the truth for both (cached_db writes it on every save).
            model = store_class.get_model_class()
            found = model._default_manager.using(router.db_for_write(model)).filter(
                session_key__in=list(session_keys), expire_date__gt=timezone.now()
            )
            if not with_data:
                return dict.fromkeys(found.values_list("session_key", flat=True), {})
            decode = store_class().decode
            pairs = found.values_list("session_key", "session_data")
            return {key: decode(data) for key, data in pairs}
        if base is cache_engine.SessionStore:
            prefix = store_class.cache_key_prefix
            found = caches[settings.SESSION_CACHE_ALIAS].get_many(
                [prefix + key for key in session_keys]
            )
            # Present counts, empty or not: a session being signed in right now is still
            # empty in the store until its request ends, and must be counted (the session
            # limit) and never pruned. Revoked ones are deleted, not emptied, here.
            return {
                key.removeprefix(prefix): data for key, data in found.items() if data is not None
            }
        loaded = ((key, store_class(key).load()) for key in session_keys)
        return {key: data for key, data in loaded if SESSION_KEY in data}
    except Exception as exc:
        raise SessionStoreError(str(exc)) from exc


def longest_key(store_class: type) -> int | None:
    """The longest key a database engine's session model holds, where it says (Django's
    ``db``/``cached_db`` and subclasses with their own ``get_model_class()``); None for
    engines whose key length no column declares (those get the row's own limit)."""
    if not issubclass(store_class, db_engine.SessionStore):
        return None
    return store_class.get_model_class()._meta.get_field("session_key").max_length


def works(data: Mapping, user) -> bool:
    """The one rule for "this session works", on its stored ``data`` (``session_data``),
    for the ``user`` its row names: the rule Django's ``get_user()`` applies when the
    cookie comes back. The session names this user, through a backend still in
    ``AUTHENTICATION_BACKENDS`` that lets the user in (``ModelBackend`` refuses inactive
    users), with the user's current session auth hash (or one made with a
    ``SECRET_KEY_FALLBACKS`` key); and, on engines that cannot keep the expiry the app
    records (``file``), that expiry has not passed. Every reader of liveness (the list,
    the API, the details page, revoking, the session limit, pruning) asks this."""
    if user is None or str(data.get(SESSION_KEY)) != user._meta.pk.value_to_string(user):
        return False
    path = backend_paths.path_for(data.get(BACKEND_SESSION_KEY))  # a replaced one's heir
    if path is None:
        return False
    can = getattr(_backend(path), "user_can_authenticate", None)
    if can is not None and not can(user):
        return False
    if hasattr(user, "get_session_auth_hash"):
        stored = data.get(HASH_SESSION_KEY) or ""
        if not constant_time_compare(stored, user.get_session_auth_hash()):
            fallbacks = getattr(user, "get_session_auth_fallback_hash", lambda: ())()
            if not any(constant_time_compare(stored, h) for h in fallbacks):
                return False
    if not keeps_expiry(engine()):
        tracked = codec.read(data)
        if tracked and tracked.get("x") and time.time() >= tracked["x"]:
            return False
    return True


@functools.lru_cache(maxsize=16)
def _backend(path: str):
    return load_backend(path)


@sensitive_variables()
def working(sessions: Sequence[tuple[str, object]]) -> dict[str, Mapping]:
    """Of these ``(session key, user)`` pairs, the stored data of the sessions that work
    (``works``), by key: one round trip to the store."""
    data = session_data([key for key, _ in sessions])
    return {key: data[key] for key, user in sessions if key in data and works(data[key], user)}


def saves_in_database(using: str) -> bool:
    """Whether saving a session writes it to the database ``using`` (Django's ``db`` and
    ``cached_db`` engines and their subclasses, with the session model routed there), so
    that a save inside a transaction there commits or rolls back with it."""
    store_class = engine()
    if not issubclass(store_class, db_engine.SessionStore):
        return False
    return router.db_for_write(store_class.get_model_class()) == using


def session_table(using: str) -> tuple[str, str] | None:
    """The table and key column of the session store, when it is Django's ``db`` engine
    (or a subclass that changes none of the methods the fast path stands in for) on the
    database ``using``: then ending a session is deleting its row there, and a statement
    may do it server-side. None for every other engine (``cached_db`` keeps sessions in
    a cache too, whose entries only the app server can end)."""
    store_class = engine()
    if _stock_base(store_class) is not db_engine.SessionStore:
        return None
    model = store_class.get_model_class()
    if router.db_for_write(model) != using:
        return None
    return model._meta.db_table, model._meta.get_field("session_key").column


@sensitive_variables()
def _cache_keys(store_class: type, session_keys: Sequence[str]) -> list[str]:
    prefix = store_class.cache_key_prefix
    return [prefix + key for key in session_keys]


@sensitive_variables()
def delete_keys(session_keys: Sequence[str], *, deferred: bool = False) -> None:
    """Delete these keys from the configured session store, in as few round trips as it
    allows, inside the ending's transaction; ``end_after_commit`` finishes the work once
    it has committed. Raises :class:`SessionStoreError` when the store fails; keys already
    gone are fine.

    Until the commit, other app servers still see the session rows. With ``cached_db`` a
    server that misses the cache reads the row and writes the session back into the
    cache, so there the entries are first replaced by empty sessions (a hit, answered as
    signed out, and no row read), then deleted after the commit. With ``cache`` they are
    deleted (an in-flight request's save then finds nothing to update) and deleted again
    after the commit. If the cache fails, the transaction rolls back and nothing is hidden.

    ``deferred``: the transaction is the caller's, and may yet roll back (``ATOMIC_REQUESTS``,
    a sign-in's commit): only the database part happens now, and cache entries and files
    are ended after the commit, so that a rollback leaves every session as it was (no
    ended cache entry, no tombstone). The store is asked now to delete a key that does not
    exist, so that one that is down or refuses writes fails the transaction instead of
    leaving rows gone and sessions working; should it fail after the commit all the same,
    the error is logged and each such session ends at its next touch, which finds its row
    gone (``flows.request``).
    """
    if not session_keys:
        return
    store_class = engine()
    base = _stock_base(store_class)
    try:
        if base is db_engine.SessionStore or base is cached_db_engine.SessionStore:
            delete_where_in(store_class.get_model_class(), "session_key", session_keys)
        if deferred:
            if base is not db_engine.SessionStore:
                _probe(store_class, base)
        elif base is cache_engine.SessionStore:
            caches[settings.SESSION_CACHE_ALIAS].delete_many(_cache_keys(store_class, session_keys))
        elif base is cached_db_engine.SessionStore:
            # Tombstones, not deletes, until the commit: a server that read a missing
            # entry would fetch the row, still committed for everyone else, and write
            # the session back; an empty session in the cache answers it instead.
            caches[settings.SESSION_CACHE_ALIAS].set_many(
                dict.fromkeys(_cache_keys(store_class, session_keys), {}),
                timeout=TOMBSTONE_SECONDS,
            )
        elif base is None:  # file, or an engine whose own delete() must run
            store = store_class()
            for key in session_keys:
                store.delete(key)
    except Exception as exc:
        logger.warning(
            "Could not end %d session(s): the session store failed: %r", len(session_keys), exc
        )
        raise SessionStoreError(str(exc)) from exc


@sensitive_variables()
def end_after_commit(session_keys: Sequence[str]) -> None:
    """Once an ending has committed: delete its keys' cache entries (and, after a deferred
    ``delete_keys``, whatever else the store keeps outside the database). Idempotent; a
    failure is logged, since the rows are already gone (the next touch of such a session
    finds that and ends it)."""
    if not session_keys:
        return
    store_class = engine()
    base = _stock_base(store_class)
    try:
        if base is cache_engine.SessionStore or base is cached_db_engine.SessionStore:
            caches[settings.SESSION_CACHE_ALIAS].delete_many(_cache_keys(store_class, session_keys))
        elif base is None:
            store = store_class()
            for key in session_keys:
                store.delete(key)
    except Exception as exc:
        logger.error("Could not end revoked sessions in the store after the commit: %r", exc)


#: A key no session has (Django makes keys of 32 characters), deleted to see that the store
#: takes deletes before a deferred ending commits.
_PROBE_KEY = "sessionsmgmtprobe"


def _probe(store_class: type, base: type | None) -> None:
    try:
        if base is cache_engine.SessionStore or base is cached_db_engine.SessionStore:
            caches[settings.SESSION_CACHE_ALIAS].delete_many(_cache_keys(store_class, [_PROBE_KEY]))
        else:
            store_class().delete(_PROBE_KEY)
    except Exception as exc:
        logger.warning("Could not end sessions: the session store failed: %r", exc)
        raise SessionStoreError(str(exc)) from exc


def in_callers_transaction(using: str) -> bool:
    """Whether a transaction of the caller's is open on ``using`` (``ATOMIC_REQUESTS``, a
    sign-in's commit, a project's ``atomic()``), which may still roll back what is done
    inside it. The blocks a test case opens around each test are not counted: they stand
    for autocommit, as Django's own ``atomic(durable=True)`` check treats them."""
    return any(
        not getattr(block, "_from_testcase", False) for block in connections[using].atomic_blocks
    )


def save_keeping_expiry(session: SessionBase, expires_at: datetime) -> bool:
    """Save ``session`` so that the store ends it at ``expires_at``, not later.

    A save normally restarts the session's lifetime (``SESSION_COOKIE_AGE`` from now). The
    app saves sessions for its own bookkeeping, and must not change when they end; so
    during its own save the session answers ``get_expiry_age()`` / ``get_expiry_date()``
    (the two methods through which Django's engines learn the expiry) with the remaining
    time. Returns False for engines where that cannot be shown to work (then the session
    is saved as usual and the app's own check ends it at ``expires_at``, see timeouts).
    """
    remaining = max(1, math.ceil((expires_at - timezone.now()).total_seconds()))
    if _stock_base(type(session)) is None:
        session.save()
        return False
    session.get_expiry_age = lambda **kwargs: remaining
    session.get_expiry_date = lambda **kwargs: expires_at
    try:
        session.save()
    finally:
        del session.get_expiry_age, session.get_expiry_date
    return True


def save_now(session: SessionBase, expiry: datetime | None) -> bool:
    """Save the session now, keeping ``expiry`` (or as Django would, when unknown), and
    leave SessionMiddleware nothing to save. False if another request ended the session
    meanwhile: it then stays ended."""
    try:
        if expiry is not None:
            save_keeping_expiry(session, expiry)
        else:
            session.save()
    except UpdateError:
        session.clear()
        return False
    finally:
        session.modified = False
    return True
