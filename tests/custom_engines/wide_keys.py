"""SESSION_ENGINE = "tests.custom_engines.wide_keys"."""

from . import WideKeyDbStore as SessionStore

__all__ = ["SessionStore"]
