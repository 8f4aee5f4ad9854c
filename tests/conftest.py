import os
import uuid
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.db import connections
from django.test import Client
from django.urls import reverse

from .factories import PASSWORD, UserFactory

MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"

REDIS_URL = os.environ.get("REDIS_URL")

# The app's suite runs on its own minimal settings (tests/settings.py); the demo's tests
# (tests/demo/) need the demo's, and run on their own: pytest --ds=config.settings tests/demo
DEMO = django_settings.SETTINGS_MODULE == "config.settings"
collect_ignore = [] if DEMO else ["demo"]

ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "file": "django.contrib.sessions.backends.file",
}

# A second database for the replica test (tests/routers.py); created only for tests that
# ask for it (pytest-django sets up the databases the collected tests use).
django_settings.DATABASES.setdefault(
    "replica",
    connections.configure_settings(
        {
            "default": {"ENGINE": "django.db.backends.sqlite3"},
            "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        }
    )["replica"],
)

DEVICES_URL = "/accounts/devices/"
LOGIN_URL = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Counters kept in the cache (wrong passwords) must not leak from test to test. Cleared
    before the test, while the run's own cache is configured (a test may point the cache
    at a server it stops)."""
    caches["default"].clear()


def test_cache(node_id: str) -> dict:
    """The real Redis when REDIS_URL is set (a key prefix per test keeps tests apart), else
    a local-memory cache of the test's own."""
    if REDIS_URL:
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"t{uuid.uuid4().hex}",
        }
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": node_id}


@pytest.fixture(params=list(ENGINES))
def engine(request, settings, tmp_path):
    """Run the test once per supported session engine, on the cache of ``test_cache``."""
    settings.SESSION_ENGINE = ENGINES[request.param]
    settings.SESSION_FILE_PATH = str(tmp_path)
    settings.CACHES = {"default": test_cache(request.node.nodeid)}
    return request.param


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def sign_in(db):
    """Sign ``user`` in through the real login form from a browser with ``user_agent``."""

    def _sign_in(user, user_agent: str = MAC_CHROME, **environ) -> Client:
        client = Client(headers={"user-agent": user_agent}, **environ)
        response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, "sign-in failed"
        assert response.url == reverse("sessions_mgmt:device_list")
        return client

    return _sign_in


def store_has(session_key: str) -> bool:
    """Whether the configured session store still holds this signed-in session (what a
    cookie with this key would load). A revoked ``cached_db`` session may leave an empty
    entry in the cache until the revoke commits, which tests inside a transaction never do."""
    store = import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)
    return SESSION_KEY in store.load()


def session_key_of(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def is_signed_in(client: Client) -> bool:
    """Whether the client's cookie still authenticates: the devices page answers 200."""
    response = client.get(DEVICES_URL)
    if response.status_code == 302:
        assert response.url.startswith(LOGIN_URL)
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def broken_cache(monkeypatch, engine):
    """The cache refuses to end sessions (to delete them or overwrite them in bulk), as an
    unreachable Redis would (use with a cache engine)."""

    def refuse(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(type(caches["default"]), "delete_many", refuse)
    monkeypatch.setattr(type(caches["default"]), "set_many", refuse)


def _unreachable_services() -> list[str]:
    """Name each real service this run is configured to use that does not answer."""
    problems = []
    db = django_settings.DATABASES["default"]
    if "postgresql" in db["ENGINE"]:
        import psycopg

        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        try:
            psycopg.connect(
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"PostgreSQL at {where} is unreachable ({exc})")
    if "mysql" in db["ENGINE"]:
        import MySQLdb

        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 3306}"
        try:
            MySQLdb.connect(
                host=db.get("HOST") or "localhost",
                port=int(db.get("PORT") or 3306),
                user=db.get("USER") or "root",
                password=db.get("PASSWORD") or "",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"MariaDB/MySQL at {where} is unreachable ({exc})")
    if REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis at {REDIS_URL} is unreachable ({exc})")
    return problems


CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def _missing_browser_tools() -> list[str]:
    problems = []
    if not os.path.exists(CHROMIUM):
        problems.append(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        problems.append("Playwright for Python is not installed (pip install -e '.[e2e]')")
    if not AXE.exists():
        problems.append(f"axe-core is missing at {AXE} (npm ci)")
    return problems


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` run only on a PostgreSQL database, ``redis`` only with
    REDIS_URL set (others are deselected). An unreachable service skips the run with a
    reason that names it, except under CI=true, where it is an error."""
    on_postgres = "postgresql" in django_settings.DATABASES["default"]["ENGINE"]
    wanted = {
        "postgres": on_postgres,
        "redis": bool(REDIS_URL),
        "browser": os.environ.get("E2E") == "1",
        "screenshots": os.environ.get("SCREENSHOTS") == "1",
        "hosts": os.environ.get("HOSTS") == "1",
        "tooling": os.environ.get("HOSTS") == "1",  # once per matrix, with the hosts
        # Once per matrix: the run on PostgreSQL with cached_db on Redis.
        "servers": on_postgres
        and bool(REDIS_URL)
        and django_settings.SESSION_ENGINE.endswith(".cached_db"),
    }
    keep, drop = [], []
    for item in items:
        ok = all(wanted[m.name] for m in item.iter_markers() if m.name in wanted)
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep

    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    checks = [(_unreachable_services(), items)]
    if browser_items:
        checks.append((_missing_browser_tools(), browser_items))
    for problems, affected in checks:
        if not problems:
            continue
        reason = "; ".join(problems)
        if ci:
            raise pytest.UsageError(f"{reason}. Under CI=true what the tests need must be there.")
        for item in affected:
            item.add_marker(pytest.mark.skip(reason=reason))
