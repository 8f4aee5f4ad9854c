"""Issue 14 §1: liveness (last active, IP, expiry) lives in the session, which lists read in
one round trip; a touch writes nothing to the device row."""

from collections import Counter
from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_mgmt.internal.state import write as write_state
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, is_signed_in, session_key_of
from .factories import store_session

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

DEVICE_TABLE = DeviceSession._meta.db_table
CACHE_METHODS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "touch")


class CacheCalls:
    """Counts the calls made to the session cache, each one a round trip to Redis (the
    local-memory cache's ``get_many`` calls ``get`` per key: only outer calls count)."""

    def __init__(self, monkeypatch) -> None:
        self.calls: Counter = Counter()
        self.depth = 0
        cache = caches[settings.SESSION_CACHE_ALIAS]
        for name in CACHE_METHODS:
            original = getattr(cache, name)

            def counted(*args, _name=name, _original=original, **kwargs):
                if not self.depth:
                    self.calls[_name] += 1
                self.depth += 1
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.depth -= 1

            monkeypatch.setattr(cache, name, counted)

    def total(self) -> int:
        return sum(self.calls.values())


def other_sessions(user, count: int, *, ip_of=lambda i: f"198.51.100.{i % 250 + 1}") -> None:
    """``count`` more signed-in sessions of ``user``, each with a row and, in the session,
    a last touch newer than the row's copy (as a session that has been used since)."""
    keys = [store_session(user) for _ in range(count)]
    signed_in = timezone.now() - timedelta(hours=1)
    rows = DeviceSession.objects.bulk_create(
        DeviceSession(
            user=user,
            session_key=key,
            created_at=signed_in,
            last_active_at=signed_in,
            device_name="Firefox on Linux",
            ip="192.0.2.1",
            expires_at=timezone.now() + timedelta(days=14),
        )
        for key in keys
    )
    store = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"]).SessionStore
    now = timezone.now().timestamp()
    for i, row in enumerate(rows):
        session = store(row.session_key)
        session.load()
        touched = int(now) - i  # each one a second older than the last
        state = {"id": row.pk, "t": touched, "s": touched, "a": touched, "ip": ip_of(i)}
        write_state(session, {**state, "x": now + 86400})
        session.save()


def round_trips(client: Client, path: str, monkeypatch) -> tuple[int, int]:
    """The database queries and session-cache calls of one request."""
    calls = CacheCalls(monkeypatch)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    monkeypatch.undo()
    return len(ctx.captured_queries), calls.total()


@pytest.mark.parametrize("path", [DEVICES_URL, "/me/sessions"], ids=["page", "api"])
def test_the_list_takes_the_same_round_trips_for_5_50_and_500_sessions(
    engine, user, sign_in, monkeypatch, path, settings
):
    cache = settings.CACHES["default"]
    if cache["BACKEND"].endswith("LocMemCache"):  # room for 500 sessions (it culls at 300)
        settings.CACHES = {"default": {**cache, "OPTIONS": {"MAX_ENTRIES": 2000}}}
    laptop = sign_in(user)
    baseline = round_trips(laptop, "/whoami/", monkeypatch)  # loading the session and user
    figures = []
    for total in (5, 50, 500):
        other_sessions(user, total - DeviceSession.objects.filter(user=user).count())
        queries, cache_calls = round_trips(laptop, path, monkeypatch)
        figures.append((queries - baseline[0], cache_calls - baseline[1]))
    assert figures[0] == figures[1] == figures[2], figures
    extra_queries, extra_cache_calls = figures[0]
    assert extra_queries <= 4
    assert extra_cache_calls <= (1 if engine in ("cache",) else 0)


def test_the_list_shows_what_the_sessions_say_not_the_rows(engine, user, sign_in):
    laptop = sign_in(user)
    other_sessions(user, 3, ip_of=lambda i: f"203.0.113.{i + 1}")
    listed = laptop.get("/me/sessions").json()
    assert [device["ip"] for device in listed[1:]] == ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    last_active = [datetime.fromisoformat(device["lastActiveAt"]) for device in listed[1:]]
    assert last_active == sorted(last_active, reverse=True)  # most recently active first
    expiries = [datetime.fromisoformat(device["expiresAt"]) for device in listed[1:]]
    assert all(expiry < timezone.now() + timedelta(days=2) for expiry in expiries)
    for device in listed[1:]:  # each device's page, where its address is shown
        page = laptop.get(f"{DEVICES_URL}{device['id']}/").content.decode()
        last_seen_from = page.split("Last seen from")[1].split("</dd>")[0]
        assert device["ip"] in last_seen_from
        assert "192.0.2.1" not in last_seen_from  # the row's stale copy


def test_an_hour_of_touches_writes_nothing_to_the_rows(engine, user, sign_in, settings):
    """Sixty touches (one a minute): no write to the device table at all; on the cache
    engine no database write whatever; on db engines one session save per touch."""
    laptop = sign_in(user)
    start = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        for minute in range(1, 61):
            with time_machine.travel(start + timedelta(seconds=61 * minute), tick=False):
                assert laptop.get("/whoami/").content.decode() == user.username
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))
    ]
    assert not [sql for sql in writes if DEVICE_TABLE in sql]
    if engine == "cache" or engine == "file":
        assert writes == []
    else:
        assert len(writes) == 60 and all("django_session" in sql for sql in writes)
    (listed,) = laptop.get("/me/sessions").json()
    last_touch = start + timedelta(seconds=61 * 60)
    assert abs(datetime.fromisoformat(listed["lastActiveAt"]) - last_touch) < timedelta(seconds=1)


def test_the_admin_lists_the_sessions_live_values(engine, user, sign_in, admin_client):
    laptop = sign_in(user, REMOTE_ADDR="192.0.2.1")
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        laptop.get("/whoami/", REMOTE_ADDR="203.0.113.77")
    changelist = admin_client.get("/admin/sessions_mgmt/devicesession/").content.decode()
    assert "203.0.113.77" in changelist
    row = DeviceSession.objects.get(session_key=session_key_of(laptop))
    assert row.ip == "192.0.2.1"  # the copy: not written by the touch
    change = admin_client.get(f"/admin/sessions_mgmt/devicesession/{row.pk}/change/")
    assert "203.0.113.77" in change.content.decode()


def test_inactive_for_decides_by_the_sessions_activity_not_the_rows_copy(engine, user, sign_in):
    """The row's copy of "last active" is as old as the sign-in; the session was used
    yesterday. ``--inactive-for 2d`` must end only the session really idle that long."""
    used = sign_in(user)
    idle = sign_in(user)
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=2), tick=False):
        assert used.get("/whoami/").content.decode() == user.username
    with time_machine.travel(start + timedelta(days=3), tick=False):
        call_command("revoke_sessions", "--inactive-for", "2d", stdout=StringIO())
    assert is_signed_in(used)
    assert not is_signed_in(idle)
    row = DeviceSession.objects.get(session_key=session_key_of(used))
    assert row.last_active_at >= start + timedelta(days=2)  # brought up to date on the way
