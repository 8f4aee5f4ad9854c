"""One measured process for instructions.py: a minimal stack (session + auth middleware,
SQLite, the db session engine), with or without sessions_mgmt, that makes N authenticated
GETs of a view reading ``request.user`` after the same set-up.

    python instructions_worker.py setup DB          migrate, create the user (natively)
    python instructions_worker.py plain|app DB N    the measured run (under callgrind)
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

mode, db = sys.argv[1], sys.argv[2]
with_app = mode in ("app", "setup")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def whoami(request):
    return HttpResponse(request.user.get_username())


urlpatterns = [path("whoami/", whoami)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="instructions-bench-not-a-secret",
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        *(["sessions_mgmt"] if with_app else []),
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        *(["sessions_mgmt.middleware.DeviceSessionMiddleware"] if with_app else []),
    ],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    SESSIONS_MGMT_NEW_DEVICE_ALERTS=False,
    # The steady state: sessions from before the app can no longer exist (unseen.py). Set
    # UNSEEN_FOR=1209600 to measure the first SESSION_COOKIE_AGE after installing it.
    SESSIONS_MGMT_UNSEEN_SESSIONS_FOR=int(os.environ.get("UNSEEN_FOR", "0")),
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

if mode == "setup":
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    get_user_model().objects.create_user("bench", password="bench-password")
    sys.exit(0)

n = int(sys.argv[3])
work = f"{db}.{mode}.{n}"
shutil.copyfile(db, work)
settings.DATABASES["default"]["NAME"] = work
client = Client()
assert client.login(username="bench", password="bench-password")
for _ in range(5):  # warm up: imports, URL resolver, first touch
    assert client.get("/whoami/").content == b"bench"
for _ in range(n):
    response = client.get("/whoami/")
    assert response.content == b"bench", response
