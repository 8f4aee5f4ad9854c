"""Issue 14 §3: a sign-in commits no more often than plain Django's, adds at most four
statements with a known device, writes the known device at most once a day, and sends its
new-device mail only once the sign-in has committed."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.base import UpdateError
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_mgmt import receivers
from sessions_mgmt.checks import MIDDLEWARE_PATH
from sessions_mgmt.models import DeviceSession, KnownDevice, SessionEvent

from .conftest import LOGIN_URL, MAC_CHROME, WINDOWS_FIREFOX
from .factories import PASSWORD

pytestmark = [pytest.mark.urls("tests.urls")]

KNOWN_TABLE = KnownDevice._meta.db_table


def sign_in_statements(user, user_agent: str = MAC_CHROME) -> list[str]:
    """The SQL of one sign-in through the real login form, outside any test transaction."""
    client = Client(headers={"user-agent": user_agent})
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return [q["sql"] for q in ctx.captured_queries]


def shape(sql: str) -> str:
    """What a statement does, without its values: "INSERT sessions_mgmt_devicesession",
    "SAVEPOINT", "COMMIT"."""
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}"
    if verb == "UPDATE":
        return f"{verb} {words[1]}"
    if verb == "SELECT":
        return f"SELECT {words[words.index('FROM') + 1]}" if "FROM" in words else "SELECT"
    return verb  # BEGIN, COMMIT, SAVEPOINT, RELEASE


def commits(statements: list[str]) -> int:
    return sum(1 for sql in statements if sql.upper().startswith("COMMIT"))


@pytest.fixture
def plain_django(settings):
    """Switch the app off (its middleware and sign-in receiver), then back on."""

    def switch(on: bool) -> None:
        if on:
            settings.MIDDLEWARE = middleware
            user_logged_in.connect(receivers.track_sign_in, dispatch_uid=UID)
        else:
            settings.MIDDLEWARE = [m for m in middleware if m != MIDDLEWARE_PATH]
            user_logged_in.disconnect(dispatch_uid=UID)

    UID = "sessions_mgmt.track_sign_in"
    middleware = list(settings.MIDDLEWARE)
    yield switch
    switch(True)


@pytest.mark.django_db(transaction=True)
def test_a_known_device_signs_in_with_at_most_four_more_statements_and_no_more_commits(
    engine, user, plain_django
):
    sign_in_statements(user)  # the first sign-in: the kind of device becomes known
    plain_django(False)
    plain = sign_in_statements(user)
    plain_django(True)
    with_app = sign_in_statements(user)
    extra = Counter(map(shape, with_app)) - Counter(map(shape, plain))
    assert DeviceSession.objects.filter(user=user).count() == 2  # tracked, both
    assert sum(extra.values()) <= 4, list(extra.elements())
    assert not [sql for sql in with_app if KNOWN_TABLE in sql]  # seen today: not written
    if engine in ("db", "cached_db"):  # the row and event go into the session's transaction
        assert commits(with_app) == commits(plain)
    else:  # Django's own sign-in commits nothing here; the app commits its two rows once
        assert commits(with_app) == commits(plain) + 1


@pytest.mark.django_db(transaction=True)
def test_the_known_device_is_written_when_new_and_then_at_most_once_a_day(user, settings):
    # A cache that follows the moved clock (Redis keeps real time).
    locmem = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "day"}
    settings.CACHES = {"default": locmem}
    start = timezone.now()
    assert [sql for sql in sign_in_statements(user) if KNOWN_TABLE in sql]  # new: written
    seen = KnownDevice.objects.get(user=user).last_seen_at
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert not [sql for sql in sign_in_statements(user) if KNOWN_TABLE in sql]
    assert KnownDevice.objects.get(user=user).last_seen_at == seen
    later = start + timedelta(hours=25)
    with time_machine.travel(later, tick=False):
        writes = [sql for sql in sign_in_statements(user) if sql.startswith("UPDATE")]
    assert [sql for sql in writes if KNOWN_TABLE in sql]
    assert KnownDevice.objects.get(user=user).last_seen_at == later


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_whose_session_save_fails_is_not_signed_in_and_leaves_no_row(
    engine, user, monkeypatch, settings
):
    """The session is gone when the sign-in saves it (a revoke, an eviction). On database
    engines the save is inside the sign-in's transaction: nothing is committed and no mail
    goes out. On the others it follows the commit (so that a failed commit can never leave
    a signed-in session without a row): the row is removed again, and since the sign-in
    did happen, its event stays and a new device is still announced."""
    sign_in_statements(user, MAC_CHROME)  # the first device: no alert
    mail.outbox.clear()
    store = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"]).SessionStore
    real_save = store.save

    def save(self, must_create=False):
        if not must_create and "_smgmt" in self._session:  # the sign-in's final save
            raise UpdateError  # as when the session was deleted meanwhile
        return real_save(self, must_create)

    monkeypatch.setattr(store, "save", save)
    rows, events = DeviceSession.objects.count(), SessionEvent.objects.count()
    client = Client(headers={"user-agent": WINDOWS_FIREFOX})  # a new kind of device
    client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    monkeypatch.undo()
    assert client.get("/whoami/").content.decode() == ""  # not signed in
    assert DeviceSession.objects.count() == rows
    if engine in ("db", "cached_db"):
        assert mail.outbox == []
        assert SessionEvent.objects.count() == events
        assert not KnownDevice.objects.filter(browser="Firefox").exists()
        sign_in_statements(user, WINDOWS_FIREFOX)  # the same sign-in, committed, alerts
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_view_that_needs_the_row_right_after_login_gets_it(engine, user):
    """The row is written at the end of the sign-in request; ``sync()`` writes it at once
    for a view that needs it, and the end of the request then finds nothing more to add."""
    client = Client(headers={"user-agent": MAC_CHROME})
    response = client.post("/login-then-count/", {"username": user.username})
    assert response.content == b"1"
    assert client.get("/whoami/").content.decode() == user.username
    (row,) = DeviceSession.objects.filter(user=user)
    assert row.session_key == client.cookies["sessionid"].value
    assert SessionEvent.objects.filter(user=user, type="signed_in").count() == 1
    (listed,) = client.get("/me/sessions").json()
    assert listed["isCurrent"] is True
