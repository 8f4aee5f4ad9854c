"""Issue 14 §6: the sizes docs/SCALING.md builds its capacity model on, measured here.

PostgreSQL: ROWS device rows (10 sessions per user) and ROWS history events, seeded
server-side (generate_series, realistic field lengths), then the heap and each index
measured with pg_relation_size: bytes per row and per index entry. Redis: bytes per session
of Django's ``cache`` engine (one signed-in session with the app's state, as a browser
leaves it), from ``MEMORY USAGE`` and from ``used_memory`` over 10,000 sessions.

BENCH=quick (default) seeds 200,000 rows; BENCH=full, or CAPACITY_ROWS, 10,000,000 (about
ten minutes and 6 GB of disk here).
"""

import os
import time

import harness
from harness import quick, report, setup_django

harness.BENCH_DB = "sessions_mgmt_capacity"  # its own database: other benchmarks can run

ROWS = int(os.environ.get("CAPACITY_ROWS") or (200_000 if quick() else 10_000_000))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379/14")
os.environ["REDIS_URL"] = REDIS_URL  # the demo settings then cache in Redis
setup_django()

from django.db import connection  # noqa: E402

from sessions_mgmt.models import DeviceSession, SessionEvent  # noqa: E402

assert connection.vendor == "postgresql", "capacity.py measures PostgreSQL: set DATABASE_URL"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
users = max(1, ROWS // 10)
device, event = DeviceSession._meta.db_table, SessionEvent._meta.db_table

started = time.monotonic()
with connection.cursor() as cursor:
    cursor.execute(
        """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
        email, is_staff, is_active, date_joined)
        SELECT 'x', false, 'u' || g, '', '', 'u' || g || '@example.com', false, true, now()
        FROM generate_series(1, %s) g""",
        [users],
    )
    cursor.execute("SELECT min(id) FROM auth_user")
    first_user = cursor.fetchone()[0]
    cursor.execute(
        f"""INSERT INTO {device} (user_id, session_key, public_id, user_agent, browser, os,
        device_type, device_name, ip, location, first_ip, first_location, created_at,
        last_active_at, expires_at)
        SELECT %s + (g %% %s), md5(g::text || 'k'), md5(g::text || 'p')::uuid, %s, 'Chrome',
        'macOS', 'desktop', 'Chrome on macOS',
        ('10.' || (g %% 250) || '.' || (g / 250 %% 250) || '.' || (g / 62500 %% 250))::inet,
        'Berlin, Germany',
        ('10.' || (g %% 250) || '.' || (g / 250 %% 250) || '.' || (g / 62500 %% 250))::inet,
        'Berlin, Germany', now() - (g %% 1000) * interval '1 minute',
        now() - g * interval '1 millisecond',
        now() + interval '14 days'
        FROM generate_series(1, %s) g""",
        [first_user, users, UA, ROWS],
    )
    cursor.execute(
        f"""INSERT INTO {event} (public_id, user_id, type, at, session_id, browser, os,
        device_type, ip, location, user_agent, reason, by_browser, by_os, by_device_type)
        SELECT md5(g::text || 'e')::uuid, %s + (g %% %s), 'signed_in',
        now() - (g %% 100000) * interval '1 second', md5(g::text || 'p')::uuid, 'Chrome',
        'macOS', 'desktop', '10.1.2.3', 'Berlin, Germany', %s, '', '', '', ''
        FROM generate_series(1, %s) g""",
        [first_user, users, UA, ROWS],
    )
    cursor.execute(f"VACUUM ANALYZE {device}")
    cursor.execute(f"VACUUM ANALYZE {event}")
seeded = time.monotonic() - started


def sizes(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s), pg_total_relation_size(%s)", [table, table])
        heap, total = cursor.fetchone()
        cursor.execute(
            """SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)
            FROM pg_index WHERE indrelid = %s::regclass ORDER BY 1""",
            [table],
        )
        indexes = cursor.fetchall()
    rows = [
        (
            f"{table} heap (with TOAST: total {total / 2**20:,.0f} MiB)",
            f"{heap / 2**20:,.0f}",
            f"{heap / ROWS:.0f}",
        )
    ]
    for name, size in indexes:
        rows.append((f"  index {name}", f"{size / 2**20:,.0f}", f"{size / ROWS:.0f}"))
    return rows


rows = [("relation", "MiB", "bytes per row")]
rows += sizes(device)
rows += sizes(event)
report(
    f"PostgreSQL sizes at {ROWS:,} device rows and {ROWS:,} events (seeded in {seeded:.0f} s)", rows
)

# Redis: a signed-in session of the cache engine, with the app's state, as stored.
import redis  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.core.cache import caches  # noqa: E402

from sessions_mgmt.internal.state import write as write_state  # noqa: E402

client = redis.Redis.from_url(REDIS_URL)
client.flushdb()
before = client.info("memory")["used_memory"]
SESSIONS = 10_000
keys = []
now = int(time.time())
for i in range(SESSIONS):
    session = SessionStore()
    session[SESSION_KEY] = str(1000 + i)
    session[BACKEND_SESSION_KEY] = "sessions_mgmt.backends.ThrottledModelBackend"
    session[HASH_SESSION_KEY] = "f" * 64
    session["_sessions_mgmt_auth_at"] = now
    state = {"id": 10_000_000 + i, "t": now, "s": now, "a": now + 0.123456, "ip": "203.0.113.77"}
    write_state(session, {**state, "ua": 2_000_000_000, "x": now + 1209600.5, "e": None})
    session.create()
    keys.append(session.cache_key)
after = client.info("memory")["used_memory"]
stored = caches["default"].make_key(keys[0])
usage = client.memory_usage(stored)
client.flushdb()
connection.close()
import psycopg  # noqa: E402

admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(admin_url, autocommit=True) as admin:  # give the disk back
    admin.execute(f"DROP DATABASE IF EXISTS {harness.BENCH_DB} WITH (FORCE)")
report(
    "Redis, per signed-in session (cache engine, with the app's state)",
    [
        ("measure", "bytes"),
        ("MEMORY USAGE of one session key", usage),
        (
            f"used_memory over {SESSIONS:,} sessions, per session",
            f"{(after - before) / SESSIONS:.0f}",
        ),
    ],
)
