"""The demo's settings for the live throttling test: a real password hash that takes some
milliseconds (as in production, where it takes far longer), so that guesses sent in
parallel really are checked at the same time."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["tests.hashers.QuickPBKDF2PasswordHasher"]

# Behind one proxy, which reports the client's address (X-Forwarded-For: client, proxy):
# the demo reads that from its environment (SESSIONS_MGMT_PROXY_COUNT, test_throttle_live).
