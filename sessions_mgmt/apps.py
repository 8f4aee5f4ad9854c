from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsMgmtConfig(AppConfig):
    name = "sessions_mgmt"
    verbose_name = _("Signed-in devices")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)

        receivers.connect_user_proxies()
