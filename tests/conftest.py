from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
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

ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "file": "django.contrib.sessions.backends.file",
}

DEVICES_URL = "/accounts/devices/"
LOGIN_URL = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(params=list(ENGINES))
def engine(request, settings, tmp_path):
    """Run the test once per supported session engine (locmem cache; Redis is tested apart)."""
    settings.SESSION_ENGINE = ENGINES[request.param]
    settings.SESSION_FILE_PATH = str(tmp_path)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"sessions-{request.node.nodeid}",
        }
    }
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
    """Whether the configured session store still holds this session."""
    return import_module(django_settings.SESSION_ENGINE).SessionStore().exists(session_key)


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
    """The cache refuses to delete, as an unreachable Redis would (use with a cache engine)."""

    def refuse(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(type(caches["default"]), "delete_many", refuse)
