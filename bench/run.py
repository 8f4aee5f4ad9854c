"""`make bench`: every benchmark, in each combination it is meant for, one process each.

BENCH=quick (default) takes a few minutes; BENCH=full runs longer rounds and 1,000,000
sessions for revoke_sessions. PG_URL and REDIS_BENCH_URL say where the services are.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379/14")
ENGINE = "django.contrib.sessions.backends."

SQLITE_DB = {}
PG_DB = {"DATABASE_URL": PG}
PG_REDIS = {"DATABASE_URL": PG, "REDIS_URL": REDIS, "SESSION_ENGINE": ENGINE + "cache"}
PG_REDIS_CACHED_DB = {**PG_REDIS, "SESSION_ENGINE": ENGINE + "cached_db"}

PLAN = [
    ("instructions.py", [SQLITE_DB]),
    ("request_overhead.py", [SQLITE_DB, PG_DB, PG_REDIS]),
    ("asgi_overhead.py", [SQLITE_DB]),
    ("device_bound.py", [SQLITE_DB, PG_REDIS]),
    ("sign_in.py", [SQLITE_DB, PG_DB, PG_REDIS]),
    ("touch_writes.py", [PG_DB, PG_REDIS, PG_REDIS_CACHED_DB]),
    ("devices_page.py", [SQLITE_DB, PG_REDIS]),
    ("revoke_others.py", [SQLITE_DB, PG_DB, PG_REDIS]),
    ("revoke_command.py", [PG_DB]),
    ("servers.py", [PG_REDIS]),
    ("capacity.py", [PG_DB]),
]

print(f"# sessions_mgmt benchmarks (BENCH={os.environ.get('BENCH', 'quick')})")
failed = []
for script, combos in PLAN:
    for extra in combos:
        env = {**os.environ, **extra}
        result = subprocess.run([sys.executable, script], cwd=HERE, env=env)
        if result.returncode:
            failed.append(f"{script} {extra}")
if failed:
    sys.exit("benchmarks that failed their own checks:\n  " + "\n  ".join(failed))
