"""Session engines of the kind projects write: subclasses of Django's cache engine that keep
sessions somewhere the stock engine would not look."""

from django.contrib.sessions.backends import cache as cache_engine
from django.core.cache import caches

SESSIONS_ALIAS = "sessions"


class OtherAliasStore(cache_engine.SessionStore):
    """Sessions in their own cache (``CACHES["sessions"]``), whatever SESSION_CACHE_ALIAS."""

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = caches[SESSIONS_ALIAS]


class PrefixedStore(cache_engine.SessionStore):
    """Only the key prefix differs (the fast path still applies: it reads the prefix)."""

    cache_key_prefix = "myproject.sessions."


class TenantStore(cache_engine.SessionStore):
    """Keys namespaced by its own ``cache_key``, with ``delete``/``exists`` to match."""

    namespace = "tenant-a:"

    @property
    def cache_key(self):
        return self.namespace + self._get_or_create_session_key()

    def exists(self, session_key):
        return bool(session_key) and (self.namespace + session_key) in self._cache

    def delete(self, session_key=None):
        key = session_key or self.session_key
        if key:
            self._cache.delete(self.namespace + key)
