"""SESSION_ENGINE = "tests.custom_engines.tenant"."""

from . import TenantStore as SessionStore

__all__ = ["SessionStore"]
