"""Shared set-up for the benchmarks: a throwaway database, Django configured from the
environment (DATABASE_URL, SESSION_ENGINE, REDIS_URL as for the demo), and timing helpers.

Benchmarks print figures; they never assert timings. Each checks its own result so that a
fast wrong answer cannot pass.
"""

import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "sessions_mgmt_bench"


def setup_django(*, fast_hasher: bool = True) -> None:
    """Point Django at a fresh database (a temporary SQLite file, or a PostgreSQL database
    named sessions_mgmt_bench next to DATABASE_URL's), migrate it, and start Django."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB
    else:
        os.environ["SQLITE_PATH"] = os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + os.urandom(16).hex())
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")  # the test client speaks HTTP
    os.environ.setdefault("CACHE_KEY_PREFIX", f"bench{os.getpid()}")

    import django
    from django.conf import settings

    django.setup()
    settings.ALLOWED_HOSTS = ["*"]
    if fast_hasher:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    cache.clear()


def describe_setup() -> str:
    from django.conf import settings
    from django.db import connection

    engine = settings.SESSION_ENGINE.rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"{connection.vendor} + {engine} engine" + (
        f" ({cache})" if engine in ("cache", "cached_db") else ""
    )


def median(values) -> float:
    return statistics.median(values)


@contextmanager
def timer():
    result = {}
    start = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - start


def count_queries(function):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        value = function()
    return value, [q["sql"] for q in ctx.captured_queries]


def quick() -> bool:
    return os.environ.get("BENCH", "quick") != "full"


def report(title: str, rows: list[tuple]) -> None:
    print(f"\n## {title}  [{describe_setup()}]")
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=False))
        )
    sys.stdout.flush()


def target(name: str, measured: str, goal: str, met: bool, cause: str = "") -> None:
    """One line of the issue's targets: the figure beside its goal, met or missed (with
    the cause when missed)."""
    verdict = "met" if met else "MISSED" + (f" ({cause})" if cause else "")
    print(f"  target: {name}: {measured} (goal {goal}): {verdict}")
    sys.stdout.flush()
