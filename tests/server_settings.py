"""The demo's settings for the app servers the multi-server test starts: the same site,
with a fast password hasher so that signing in many devices takes milliseconds."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
