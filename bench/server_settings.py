"""The demo's settings for the app servers of ``servers.py``: DEBUG off (no query log),
plain HTTP on 127.0.0.1, a fast password hasher, and, with ``BENCH_WITH_APP=0``, plain
Django: the same site without sessions_mgmt's middleware."""

import os

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False  # the load client speaks plain HTTP
SECURE_SSL_REDIRECT = False
ROOT_URLCONF = "server_urls"
if os.environ.get("BENCH_WITH_APP", "1") == "0":
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "sessions_mgmt.middleware.DeviceSessionMiddleware"]
if os.environ.get("BENCH_WITH_APP") == "passthru":  # the middleware's place, doing nothing
    MIDDLEWARE = [
        "server_urls.PassThrough" if m == "sessions_mgmt.middleware.DeviceSessionMiddleware" else m
        for m in MIDDLEWARE
    ]
if os.environ.get("BENCH_REVOKE_BATCH"):  # to compare batch sizes
    SESSIONS_MGMT_REVOKE_BATCH_SIZE = int(os.environ["BENCH_REVOKE_BATCH"])
