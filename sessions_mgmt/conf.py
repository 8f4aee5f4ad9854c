"""The app's settings, all named ``SESSIONS_MGMT_*``, read at use so tests can override them.

- ``SESSIONS_MGMT_TOUCH_INTERVAL`` (``60``): seconds between two records of a session's
  "last active", IP and expiry (kept in the session); inside it a request costs no query.
- ``SESSIONS_MGMT_REVOKE_BATCH_SIZE`` (``2000``): sessions ended per batch (one bulk delete
  or ``delete_many`` each).
- ``SESSIONS_MGMT_DEVICE_BOUND`` (``False``): device-bound sessions (W3C DBSC, see
  ``binding``); ``..._COOKIE_NAME``, ``..._COOKIE_AGE`` (seconds) name the short-lived bound
  cookie; ``..._REFUSED`` (``"anonymous"`` or ``"sign_in"``) says what a request of a bound
  session without it gets.

The README lists them all.
"""

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS = {
    "TOUCH_INTERVAL": 60,
    "REVOKE_BATCH_SIZE": 2000,
    "LOGOUT_URL": None,  # see URL_DEFAULTS
    "SIGN_OUT_ON_PASSWORD_CHANGE": True,
    "CLIENT_IP": None,
    "IDLE_TIMEOUT": None,
    "ABSOLUTE_TIMEOUT": None,
    "TIMEOUT_PRESET": None,
    "REAUTH_WINDOW": 600,
    "REAUTH": "auto",
    "NEW_DEVICE_ALERTS": True,
    "NEW_DEVICE_WINDOW": 90,
    "NEW_DEVICE_ALERTS_PER_HOUR": 3,
    "PASSWORD_CHANGE_URL": None,  # see URL_DEFAULTS
    "PASSWORD_LIMITS": {},  # throttle.DEFAULT_LIMITS, each overridable; None: no limits
    "PASSWORD_LIMITS_CACHE": "default",
    "PASSWORD_LIMITS_CACHE_DOWN": "refuse",
    "SITE_URL": None,
    "HISTORY_DAYS": 90,
    "MAX_SESSIONS": None,
    "LIMIT_POLICY": "end_oldest",
    "LIMIT_EXEMPT_STAFF": False,
    "UNSEEN_SESSIONS_FOR": None,  # seconds; None: SESSION_COOKIE_AGE
    "DEVICE_BOUND": False,  # DBSC, see binding.py
    "DEVICE_BOUND_COOKIE_NAME": "sessions_mgmt_bound",
    "DEVICE_BOUND_COOKIE_AGE": 600,
    "DEVICE_BOUND_REFUSED": "anonymous",  # or "sign_in"
}

#: Where the app sends people when these settings are not set: django-allauth's URL names
#: when it is installed, else Django's own auth views'. A system check (``E004``) says at
#: start-up when the one in force does not reverse.
URL_DEFAULTS = {
    "LOGOUT_URL": ("account_logout", "logout"),
    "PASSWORD_CHANGE_URL": ("account_change_password", "password_change"),
}

#: Named server-side timeouts (idle, absolute), in seconds, after NIST SP 800-63B §7.
TIMEOUT_PRESETS = {
    "AAL1": (None, 30 * 24 * 3600),
    "AAL2": (30 * 60, 12 * 3600),
}


#: Django settings the app reads on every request, kept like its own (``app_settings.X``).
DJANGO_SETTINGS = (
    "SESSION_ENGINE",
    "SESSION_COOKIE_NAME",
    "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_COOKIE_AGE",
    "AUTHENTICATION_BACKENDS",
)


class AppSettings:
    """Attribute access to ``SESSIONS_MGMT_<NAME>`` with the documented default.

    Values are read once and kept as plain attributes of this object, since the
    middleware reads some on every request (a kept value costs an attribute lookup, not a
    call); Django's ``setting_changed`` signal (``override_settings``, the ``settings``
    test fixture) clears them.
    """

    prefix = "SESSIONS_MGMT_"

    def __init__(self) -> None:
        self._cache: dict = {}

    def peek(self, key: str, default=None):
        """A value ``memo`` has kept, or ``default`` if it has not been worked out yet."""
        return self._cache.get(key, default)

    def memo(self, key: str, compute):
        """A value derived from settings, computed once until they change."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute()
            return value

    def timeouts(self) -> tuple[int | None, int | None]:
        """(idle, absolute) in seconds: the preset's, overridden by explicit settings."""
        if "timeouts" not in self._cache:
            idle, absolute = TIMEOUT_PRESETS.get(self.TIMEOUT_PRESET, (None, None))
            if hasattr(settings, self.prefix + "IDLE_TIMEOUT"):
                idle = self.IDLE_TIMEOUT
            if hasattr(settings, self.prefix + "ABSOLUTE_TIMEOUT"):
                absolute = self.ABSOLUTE_TIMEOUT
            self._cache["timeouts"] = (idle, absolute)
        return self._cache["timeouts"]

    def __getattr__(self, name: str):
        if name in DJANGO_SETTINGS:  # Django's own, read on every request: kept the same way
            value = getattr(settings, name)
            setattr(self, name, value)
            return value
        if name not in DEFAULTS:
            raise AttributeError(name)
        try:
            return self._cache[name]
        except KeyError:
            value = getattr(settings, self.prefix + name, DEFAULTS[name])
            if value is None and name in URL_DEFAULTS:
                allauth, django = URL_DEFAULTS[name]
                value = allauth if apps.is_installed("allauth.account") else django
            self._cache[name] = value
            setattr(self, name, value)  # next time, found without calling __getattr__
            return value

    def reload(self) -> None:
        self._cache.clear()
        for name in (*DEFAULTS, *DJANGO_SETTINGS):
            self.__dict__.pop(name, None)


app_settings = AppSettings()


@receiver(setting_changed)
def _reload(setting: str, **kwargs) -> None:
    # SESSION_ENGINE too: what the timeouts must check depends on the engine; the secret
    # keys: the bound cookie's signer is kept (binding.py).
    if setting.startswith(AppSettings.prefix) or setting in (
        *DJANGO_SETTINGS,
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
    ):
        app_settings.reload()
