"""`manage.py revoke_sessions --all` over many sessions on PostgreSQL with the db engine:
sessions per second, peak RSS of the command's process, and the ratio to two floors:

- the whole-table floor: `DELETE FROM` the device table and the session table, no lookup;
- the keyed floor a DBA would write for the same selection: the sessions deleted by key
  (`DELETE … USING` the device table), then the rows, and the history events the command
  also writes (`INSERT … SELECT`), in one transaction.

Issue 14 §4 targets: within 1.5x of the keyed floor, within 3x of the whole-table one, peak
RSS at most 100 MB. 1,000,000 sessions with BENCH=full; 100,000 in the quick profile.
Seeded with COPY."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from harness import ROOT, quick, report, setup_django, target, timer

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("revoke_command.py needs DATABASE_URL=postgres://…")
setup_django()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.utils import timezone  # noqa: E402

SESSIONS = 100_000 if quick() else 1_000_000
PER_USER = 20
DSN = os.environ["DATABASE_URL"]


def seed() -> None:
    users = SESSIONS // PER_USER
    now = timezone.now()
    expires = now + timedelta(days=14)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE sessions_mgmt_devicesession, sessions_mgmt_sessionevent, django_session, "
            "auth_user CASCADE"
        )
        with conn.cursor().copy(
            "COPY auth_user (id, password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) FROM STDIN"
        ) as copy:
            for u in range(1, users + 1):
                copy.write_row((u, "!", False, f"u{u}", "", "", "", False, True, now))
        conn.execute("SELECT setval('auth_user_id_seq', %s)", (users,))
        data = SessionStore().encode({"_auth_user_id": "1"})
        keys = [uuid.uuid4().hex for _ in range(SESSIONS)]
        with conn.cursor().copy(
            "COPY django_session (session_key, session_data, expire_date) FROM STDIN"
        ) as copy:
            for key in keys:
                copy.write_row((key, data, expires))
        with conn.cursor().copy(
            "COPY sessions_mgmt_devicesession (user_id, session_key, public_id, user_agent, "
            "browser, os, device_type, device_name, ip, location, first_ip, first_location, "
            "created_at, last_active_at, expires_at) "
            "FROM STDIN"
        ) as copy:
            for i, key in enumerate(keys):
                copy.write_row(
                    (
                        i // PER_USER + 1,
                        key,
                        uuid.uuid4(),
                        "Mozilla/5.0",
                        "Safari",
                        "iOS",
                        "mobile",
                        "Safari on iPhone",
                        "198.51.100.7",
                        "",
                        "198.51.100.7",
                        "",
                        now,
                        now,
                        expires,
                    )
                )
        conn.execute("ANALYZE")


def high_water_kb(pid: int) -> int:
    """The process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: a child started by
    fork inherits the parent's high-water mark, which here holds a million seeded keys."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def counts() -> tuple[int, int]:
    with psycopg.connect(DSN) as conn:
        rows = conn.execute("SELECT count(*) FROM sessions_mgmt_devicesession").fetchone()[0]
        sessions = conn.execute("SELECT count(*) FROM django_session").fetchone()[0]
    return rows, sessions


results = [("", "seconds", "sessions/s", "peak RSS MB", "× floor")]
with timer() as t:
    seed()
print(f"seeded {SESSIONS:,} sessions of {SESSIONS // PER_USER:,} users in {t['seconds']:.1f} s")

with timer() as floor, psycopg.connect(DSN, autocommit=True) as conn:
    conn.execute("DELETE FROM sessions_mgmt_devicesession")
    conn.execute("DELETE FROM django_session")
assert counts() == (0, 0)
results.append(
    (
        "whole-table DELETE (floor)",
        f"{floor['seconds']:.2f}",
        f"{SESSIONS / floor['seconds']:,.0f}",
        "",
        "1.00",
    )
)

seed()
with timer() as keyed, psycopg.connect(DSN) as conn:
    conn.execute(
        "DELETE FROM django_session s USING sessions_mgmt_devicesession d "
        "WHERE s.session_key = d.session_key"
    )
    conn.execute(
        "INSERT INTO sessions_mgmt_sessionevent (public_id, user_id, type, at, session_id, "
        "browser, os, device_type, ip, location, user_agent, reason, by_browser, by_os, "
        "by_device_type) SELECT gen_random_uuid(), user_id, 'revoked', now(), public_id, "
        "browser, os, device_type, ip, location, '', 'command', '', '', '' "
        "FROM sessions_mgmt_devicesession"
    )
    conn.execute("DELETE FROM sessions_mgmt_devicesession")
    conn.commit()
assert counts() == (0, 0)
results.append(
    (
        "keyed DELETE … USING + history (keyed floor)",
        f"{keyed['seconds']:.2f}",
        f"{SESSIONS / keyed['seconds']:,.0f}",
        "",
        f"{keyed['seconds'] / floor['seconds']:.2f}",
    )
)
measured = {}

for batch in (500, None):  # the batches of every other revocation, and the default
    seed()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "revoke_sessions",
        "--all",
        "--no-input",
        *([f"--batch-size={batch}"] if batch else []),
    ]
    with timer() as run:
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(child.pid))
            time.sleep(0.05)
        status = child.returncode
    out = child.stdout.read().strip()
    assert status == 0, status
    assert out == f"Revoked {SESSIONS:,} sessions of {SESSIONS // PER_USER:,} users.", out
    assert counts() == (0, 0), "every row and every session must be gone"
    rss_mb = peak_kb / 1024
    measured[batch] = (run["seconds"], rss_mb)
    results.append(
        (
            f"revoke_sessions --all --batch-size {batch}" if batch else "revoke_sessions --all",
            f"{run['seconds']:.2f}",
            f"{SESSIONS / run['seconds']:,.0f}",
            f"{rss_mb:.0f}",
            f"{run['seconds'] / floor['seconds']:.2f}",
        )
    )
# The command's own start-up (Python, Django, its imports), which the floors do not pay:
# the same command over empty tables.
with timer() as startup:
    subprocess.run(command, env=env, check=True, capture_output=True)
results.append(
    ("revoke_sessions --all over no sessions (start-up)", f"{startup['seconds']:.2f}", "", "", "")
)
report(f"revoke_sessions --all over {SESSIONS:,} sessions", results)
seconds, rss = measured[None]
work = seconds - startup["seconds"]
target(
    "revoke_sessions --all against the keyed floor",
    f"{seconds / keyed['seconds']:.2f}x, {work / keyed['seconds']:.2f}x without start-up",
    "at most 1.5x",
    seconds / keyed["seconds"] <= 1.5,
    "a transaction and a commit per batch, so no lock is held for the whole run; at "
    "100,000 sessions the command's start-up is a fifth of its time",
)
target(
    "revoke_sessions --all against the whole-table floor",
    f"{seconds / floor['seconds']:.2f}x",
    "at most 3x",
    seconds / floor["seconds"] <= 3,
    "each session is found and deleted by its key, and gets its history event; the "
    "whole-table floor does neither",
)
target("peak RSS of the command", f"{rss:.0f} MB", "at most 100 MB", rss <= 100)
print(f"  database: {settings.DATABASES['default']['NAME']}")
