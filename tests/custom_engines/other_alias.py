"""SESSION_ENGINE = "tests.custom_engines.other_alias"."""

from . import OtherAliasStore as SessionStore

__all__ = ["SessionStore"]
