"""Faults and races against the real services: a Redis that goes away mid-revoke, requests
in flight while their session is revoked, concurrent revokes, and hostile cookies."""

import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from sessions_mgmt import services
from sessions_mgmt.internal import store
from sessions_mgmt.models import DeviceSession

from . import urls as test_urls
from .conftest import (
    DEVICES_URL,
    ENGINES,
    IPHONE_SAFARI,
    LOGIN_URL,
    MAC_CHROME,
    WINDOWS_FIREFOX,
    is_signed_in,
    session_key_of,
    store_has,
)
from .factories import PASSWORD, UserFactory
from .http import Browser


class PrivateRedis:
    """A Redis of our own on a spare port, which keeps its data across a restart (AOF), so
    it can be stopped and started without touching the shared one."""

    def __init__(self, directory) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path, settings):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def redis_dies_while_revoking(monkeypatch, private_redis):
    """Redis stops after the request has loaded its session, right before the revoke."""
    real = store.delete_keys

    def stop_then_delete(keys, **kwargs):
        private_redis.stop()
        return real(keys, **kwargs)

    monkeypatch.setattr(store, "delete_keys", stop_then_delete)
    return monkeypatch


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize("engine_name", ["cache", "cached_db"])
def test_redis_down_while_revoking_hides_nothing(
    engine_name, settings, private_redis, redis_dies_while_revoking, user, sign_in
):
    settings.SESSION_ENGINE = ENGINES[engine_name]
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    phone_row = DeviceSession.objects.get(session_key=session_key_of(phone))

    response = laptop.post(f"{DEVICES_URL}{phone_row.public_id}/sign-out/")
    assert response.status_code == 302
    private_redis.start()
    page = laptop.get(DEVICES_URL).content.decode()
    assert "We could not sign that device out just now. Nothing was changed" in page
    assert "Safari on iPhone" in page
    assert is_signed_in(phone)

    # Through the API too: Redis stops again mid-revoke; the answer is a JSON error.
    api = laptop.delete(f"/me/sessions/{phone_row.public_id}")
    assert api.status_code == 503
    assert api.json()["error"].startswith("The session store is unavailable.")
    private_redis.start()
    assert is_signed_in(phone)

    redis_dies_while_revoking.undo()
    response = laptop.post(f"{DEVICES_URL}{phone_row.public_id}/sign-out/", follow=True)
    assert "Signed out of Safari on iPhone." in response.content.decode()
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)


# --- Races, with a live server and real threads (PostgreSQL: a connection per thread) ---


@pytest.fixture
def browsers(live_server, transactional_db):
    user = UserFactory()

    def open_browser(user_agent: str = MAC_CHROME, sign_in_as=user) -> Browser:
        browser = Browser(live_server.url, user_agent, settings.SESSION_COOKIE_NAME)
        browser.sign_in(sign_in_as.get_username(), PASSWORD)
        return browser

    open_browser.user = user
    return open_browser


def store_keys_alive(keys) -> set:
    return services.alive_store_keys(list(keys))


@pytest.mark.postgres
@pytest.mark.urls("tests.urls")
@pytest.mark.parametrize("touch_due", [False, True])
def test_requests_in_flight_cannot_bring_a_revoked_session_back(browsers, settings, touch_due):
    if touch_due:
        settings.SESSIONS_MGMT_TOUCH_INTERVAL = 0
    laptop = browsers(MAC_CHROME)
    phone = browsers(IPHONE_SAFARI)
    phone_key = phone.session_key

    with ThreadPoolExecutor(max_workers=8) as pool:
        in_flight = [pool.submit(phone.get, "/slow-write/") for _ in range(8)]
        try:
            for _ in in_flight:  # every request has loaded its session and waits in the view
                assert test_urls.ARRIVED.acquire(timeout=10)
            row = DeviceSession.objects.get(session_key=phone_key)
            revoked = laptop.post_form(DEVICES_URL, f"{DEVICES_URL}{row.public_id}/sign-out/")
        finally:
            test_urls.RELEASE.set()  # now they all write to the revoked session
        statuses = [future.result().status for future in in_flight]
        test_urls.RELEASE.clear()

    assert revoked.status == 302
    assert all(status in (200, 400) for status in statuses), statuses
    for _ in range(3):
        assert not phone.signed_in()
    assert not store_has(phone_key)
    assert not DeviceSession.objects.filter(session_key=phone_key).exists()
    assert list(DeviceSession.objects.values_list("session_key", flat=True)) == [laptop.session_key]
    assert laptop.signed_in()


@pytest.mark.postgres
@pytest.mark.urls("tests.urls")
def test_two_tabs_revoking_the_same_session(browsers):
    laptop = browsers(MAC_CHROME)
    phone = browsers(IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=phone.session_key)
    barrier = threading.Barrier(2)

    def revoke_in_a_tab():
        html = laptop.get(DEVICES_URL).body
        barrier.wait()
        token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        return laptop.request(
            "POST", f"{DEVICES_URL}{row.public_id}/sign-out/", {"csrfmiddlewaretoken": token}
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: revoke_in_a_tab(), range(2)))

    assert all(a.status == 302 or (a.status == 404 and "already" in a.body) for a in answers)
    assert any(a.status == 302 for a in answers)
    assert not phone.signed_in()
    assert laptop.signed_in()


@pytest.mark.postgres
@pytest.mark.urls("tests.urls")
def test_signing_out_others_while_a_new_device_signs_in(browsers):
    laptop = browsers(MAC_CHROME)
    user = browsers.user
    others = [browsers(WINDOWS_FIREFOX) for _ in range(3)]
    newcomers = []
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=2) as pool:
            # (the CSRF token from any page with a form: the sign-in page always has one)
            revoking = pool.submit(laptop.post_form, LOGIN_URL, f"{DEVICES_URL}sign-out-others/")
            signing_in = pool.submit(browsers, IPHONE_SAFARI)
            assert revoking.result().status == 302
            newcomers.append(signing_in.result())

    # No live session is hidden: the listed rows are exactly the sessions that work.
    listed = set(DeviceSession.objects.filter(user=user).values_list("session_key", flat=True))
    working = {b.session_key for b in [laptop, *others, *newcomers] if b.signed_in()}
    assert listed == working
    assert store_keys_alive(listed) == listed
    assert laptop.session_key in working
    assert not any(o.signed_in() for o in others)


# --- Hostile cookies ---

GARBAGE = [
    "0" * 32,  # well formed, but no such session
    "x" * 7,  # too short to be a key
    "!!not-a-key!!",
    "a" * 4000,
    "../../etc/passwd",
]


@pytest.mark.django_db
@pytest.mark.urls("tests.urls")
@pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")
@pytest.mark.parametrize("cookie", GARBAGE)
def test_stale_or_garbage_session_cookie_is_anonymous(engine, cookie):
    DeviceSession.objects.all().delete()
    sessions_before = Session.objects.count()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert client.get("/whoami/").content == b""
    assert client.get(DEVICES_URL).status_code == 302
    assert client.post(f"{DEVICES_URL}sign-out-others/").status_code == 302
    assert client.get("/me/sessions").status_code == 401
    assert not DeviceSession.objects.exists()
    assert Session.objects.count() == sessions_before
    if cookie.isalnum() and len(cookie) <= 40:
        assert not store_has(cookie)


# --- PostgreSQL enforces what SQLite lets slide ---


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("user_agent", "remote_addr"),
    [
        (MAC_CHROME + " " + "y" * 9000, "203.0.113.9"),
        (IPHONE_SAFARI, "fe80::1ff:fe23:4567:890a%eth0"),
        ("Mozilla/5.0 (X11; Linux) 🦄 مرحبا\u202e 世界 Ω\u0301 \x00\x1b[31m", "2001:db8::7"),
        ("🦄" * 600, "::ffff:192.0.2.128"),
    ],
)
def test_postgres_takes_any_header_and_address(user, sign_in, user_agent, remote_addr):
    laptop = sign_in(user, user_agent, REMOTE_ADDR=remote_addr)
    row = DeviceSession.objects.get(session_key=session_key_of(laptop))
    assert len(row.user_agent) <= 512 and "\x00" not in row.user_agent
    assert row.ip is not None and "%" not in row.ip
    assert laptop.get(DEVICES_URL).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ["cache"], indirect=True)
def test_the_list_with_the_store_unreachable_hides_nothing(engine, user, sign_in, monkeypatch):
    from django.core.cache import caches

    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    assert is_signed_in(phone)
    rows = list(DeviceSession.objects.filter(user=user))

    def refuse(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(type(caches["default"]), "get_many", refuse)
    listed = services.list_devices(user, session_key_of(laptop))
    assert {row.pk for row in listed} == {row.pk for row in rows}
