"""The middleware's cost: nothing in the steady state, one UPDATE and one session save after
the touch interval."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_mgmt.checks import MIDDLEWARE_PATH
from sessions_mgmt.models import DeviceSession

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

DEVICE_TABLE = DeviceSession._meta.db_table


def updates(sql: str, table: str) -> bool:
    """Whether ``sql`` updates ``table``, however the database quotes names."""
    return sql.startswith((f'UPDATE "{table}"', f"UPDATE `{table}`"))


def queries_of_request(client: Client) -> list[str]:
    """The SQL of one authenticated request to an ordinary view, through a fresh handler so
    the current MIDDLEWARE setting applies."""
    fresh = Client(headers={"user-agent": "same"})
    fresh.cookies = client.cookies
    with CaptureQueriesContext(connection) as ctx:
        response = fresh.get("/whoami/")
    assert response.status_code == 200 and response.content, "the request must be signed in"
    return [q["sql"] for q in ctx.captured_queries]


def without_app(settings) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]


def test_a_request_inside_the_interval_costs_no_query(engine, user, sign_in, settings):
    laptop = sign_in(user)
    middleware = list(settings.MIDDLEWARE)
    # A frozen clock, so the same request writes the same SQL to the letter.
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        with_app = queries_of_request(laptop)
        without_app(settings)
        assert queries_of_request(laptop) == with_app
        # And the same holds for many requests in a row.
        settings.MIDDLEWARE = middleware
        assert all(queries_of_request(laptop) == with_app for _ in range(5))


def test_a_request_after_the_interval_adds_one_update_and_one_session_save(
    engine, user, sign_in, settings
):
    laptop = sign_in(user)
    middleware = list(settings.MIDDLEWARE)
    later = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        without_app(settings)
        baseline = queries_of_request(laptop)
        settings.MIDDLEWARE = middleware
        with_app = queries_of_request(laptop)
        # The touch was recorded in the session: the next request is free again.
        assert queries_of_request(laptop) == baseline

    extra = Counter(with_app) - Counter(baseline)
    device_updates = [sql for sql in extra.elements() if updates(sql, DEVICE_TABLE)]
    assert len(device_updates) == 1
    rest = [sql for sql in extra.elements() if sql not in device_updates]
    session_writes = [sql for sql in rest if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    if engine in ("db", "cached_db"):
        assert len(session_writes) == 1
        assert updates(session_writes[0], "django_session")
    else:
        assert session_writes == []
    assert DeviceSession.objects.get(user=user).last_active_at == later
