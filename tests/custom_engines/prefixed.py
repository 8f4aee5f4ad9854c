"""SESSION_ENGINE = "tests.custom_engines.prefixed"."""

from . import PrefixedStore as SessionStore

__all__ = ["SessionStore"]
