"""The demo's settings for the ASGI benchmark's uvicorn servers: an async view, a fast
hasher, and the app's middleware taken out when BENCH_WITHOUT_APP is set."""

import os

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.asgi_urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
if os.environ.get("BENCH_WITHOUT_APP"):
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "sessions_mgmt.middleware.DeviceSessionMiddleware"]
