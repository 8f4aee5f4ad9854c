"""manage.py revoke_sessions: selectors, dry run, confirmation, batches and bad input."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import factory
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, is_signed_in, store_has
from .factories import DeviceSessionFactory, UserFactory, store_session

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = StringIO()
    call_command("revoke_sessions", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.mark.parametrize("how", ["username", "email", "id"])
def test_revoke_by_user(engine, sign_in, how):
    alice = UserFactory(username="alice", email="alice@example.com")
    phone, laptop = sign_in(alice, IPHONE_SAFARI), sign_in(alice, MAC_CHROME)
    bob = sign_in(UserFactory(), MAC_CHROME)
    ident = {"username": "alice", "email": "ALICE@example.com", "id": str(alice.pk)}[how]
    assert run("--user", ident).strip() == "Revoked 2 sessions of 1 user."
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    assert is_signed_in(bob)


def test_repeated_user_and_thousands_separator(engine):
    users = UserFactory.create_batch(2)
    for u in users:
        DeviceSessionFactory.create_batch(2, user=u)
    out = run("--user", users[0].username, "--user", users[1].username, "--batch-size", "3")
    assert out.strip() == "Revoked 4 sessions of 2 users."
    assert not DeviceSession.objects.exists()


def test_all_with_no_input_revokes_everyone_in_batches(engine):
    rows = DeviceSessionFactory.create_batch(7)
    out = run("--all", "--no-input", "--batch-size", "2")
    assert out.strip() == "Revoked 7 sessions of 7 users."
    assert not DeviceSession.objects.exists()
    assert not any(store_has(row.session_key) for row in rows)


def test_all_asks_and_a_no_changes_nothing(monkeypatch):
    rows = DeviceSessionFactory.create_batch(2)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Cancelled: nothing was revoked."):
        run("--all")
    assert DeviceSession.objects.count() == 2
    assert all(store_has(row.session_key) for row in rows)

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert run("--all").strip() == "Revoked 2 sessions of 2 users."


def test_all_without_a_terminal_is_refused(monkeypatch):
    DeviceSessionFactory()

    def no_stdin(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    with pytest.raises(CommandError, match="Cancelled"):
        run("--all")
    assert DeviceSession.objects.count() == 1


def test_inactive_for(engine):
    now = timezone.now()
    stale = DeviceSessionFactory(last_active_at=now - timedelta(days=31))
    fresh = DeviceSessionFactory(last_active_at=now - timedelta(days=29))
    assert run("--inactive-for", "30d").strip() == "Revoked 1 session of 1 user."
    assert not store_has(stale.session_key)
    assert store_has(fresh.session_key)
    assert list(DeviceSession.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_expired_prunes_only_dead_rows(engine):
    live = DeviceSessionFactory()
    past = timezone.now() - timedelta(minutes=1)
    expired = DeviceSessionFactory(
        session_key=factory.LazyAttribute(lambda row: store_session(row.user, expiry=past)),
        expires_at=past,
    )
    vanished = DeviceSessionFactory(session_key="x" * 32)  # no such session in the store
    # A row whose copy of the expiry is out of date, but whose session still works.
    stale_copy = DeviceSessionFactory(expires_at=past)
    assert run("--expired", "--dry-run").strip() == "Would prune 2 expired or vanished sessions."
    assert DeviceSession.objects.count() == 4
    assert run("--expired").strip() == "Pruned 2 expired or vanished sessions."
    assert set(DeviceSession.objects.values_list("pk", flat=True)) == {live.pk, stale_copy.pk}
    assert store_has(live.session_key) and store_has(stale_copy.session_key)
    assert not DeviceSession.objects.filter(pk__in=[expired.pk, vanished.pk]).exists()


def test_dry_run_changes_nothing(engine):
    rows = DeviceSessionFactory.create_batch(3)
    out = run("--all", "--dry-run")
    assert "Would revoke 3 sessions of 3 users. (dry run)" in out
    assert rows[0].user.username in out
    assert DeviceSession.objects.count() == 3
    assert all(store_has(row.session_key) for row in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Say whose sessions to end"),
        (("--user", "nobody"), "No such user: 'nobody'. Nothing was revoked."),
        (("--user", "{a}", "--user", "ghost"), "No such user: 'ghost'"),
        (("--inactive-for", "30 days"), "is not a duration"),
        (("--inactive-for=-3d",), "is not a duration"),
        (("--all", "--batch-size", "0"), "--batch-size"),
        (("--all", "--batch-size", "many"), "--batch-size"),
        (("--all", "--user", "{a}"), "exclude each other"),
    ],
)
def test_bad_input_is_a_command_error_and_revokes_nothing(args, message):
    row = DeviceSessionFactory()
    args = [a.replace("{a}", row.user.username) for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args, interactive=False)
    assert DeviceSession.objects.count() == 1
    assert store_has(row.session_key)


def test_bad_input_exits_with_status_1(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "revoke_sessions", "--inactive-for", "soon"],
        capture_output=True,
        text=True,
        env={"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 1
    assert "is not a duration" in result.stderr


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_store_failure_is_a_command_error(broken_cache):
    rows = DeviceSessionFactory.create_batch(2)
    with pytest.raises(CommandError, match="The session store failed after 0 sessions"):
        run("--all", "--no-input")
    assert DeviceSession.objects.count() == 2
    assert all(store_has(row.session_key) for row in rows)


def test_long_runs_report_progress(monkeypatch):
    monkeypatch.setattr("sessions_mgmt.management.commands.revoke_sessions.PROGRESS_EVERY", 0.0)
    DeviceSessionFactory.create_batch(5)
    err = StringIO()
    call_command(
        "revoke_sessions", "--all", "--no-input", "--batch-size", "2", stdout=StringIO(), stderr=err
    )
    assert err.getvalue().splitlines() == [
        "  2 of 5 sessions revoked…",
        "  4 of 5 sessions revoked…",
        "  5 of 5 sessions revoked…",
    ]


def test_signed_in_before_an_iso_moment_ends_older_sessions_of_everyone(engine):
    """The incident cutoff: every session that signed in before the moment it began."""
    incident = timezone.now() - timedelta(hours=3)
    before = DeviceSessionFactory.create_batch(3, created_at=incident - timedelta(minutes=1))
    after = DeviceSessionFactory(created_at=incident + timedelta(minutes=1))
    when = incident.isoformat()
    assert run("--signed-in-before", when, "--dry-run").endswith(
        "Would revoke 3 sessions of 3 users. (dry run)\n"
    )
    assert DeviceSession.objects.count() == 4
    out = run("--signed-in-before", when, interactive=False)
    assert out.strip() == "Revoked 3 sessions of 3 users."
    assert not any(store_has(row.session_key) for row in before)
    assert store_has(after.session_key)


def test_signed_in_before_a_duration_and_with_a_user(engine):
    alice = UserFactory()
    now = timezone.now()
    old = DeviceSessionFactory(user=alice, created_at=now - timedelta(hours=13))
    new = DeviceSessionFactory(user=alice, created_at=now - timedelta(hours=11))
    someone_elses = DeviceSessionFactory(created_at=now - timedelta(days=2))
    out = run("--signed-in-before", "12h", "--user", alice.username)
    assert out.strip() == "Revoked 1 session of 1 user."
    assert not store_has(old.session_key)
    assert store_has(new.session_key) and store_has(someone_elses.session_key)


def test_signed_in_before_for_everyone_asks_first(monkeypatch):
    DeviceSessionFactory(created_at=timezone.now() - timedelta(days=1))
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Cancelled"):
        run("--signed-in-before", "1h")
    assert DeviceSession.objects.count() == 1


def test_signed_in_before_a_naive_moment_is_in_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in November
    row = DeviceSessionFactory(created_at=timezone.now() - timedelta(minutes=30))
    local = timezone.localtime(timezone.now() - timedelta(minutes=40)).replace(tzinfo=None)
    assert "Would revoke 0 sessions" in run("--signed-in-before", local.isoformat(), "--dry-run")
    local = timezone.localtime(timezone.now() - timedelta(minutes=20)).replace(tzinfo=None)
    assert "Would revoke 1 session" in run("--signed-in-before", local.isoformat(), "--dry-run")
    assert store_has(row.session_key)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "neither an ISO 8601 date-time"),
        ("2026-13-01T00:00:00", "neither an ISO 8601 date-time"),
        ("3 hours", "neither an ISO 8601 date-time"),
        ("2999-01-01T00:00:00+00:00", "is in the future"),
    ],
)
def test_signed_in_before_bad_values_are_command_errors(value, message):
    row = DeviceSessionFactory(created_at=timezone.now() - timedelta(days=1))
    with pytest.raises(CommandError, match=message):
        run("--signed-in-before", value, interactive=False)
    assert store_has(row.session_key)
