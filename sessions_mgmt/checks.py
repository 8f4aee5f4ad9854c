"""System checks for set-ups in which sessions could not be listed or ended."""

import re
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sessions.backends import signed_cookies
from django.core.checks import Error, Info, Tags, Warning, register
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .conf import TIMEOUT_PRESETS, URL_DEFAULTS, app_settings
from .internal import store
from .models import KEY_MAX_LENGTH
from .throttle import DEFAULT_LIMITS

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
    longest = store.longest_key(store_class)
    if longest is not None and longest > KEY_MAX_LENGTH:
        return [
            Error(
                f"SESSION_ENGINE {settings.SESSION_ENGINE!r} keeps keys of up to {longest} "
                f"characters; sessions_mgmt's rows hold at most {KEY_MAX_LENGTH}, so every "
                "sign-in would fail.",
                hint=f"Use session keys of at most {KEY_MAX_LENGTH} characters.",
                id="sessions_mgmt.E008",
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


def _is_count(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _setting_problems() -> list[tuple[str, str]]:
    """(setting name, what it must be) for each ``SESSIONS_MGMT_*`` setting with a value
    the app cannot use: caught at start-up, not as a 500 on every request."""
    problems = []
    seconds_or_none = {"IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT", "REAUTH_WINDOW"}
    for name in sorted(seconds_or_none):
        value = getattr(app_settings, name)
        if value is not None and not _is_count(value, 1):
            problems.append((name, "a whole number of seconds above 0, or None"))
    for name, minimum, unit in (
        ("TOUCH_INTERVAL", 0, "seconds"),
        ("REVOKE_BATCH_SIZE", 1, "sessions"),
        ("NEW_DEVICE_WINDOW", 1, "days"),
    ):
        if not _is_count(getattr(app_settings, name), minimum):
            problems.append((name, f"a whole number of {unit}, at least {minimum}"))
    per_hour = app_settings.NEW_DEVICE_ALERTS_PER_HOUR
    if per_hour is not None and not _is_count(per_hour, 1):
        problems.append(
            ("NEW_DEVICE_ALERTS_PER_HOUR", "a whole number of mails, at least 1, or None")
        )
    for name in ("SIGN_OUT_ON_PASSWORD_CHANGE", "NEW_DEVICE_ALERTS"):
        if not isinstance(getattr(app_settings, name), bool):
            problems.append((name, "True or False"))
    preset = app_settings.TIMEOUT_PRESET
    if preset is not None and preset not in TIMEOUT_PRESETS:
        names = " or ".join(repr(name) for name in TIMEOUT_PRESETS)
        problems.append(("TIMEOUT_PRESET", f"{names} (exactly so), or None"))
    limits = app_settings.PASSWORD_LIMITS
    if limits is not None and not (
        isinstance(limits, dict)
        and set(limits) <= set(DEFAULT_LIMITS)
        and all(_is_count(value, 1) for value in limits.values())
    ):
        keys = ", ".join(DEFAULT_LIMITS)
        problems.append(("PASSWORD_LIMITS", f"a dict of whole numbers above 0 ({keys}), or None"))
    if app_settings.PASSWORD_LIMITS_CACHE_DOWN not in ("refuse", "allow"):
        problems.append(("PASSWORD_LIMITS_CACHE_DOWN", '"refuse" or "allow"'))
    if app_settings.PASSWORD_LIMITS_CACHE not in settings.CACHES:
        problems.append(("PASSWORD_LIMITS_CACHE", "the name of a cache in CACHES"))
    site = app_settings.SITE_URL
    if site is not None:
        parts = urlsplit(site) if isinstance(site, str) else None
        if not (
            parts
            and parts.scheme in ("http", "https")
            and parts.netloc
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
        ):
            problems.append(("SITE_URL", 'a scheme and host only, e.g. "https://example.com"'))
    if app_settings.MAX_SESSIONS is not None and not _is_count(app_settings.MAX_SESSIONS, 1):
        problems.append(("MAX_SESSIONS", "a whole number of sessions, at least 1, or None"))
    if app_settings.LIMIT_POLICY not in ("end_oldest", "deny_new"):
        problems.append(("LIMIT_POLICY", '"end_oldest" or "deny_new"'))
    if not isinstance(app_settings.LIMIT_EXEMPT_STAFF, bool):
        problems.append(("LIMIT_EXEMPT_STAFF", "True or False"))
    if not _is_count(app_settings.HISTORY_DAYS, 1):
        problems.append(("HISTORY_DAYS", "a whole number of days, at least 1"))
    if app_settings.CLIENT_IP is not None and not isinstance(app_settings.CLIENT_IP, dict):
        problems.append(("CLIENT_IP", "a dict of django-ipware options, or None"))
    if not isinstance(app_settings.DEVICE_BOUND, bool):
        problems.append(("DEVICE_BOUND", "True or False"))
    # Chrome refreshes a bound cookie at most about twice in five minutes.
    if not _is_count(app_settings.DEVICE_BOUND_COOKIE_AGE, 300):
        problems.append(("DEVICE_BOUND_COOKIE_AGE", "a whole number of seconds, at least 300"))
    name = app_settings.DEVICE_BOUND_COOKIE_NAME
    if not (isinstance(name, str) and _COOKIE_NAME.fullmatch(name)) or name in (
        settings.SESSION_COOKIE_NAME,
        settings.CSRF_COOKIE_NAME,
    ):
        problems.append(
            ("DEVICE_BOUND_COOKIE_NAME", "a cookie name of its own (letters, digits, _-)")
        )
    if app_settings.DEVICE_BOUND_REFUSED not in ("anonymous", "sign_in"):
        problems.append(("DEVICE_BOUND_REFUSED", '"anonymous" or "sign_in"'))
    return problems


_COOKIE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@register()
def check_device_bound(app_configs, **kwargs) -> list[Error]:
    """Device-bound sessions need their extra and their endpoints."""
    if app_settings.DEVICE_BOUND is not True:
        return []
    errors = []
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401
    except ImportError:
        errors.append(
            Error(
                "SESSIONS_MGMT_DEVICE_BOUND is on, but PyJWT with cryptography, which checks "
                "the browsers' signed proofs, is not installed.",
                hint='pip install "django-sessions-mgmt[device-bound]"',
                id="sessions_mgmt.E006",
            )
        )
    try:
        reverse("sessions_mgmt:bound_register")
    except NoReverseMatch:
        errors.append(
            Error(
                "SESSIONS_MGMT_DEVICE_BOUND is on, but the app's URLs (sessions_mgmt.urls, "
                "namespace sessions_mgmt), where browsers register and refresh, are not "
                "included.",
                hint='Add path("account/devices/", include("sessions_mgmt.urls")) to your URLs.',
                id="sessions_mgmt.E007",
            )
        )
    return errors


@register()
def check_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    for name, expected in _setting_problems():
        value = getattr(app_settings, name)
        hint = f"Set SESSIONS_MGMT_{name} to {expected}."
        if name == "TIMEOUT_PRESET" and isinstance(value, str) and value.upper() in TIMEOUT_PRESETS:
            hint += f" Did you mean {value.upper()!r}?"
        errors.append(
            Error(
                f"SESSIONS_MGMT_{name} is {value!r}, which the app cannot use.",
                hint=hint,
                id="sessions_mgmt.E005",
            )
        )
    return errors


#: Caches whose counts are kept per process or are not atomic across processes.
_UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps counts per process",
    "django.core.cache.backends.dummy.DummyCache": "keeps no counts at all",
    "django.core.cache.backends.db.DatabaseCache": "does not count atomically",
    "django.core.cache.backends.filebased.FileBasedCache": "does not count atomically",
}


@register(Tags.security, deploy=True)
def check_deployment(app_configs, **kwargs) -> list[Warning]:
    """What a deployment needs for the limits and the alert links to hold."""
    warnings = []
    alias = app_settings.PASSWORD_LIMITS_CACHE
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if app_settings.PASSWORD_LIMITS is not None and backend in _UNSHARED_CACHES:
        warnings.append(
            Warning(
                f"Wrong passwords are counted in the {alias!r} cache, which "
                f"{_UNSHARED_CACHES[backend]}: with several processes or servers, guesses "
                "can get past the limits.",
                hint="Use Redis or Memcached for it (SESSIONS_MGMT_PASSWORD_LIMITS_CACHE).",
                id="sessions_mgmt.W005",
            )
        )
    if app_settings.DEVICE_BOUND is True and not settings.SESSION_COOKIE_SECURE:
        warnings.append(
            Warning(
                "SESSIONS_MGMT_DEVICE_BOUND is on, but SESSION_COOKIE_SECURE is off: browsers "
                "only bind sessions over HTTPS, and a session cookie sent over plain HTTP can "
                "be read on the way.",
                hint="Serve the site over HTTPS and set SESSION_COOKIE_SECURE = True.",
                id="sessions_mgmt.W007",
            )
        )
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not app_settings.CLIENT_IP:
        warnings.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER says a proxy stands in front of the site, but "
                "SESSIONS_MGMT_CLIENT_IP is not set: every request's address is the proxy's, "
                "so the devices page shows it for every sign-in and the wrong-password "
                "limits count everyone behind it as one client.",
                hint='Set SESSIONS_MGMT_CLIENT_IP, e.g. {"proxy_count": 1} for one proxy '
                'that sets X-Forwarded-For, or {"proxy_trusted_ips": ["10.0.0.2"]}.',
                id="sessions_mgmt.W008",
            )
        )
    if (
        settings.SESSION_COOKIE_SECURE
        and not settings.SESSION_COOKIE_NAME.startswith("__Host-")
        and settings.SESSION_COOKIE_DOMAIN is None
        and settings.SESSION_COOKIE_PATH == "/"
    ):
        warnings.append(
            Info(
                "The session cookie could carry the __Host- prefix: browsers then accept it "
                "only over HTTPS, for the whole site and from this exact host, so no "
                "sibling subdomain can set or overwrite it (session fixation).",
                hint='Set SESSION_COOKIE_NAME = "__Host-sessionid" (everyone signs in once '
                "more: their old cookies are not read under the new name).",
                id="sessions_mgmt.I001",
            )
        )
    hosts = list(settings.ALLOWED_HOSTS)
    pinned = len(hosts) == 1 and "*" not in hosts[0] and not hosts[0].startswith(".")
    if app_settings.NEW_DEVICE_ALERTS and not app_settings.SITE_URL and not pinned:
        warnings.append(
            Warning(
                "New-device alerts build their links from the signing-in request's Host "
                "header, and ALLOWED_HOSTS allows more than one host: whoever signs in picks "
                "the site the owner's click goes to.",
                hint='Set SESSIONS_MGMT_SITE_URL, e.g. "https://example.com".',
                id="sessions_mgmt.W006",
            )
        )
    return warnings
