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
}


class AppSettings:
    """Attribute access to ``SESSIONS_MGMT_<NAME>`` with the documented default."""

    prefix = "SESSIONS_MGMT_"

    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, self.prefix + name, DEFAULTS[name])


app_settings = AppSettings()
