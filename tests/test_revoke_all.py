"""Issue 14 §4: ``revoke_sessions --all`` ends everyone's sessions batch by batch, and on
PostgreSQL with the db engine each batch is one server-side statement; every engine and
database ends the same sessions and leaves the same history."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_mgmt.models import DeviceSession, SessionEvent
from sessions_mgmt.signals import session_revoked

from .conftest import MAC_CHROME, is_signed_in, store_has
from .factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def test_all_ends_every_session_with_its_event_and_signal(engine, sign_in):
    users = UserFactory.create_batch(2)
    clients = [sign_in(user, MAC_CHROME) for user in users for _ in range(3)]
    keys = list(DeviceSession.objects.values_list("session_key", flat=True))
    ended = []

    def receiver(sender, sessions, reason, **kwargs):
        ended.extend((row.public_id, reason) for row in sessions)

    session_revoked.connect(receiver)
    try:
        out = StringIO()
        call_command("revoke_sessions", "--all", "--no-input", "--batch-size", "4", stdout=out)
    finally:
        session_revoked.disconnect(receiver)
    assert out.getvalue().strip() == "Revoked 6 sessions of 2 users."
    assert not DeviceSession.objects.exists()
    assert not any(store_has(key) for key in keys)
    assert not any(is_signed_in(client) for client in clients)
    events = SessionEvent.objects.filter(type=SessionEvent.Type.REVOKED)
    assert sorted(events.values_list("reason", flat=True)) == ["command"] * 6
    assert {event.session_id for event in events} == {public_id for public_id, _ in ended}
    assert all(event.device_name == "Chrome on macOS" and event.ip for event in events)
    assert len(ended) == 6 and {reason for _, reason in ended} == {"command"}


@pytest.mark.postgres
def test_on_postgresql_with_the_db_engine_each_batch_is_one_statement(sign_in, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    user = UserFactory()
    for _ in range(5):
        sign_in(user, MAC_CHROME)
    with CaptureQueriesContext(connection) as ctx:
        call_command(
            "revoke_sessions", "--all", "--no-input", "--batch-size", "2", stdout=StringIO()
        )
    work = [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
        and "COUNT(" not in q["sql"]  # the command's own count, for its confirmation
    ]
    cutoffs = [sql for sql in work if "sessions_mgmt_unseencutoff" in sql]
    assert len(cutoffs) == 1  # once a run: sessions from before the app end too (unseen.py)
    work = [sql for sql in work if sql not in cutoffs]
    assert len(work) == 3, work  # 2 + 2 + 1 sessions: rows, sessions and events at once
    assert not DeviceSession.objects.exists()
    assert SessionEvent.objects.filter(type=SessionEvent.Type.REVOKED).count() == 5
