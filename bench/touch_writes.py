"""Issue 14 §1: what an active session costs the database in an hour. One signed-in
browser makes a request every minute for an hour (a touch each time, with the default
touch interval of 60 s; the clock is moved by time-machine, so the hour takes seconds),
with and without sessions_mgmt, in the same run. Every write statement is counted, by
table. Target: no write to the device row; none at all on the ``cache`` engine; on
``db``/``cached_db`` nothing beyond the session save."""

from collections import Counter
from datetime import timedelta

from harness import report, setup_django, target

setup_django()

import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from sessions_mgmt.checks import MIDDLEWARE_PATH  # noqa: E402
from sessions_mgmt.models import DeviceSession  # noqa: E402

DEVICE_TABLE = DeviceSession._meta.db_table
WITH_APP = list(settings.MIDDLEWARE)
WITHOUT_APP = [m for m in WITH_APP if m != MIDDLEWARE_PATH]
engine = settings.SESSION_ENGINE.rsplit(".", 1)[-1]
# An ordinary signed-in page that is not the app's own (the demo's password change form).
PAGE = "/accounts/password_change/"


def table_of(sql: str) -> str:
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0]
    return words[2] if verb in ("INSERT", "DELETE") else words[1]


def hour_of_requests(middleware: list[str], name: str) -> tuple[Counter, Counter]:
    settings.MIDDLEWARE = middleware
    get_user_model().objects.create_user(name, password="bench-password")
    client = Client(headers={"user-agent": "Mozilla/5.0 (Macintosh) Chrome/120.0 Safari/537.36"})
    response = client.post("/accounts/login/", {"username": name, "password": "bench-password"})
    assert response.status_code == 302, response.status_code
    start = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        for minute in range(1, 61):
            with time_machine.travel(start + timedelta(minutes=minute, seconds=1), tick=False):
                page = client.get(PAGE)
                assert page.status_code == 200, page.status_code
    writes, reads = Counter(), Counter()
    for query in ctx.captured_queries:
        sql = query["sql"]
        if sql.startswith(("UPDATE", "INSERT", "DELETE")):
            writes[table_of(sql)] += 1
        elif sql.startswith("SELECT") and DEVICE_TABLE in sql:
            reads[DEVICE_TABLE] += 1
    return writes, reads


plain_writes, _ = hour_of_requests(WITHOUT_APP, "plain")
app_writes, app_reads = hour_of_requests(WITH_APP, "app")
extra = app_writes - plain_writes
rows = [("per active session per hour", "plain Django", "with sessions_mgmt")]
for table in sorted(set(plain_writes) | set(app_writes)):
    rows.append((f"writes to {table}", plain_writes[table], app_writes[table]))
rows.append(("writes in all", sum(plain_writes.values()), sum(app_writes.values())))
report("Database writes of one session active every minute for an hour", rows)
session_table = "django_session"
beyond_session = sum(count for table, count in extra.items() if table != session_table)
if engine == "cache":
    target(
        "app writes per active session per hour (cache engine)",
        str(sum(extra.values())),
        "0",
        sum(extra.values()) == 0,
    )
else:
    target(
        f"app writes per active session per hour beyond session saves ({engine} engine)",
        f"{beyond_session} (plus {extra[session_table]} session saves recording the touches)",
        "0",
        beyond_session == 0,
        "writes to " + ", ".join(t for t in extra if t != session_table),
    )
target(
    "writes to the device row by touches",
    str(app_writes[DEVICE_TABLE]),
    "0",
    app_writes[DEVICE_TABLE] == 0,
)
print(f"  (reads of the device row by primary key: {app_reads[DEVICE_TABLE]}, one per touch)")
