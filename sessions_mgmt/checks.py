"""System checks for set-ups in which sessions could not be listed or ended."""

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends import signed_cookies
from django.core.checks import Error, Tags, Warning, register
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils.module_loading import import_string

from . import store
from .conf import URL_DEFAULTS, app_settings

MIDDLEWARE_PATH = "sessions_mgmt.middleware.DeviceSessionMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@register(Tags.security)
def check_session_engine(app_configs, **kwargs) -> list[Error | Warning]:
    try:
        store_class = import_module(settings.SESSION_ENGINE).SessionStore
    except (ImportError, AttributeError):
        return []  # Django reports a broken SESSION_ENGINE itself.
    if issubclass(store_class, signed_cookies.SessionStore):
        return [
            Error(
                "SESSION_ENGINE is signed_cookies, which keeps each session in the browser's "
                "cookie: the server cannot end such a session, so signing out a device "
                "would not work.",
                hint="Use django.contrib.sessions.backends.db, cache, cached_db or file.",
                id="sessions_mgmt.E001",
            )
        ]
    if not store.is_known_engine(store_class):
        return [
            Warning(
                f"SESSION_ENGINE {settings.SESSION_ENGINE!r} is not one of Django's engines "
                "(db, cache, cached_db, file) nor a subclass of one. sessions_mgmt will end "
                "and check its sessions one at a time through the engine's own load() and "
                "delete(), and will end them at their expiry itself; it cannot tell whether "
                "the engine keeps sessions anywhere else.",
                hint="Subclass one of Django's engines if you can, and run the app's tests "
                "against your engine.",
                id="sessions_mgmt.W004",
            )
        ]
    return []


def _position(middleware: list[str], wanted: str) -> int | None:
    wanted_class = import_string(wanted)
    for index, path in enumerate(middleware):
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, wanted_class):
            return index
    return None


@register()
def check_middleware(app_configs, **kwargs) -> list[Error]:
    middleware = list(settings.MIDDLEWARE)
    ours = _position(middleware, MIDDLEWARE_PATH)
    if ours is None:
        return [
            Error(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: sessions are not tracked, key "
                "changes are not followed and revoked rows do not end their sessions.",
                hint=f"Add it to MIDDLEWARE after {AUTH_MIDDLEWARE_PATH}.",
                id="sessions_mgmt.E002",
            )
        ]
    auth = _position(middleware, AUTH_MIDDLEWARE_PATH)
    if auth is None or ours < auth:
        return [
            Error(
                f"{MIDDLEWARE_PATH} must come after {AUTH_MIDDLEWARE_PATH} in MIDDLEWARE, "
                "because it reads the signed-in user that the latter sets.",
                hint="Move it below AuthenticationMiddleware.",
                id="sessions_mgmt.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_session_cookie(app_configs, **kwargs) -> list[Warning]:
    """The session cookie is what every listed device holds: keep it out of scripts' and
    other sites' reach."""
    warnings = []
    if not settings.SESSION_COOKIE_SECURE:
        warnings.append(
            Warning(
                "SESSION_COOKIE_SECURE is False: the session cookie is also sent over plain "
                "HTTP, where anyone on the network can take it and sign in as that device.",
                hint="Set SESSION_COOKIE_SECURE = True (and serve the site over HTTPS).",
                id="sessions_mgmt.W001",
            )
        )
    if not settings.SESSION_COOKIE_HTTPONLY:
        warnings.append(
            Warning(
                "SESSION_COOKIE_HTTPONLY is False: scripts on the page can read the session "
                "cookie, so one XSS flaw hands out every session it runs in.",
                hint="Set SESSION_COOKIE_HTTPONLY = True.",
                id="sessions_mgmt.W002",
            )
        )
    if settings.SESSION_COOKIE_SAMESITE in (None, "None", False):
        warnings.append(
            Warning(
                "SESSION_COOKIE_SAMESITE is None: other sites' requests carry the session "
                "cookie, which leaves CSRF protection as the only guard.",
                hint="Set SESSION_COOKIE_SAMESITE = 'Lax' (Django's default) or 'Strict'.",
                id="sessions_mgmt.W003",
            )
        )
    return warnings


@register(Tags.urls)
def check_url_settings(app_configs, **kwargs) -> list[Error]:
    """The sign-out and password-change destinations the app names must exist in the host."""
    errors = []
    for name in URL_DEFAULTS:
        value = getattr(app_settings, name)
        try:
            resolve_url(value)
        except NoReverseMatch:
            errors.append(
                Error(
                    f"SESSIONS_MGMT_{name} is {value!r}, which is not a URL name of this "
                    "project (and not a path).",
                    hint=f"Set SESSIONS_MGMT_{name} to your URL name or path for it.",
                    id="sessions_mgmt.E004",
                )
            )
    return errors
