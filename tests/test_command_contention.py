"""manage.py revoke_sessions while the database is busy: sign-ins keep writing, and on SQLite
a writer holds the database-wide write lock ("database is locked")."""

import sqlite3
import threading
import time
from contextlib import ExitStack, closing, contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from sessions_mgmt.models import DeviceSession
from sessions_mgmt.signals import session_revoked

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX, is_signed_in, store_has
from .factories import DeviceSessionFactory, UserFactory

COMMAND = "sessions_mgmt.management.commands.revoke_sessions"
SQLITE = "sqlite" in django_settings.DATABASES["default"]["ENGINE"]
sqlite_only = pytest.mark.skipif(not SQLITE, reason="SQLite's database-wide write lock")


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("revoke_sessions", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def sqlite_file(transactional_db, tmp_path, monkeypatch):
    """The test database copied into a file, as a deployment's SQLite database is (the test
    database is in memory, shared between connections through SQLite's shared cache, whose
    locks work otherwise), with a lock timeout of 0.1 s instead of 5 s and the command's
    pauses between attempts shortened to match. Yields the file's path."""
    path = str(tmp_path / "db.sqlite3")
    memory = connections["default"]
    memory.ensure_connection()
    with closing(sqlite3.connect(path)) as target:
        memory.connection.backup(target)
    settings_dict = memory.settings_dict  # the dict every thread's new connection reads
    saved = settings_dict["NAME"], settings_dict["OPTIONS"]
    settings_dict["NAME"] = path
    settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], "timeout": 0.1}
    connections["default"] = connections.create_connection("default")
    monkeypatch.setattr(f"{COMMAND}.BACKOFF", 0.1, raising=False)
    try:
        yield path
    finally:
        connections["default"].close()
        connections["default"] = memory
        settings_dict["NAME"], settings_dict["OPTIONS"] = saved


@contextmanager
def write_lock(path: str, *, hold: float):
    """Another connection holds the write lock of the SQLite file at ``path`` (``BEGIN
    IMMEDIATE``, as a writer in the middle of its transaction) until ``hold`` seconds have
    passed or the block ends, whichever comes first; then it commits."""
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(hold)
            db.execute("COMMIT")

    thread = threading.Thread(target=hold_lock)
    thread.start()
    try:
        assert locked.wait(5), "the lock was not taken"
        yield
    finally:
        release.set()
        thread.join(10)


SELECTORS = {
    "signed-in-before": ("--signed-in-before", "1h"),
    "user": ("--user", "alice"),
    "inactive-for": ("--inactive-for", "30d"),
    "all": ("--all",),
}


@sqlite_only
@pytest.mark.parametrize("selector", list(SELECTORS))
def test_a_locked_database_is_waited_out_and_every_selected_session_ends(sqlite_file, selector):
    """The lock outlasts SQLite's timeout several times over; the command tries again,
    with growing pauses, and ends everything it selected once the lock is gone. A cutoff
    given as a duration is fixed once: bob's row, 0.4 s short of an hour old when the
    command starts, is more than an hour old by the time the lock goes, and stays."""
    now = timezone.now()
    alice = UserFactory(username="alice")
    chosen = DeviceSessionFactory.create_batch(
        3, user=alice, created_at=now - timedelta(hours=2), last_active_at=now - timedelta(days=31)
    )
    bobs = DeviceSessionFactory(created_at=timezone.now() - timedelta(hours=1, seconds=-0.4))
    with write_lock(sqlite_file, hold=1.0):
        out, err = run(*SELECTORS[selector], "--batch-size", "2", interactive=False)

    assert "database is locked" in err, "the lock was really in the way"
    assert "Traceback" not in out + err
    if selector == "all":
        assert out.strip() == "Revoked 4 sessions of 2 users."
        assert not DeviceSession.objects.exists()
    else:
        assert out.strip() == "Revoked 3 sessions of 1 user."
        assert list(DeviceSession.objects.values_list("pk", flat=True)) == [bobs.pk]
        assert store_has(bobs.session_key)
    assert not any(store_has(row.session_key) for row in chosen)


@sqlite_only
def test_a_lock_that_outlasts_the_attempts_is_a_command_error_saying_what_is_left(
    sqlite_file, monkeypatch
):
    """The first batch ends, then a writer takes the lock and keeps it through every
    attempt: a CommandError says how many ended and that the rest are still live; the
    same command run again, once the lock is gone, ends the rest."""
    monkeypatch.setattr(f"{COMMAND}.RETRIES", 2, raising=False)
    cutoff = timezone.now() - timedelta(hours=1)
    rows = DeviceSessionFactory.create_batch(5, created_at=cutoff - timedelta(minutes=5))
    with ExitStack() as lock:
        lock_taken: list = []

        def lock_after_the_first_batch(sender, sessions, **kwargs) -> None:
            if not lock_taken:  # sent once the first batch has committed
                lock_taken.append(True)
                lock.enter_context(write_lock(sqlite_file, hold=10))

        session_revoked.connect(lock_after_the_first_batch, dispatch_uid="lock-after-first")
        try:
            with pytest.raises(CommandError) as raised:
                run(
                    "--signed-in-before", cutoff.isoformat(), "--batch-size", "2", interactive=False
                )
        finally:
            session_revoked.disconnect(dispatch_uid="lock-after-first")

    message = str(raised.value)
    assert "2 of 5 sessions were ended" in message
    assert "the other 3 are still live and still listed" in message
    assert "database is locked" in message
    assert "run the command again" in message.lower()
    assert DeviceSession.objects.count() == 3
    assert sum(store_has(row.session_key) for row in rows) == 3

    out, _ = run("--signed-in-before", cutoff.isoformat(), interactive=False)
    assert out.strip() == "Revoked 3 sessions of 3 users."
    assert not any(store_has(row.session_key) for row in rows)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_session_signed_in_before_the_moment_ends_while_sign_ins_continue(sign_in):
    users = UserFactory.create_batch(3)
    earlier = [sign_in(user, agent) for user in users for agent in (MAC_CHROME, IPHONE_SAFARI)]
    moment = timezone.now()
    later, errors, stop = [], [], threading.Event()

    def keep_signing_in() -> None:
        try:
            while not stop.is_set():
                later.append(sign_in(users[len(later) % len(users)], WINDOWS_FIREFOX))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def signed_in_later(count: int) -> None:
        for _ in range(200):
            if len(later) >= count or errors:
                return
            time.sleep(0.05)

    thread = threading.Thread(target=keep_signing_in)
    thread.start()
    try:
        signed_in_later(1)
        out, _ = run(
            "--signed-in-before", moment.isoformat(), "--batch-size", "2", interactive=False
        )
        signed_in_later(len(later) + 1)  # sign-ins still went on after it
    finally:
        stop.set()
        thread.join(30)

    assert not errors
    assert out.strip() == "Revoked 6 sessions of 3 users."
    assert not any(is_signed_in(client) for client in earlier)
    assert later and all(is_signed_in(client) for client in later)
    assert not DeviceSession.objects.filter(created_at__lt=moment).exists()
    assert DeviceSession.objects.count() == len(later)
