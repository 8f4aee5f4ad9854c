"""Sessions signed in through a backend the project has since replaced by a subclass of it.

Django keeps the dotted path of the backend that signed a session in, and its
``get_user()`` refuses a session whose path is no longer in ``AUTHENTICATION_BACKENDS``.
Following the README, a project swaps Django's ``ModelBackend`` for the app's
``ThrottledModelBackend`` (a ``ModelBackend``): without this, every session signed in
before would be signed out. A configured backend whose class extends the session's own
(``ThrottledModelBackend`` for ``ModelBackend``) takes the session over: its rules apply
from now on, and the session is saved under its path on its next request. A session of a
backend that no configured one extends is refused, as Django refuses it.

Only while such sessions can exist: until ``SESSION_COOKIE_AGE`` after the current list of
backends was first seen (``BackendsSeen``, one query once per process), and only when some
configured backend extends one that is not configured. Meanwhile ``request.user`` is
guarded before each view (``timeouts.guard_user``); after that nothing is checked.
"""

import functools
import hashlib
import time

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import BaseBackend
from django.db import DatabaseError, router
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..models import BackendsSeen


def _aliases() -> dict[str, str]:
    """{path of a backend not configured: path of the configured backend extending it}."""
    configured = list(settings.AUTHENTICATION_BACKENDS)
    aliases: dict[str, str] = {}
    for path in configured:
        try:
            backend_class = import_string(path)
        except ImportError:
            continue  # Django's own checks report it
        for base in getattr(backend_class, "__mro__", ())[1:]:
            if not (isinstance(base, type) and issubclass(base, BaseBackend)):
                continue
            base_path = f"{base.__module__}.{base.__qualname__}"
            if base is not BaseBackend and base_path not in configured:
                aliases.setdefault(base_path, path)
    return aliases


def aliases() -> dict[str, str]:
    """The replaced backends' paths and their replacements (worked out once per
    configuration)."""
    return app_settings.memo("backend_aliases", _aliases)


@functools.cache
def _first_seen(using: str, digest: str) -> float:
    """When this list of backends was first in force on ``using`` (unix time): recorded
    the first time it is asked for, once per process (the moment never changes)."""
    seen, _ = BackendsSeen.objects.using(using).get_or_create(digest=digest)
    return seen.first_seen.timestamp()


def _until() -> float:
    """When the last session of a replaced backend can expire (unix time)."""
    if not aliases():
        return 0.0
    digest = hashlib.sha256("\n".join(settings.AUTHENTICATION_BACKENDS).encode()).hexdigest()
    try:
        first_seen = _first_seen(router.db_for_write(BackendsSeen), digest)
    except DatabaseError:
        return float("inf")  # unknown: the safe side
    return first_seen + app_settings.SESSION_COOKIE_AGE


def until() -> float:
    """When the last session of a replaced backend can expire (worked out once per
    configuration)."""
    return app_settings.memo("backend_aliases_until", _until)


def possible() -> bool:
    """Whether sessions of a replaced backend may still come back."""
    return time.time() < until()


def path_for(path: str | None) -> str | None:
    """The configured backend that now stands for a session's backend ``path``."""
    if path in settings.AUTHENTICATION_BACKENDS:
        return path
    return aliases().get(path)


def take_over(session) -> None:
    """Before Django's ``get_user()``: a session of a replaced backend goes on under the
    configured backend that extends it (saved with the response, as any change is)."""
    path = session.get(BACKEND_SESSION_KEY)
    if path is not None and path not in settings.AUTHENTICATION_BACKENDS:
        replacement = aliases().get(path)
        if replacement is not None:
            session[BACKEND_SESSION_KEY] = replacement
