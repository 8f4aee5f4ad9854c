"""Settings for Django's own test suite with sessions_mgmt installed (scripts/django_suite.py).

Django's ``tests/runtests.py`` takes its settings from ``test_sqlite`` (two in-memory SQLite
databases, ``default`` and ``other``) and then replaces ``INSTALLED_APPS`` and
``MIDDLEWARE`` with its own ``ALWAYS_INSTALLED_APPS`` / ``ALWAYS_MIDDLEWARE``; the app and
its middleware are added to those by ``run_runtests.py``. What is here is the rest of the
README's install section, and only what Django's test project needs on top of it.

``DJANGO_SUITE_MODE`` (set by the driver): ``app`` (the default: the README's install,
with ``ThrottledModelBackend``), ``app-model-backend`` (the same with Django's plain
``ModelBackend``, to tell the backend's share of a failure from the rest of the app's), or
``baseline`` (Django's suite as it is, without the app: what fails there is no business of
the app's).
"""

import os
import sys

from test_sqlite import *  # noqa: F403  (Django's own default test settings)

MODE = os.environ.get("DJANGO_SUITE_MODE", "app")

if MODE != "baseline" and "runtests" in sys.modules:
    # run_runtests.py added the app to runtests' lists before the run; a parallel worker
    # started by "spawn" or "forkserver" (macOS; Linux from Python 3.14) imports runtests
    # afresh and reads these settings before it uses those lists: add it there too.
    from run_runtests import install_app

    install_app(sys.modules["runtests"])

# ``--session-engine``: Django's default (db) unless told otherwise; test_sqlite's local
# memory cache serves cache and cached_db.
if os.environ.get("DJANGO_SUITE_SESSION_ENGINE"):
    SESSION_ENGINE = os.environ["DJANGO_SUITE_SESSION_ENGINE"]

if MODE == "app":
    # README, "Then count wrong passwords everywhere a password is checked".
    AUTHENTICATION_BACKENDS = ["sessions_mgmt.backends.ThrottledModelBackend"]

if MODE != "baseline":
    # Django's test project has no URL names "logout" / "password_change" in its (empty)
    # ROOT_URLCONF, which sessions_mgmt.E004 would stop at start-up; the README says to
    # point these settings at the project's own sign-out and password change, here by path.
    SESSIONS_MGMT_LOGOUT_URL = "/logout/"
    SESSIONS_MGMT_PASSWORD_CHANGE_URL = "/password_change/"

# Records every test's outcome for scripts/django_suite.py (DJANGO_SUITE_RESULTS), and
# leaves out the tests the expected list marks "skip".
TEST_RUNNER = "sessions_mgmt_suite_runner.RecordingRunner"
