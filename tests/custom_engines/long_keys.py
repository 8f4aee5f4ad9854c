"""SESSION_ENGINE = "tests.custom_engines.long_keys"."""

from . import LongKeyStore as SessionStore

__all__ = ["SessionStore"]
