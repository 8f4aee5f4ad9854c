"""Session engines of the kind projects write: subclasses of Django's cache engine that keep
sessions somewhere the stock engine would not look."""

from django.contrib.sessions.backends import cache as cache_engine
from django.contrib.sessions.backends import db as db_engine
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.cache import caches
from django.db import models
from django.utils.crypto import get_random_string

VALID_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"

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


class LongKeyStore(cache_engine.SessionStore):
    """Keys of 64 characters, longer than Django's own 32 (and its db model's 40)."""

    def _get_new_session_key(self):
        while True:
            session_key = get_random_string(64, VALID_KEY_CHARS)
            if not self.exists(session_key):
                return session_key


class _WideKeySession(AbstractBaseSession):
    """A session model whose keys are longer than any row holds."""

    session_key = models.CharField(max_length=300, primary_key=True)

    class Meta:
        app_label = "testapp"
        managed = False


class WideKeyDbStore(db_engine.SessionStore):
    """A database engine on that model."""

    @classmethod
    def get_model_class(cls):
        return _WideKeySession
