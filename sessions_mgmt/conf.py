"""The app's settings, all named ``SESSIONS_MGMT_*``, read at use so tests can override them.

- ``SESSIONS_MGMT_TOUCH_INTERVAL`` (``60``): seconds between two updates of a row's
  "last active", IP and expiry; inside it a request costs no query.
- ``SESSIONS_MGMT_REVOKE_BATCH_SIZE`` (``500``): sessions ended per batch (one bulk delete
  or ``delete_many`` each).
"""

from django.conf import settings

DEFAULTS = {
    "TOUCH_INTERVAL": 60,
    "REVOKE_BATCH_SIZE": 500,
    "LOGOUT_URL": "logout",
    "SIGN_OUT_ON_PASSWORD_CHANGE": True,
    "CLIENT_IP": None,
    "IDLE_TIMEOUT": None,
    "ABSOLUTE_TIMEOUT": None,
    "TIMEOUT_PRESET": None,
    "REAUTH_WINDOW": 600,
    "NEW_DEVICE_ALERTS": True,
    "NEW_DEVICE_WINDOW": 90,
    "PASSWORD_CHANGE_URL": "password_change",
}

#: Named server-side timeouts (idle, absolute), in seconds, after NIST SP 800-63B §7.
TIMEOUT_PRESETS = {
    "AAL1": (None, 30 * 24 * 3600),
    "AAL2": (30 * 60, 12 * 3600),
}


class AppSettings:
    """Attribute access to ``SESSIONS_MGMT_<NAME>`` with the documented default."""

    prefix = "SESSIONS_MGMT_"

    def timeouts(self) -> tuple[int | None, int | None]:
        """(idle, absolute) in seconds: the preset's, overridden by explicit settings."""
        idle, absolute = TIMEOUT_PRESETS.get(self.TIMEOUT_PRESET, (None, None))
        if hasattr(settings, self.prefix + "IDLE_TIMEOUT"):
            idle = self.IDLE_TIMEOUT
        if hasattr(settings, self.prefix + "ABSOLUTE_TIMEOUT"):
            absolute = self.ABSOLUTE_TIMEOUT
        return idle, absolute

    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, self.prefix + name, DEFAULTS[name])


app_settings = AppSettings()
