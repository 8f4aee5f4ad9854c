"""The middleware's cost: nothing in the steady state; after the touch interval, one read of
the row (is it still there?) and the session save, never a write to the row."""

from collections import Counter
from datetime import datetime, timedelta

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


def reads(sql: str, table: str) -> bool:
    return sql.startswith("SELECT") and table in sql


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


def test_a_request_after_the_interval_reads_the_row_and_saves_the_session_only(
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
    assert not [sql for sql in extra.elements() if updates(sql, DEVICE_TABLE)]
    row_reads = [sql for sql in extra.elements() if reads(sql, DEVICE_TABLE)]
    assert len(row_reads) == 1
    rest = [sql for sql in extra.elements() if sql not in row_reads]
    session_writes = [sql for sql in rest if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    if engine in ("db", "cached_db"):
        assert len(session_writes) == 1
        assert updates(session_writes[0], "django_session")
    else:
        assert session_writes == []
    (listed,) = laptop.get("/me/sessions").json()
    assert datetime.fromisoformat(listed["lastActiveAt"]) == later
