"""``make test`` is honest about what it ran: a service it needs and cannot reach stops it
with one line naming the service (``scripts/preflight.sh``), and a run of the matrix whose
tests were all skipped or deselected is reported as skipped, never as passed
(``scripts/verdict.sh``, from pytest's own summary)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling
ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again once we return


def script(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ROOT / "scripts" / name, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_missing_database_stops_make_test_with_one_line_naming_it():
    url = f"postgres://postgres@127.0.0.1:{closed_port()}/test"
    result = script("preflight.sh", env={"PG_URL": url})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if url in line]
    assert len(lines) == 1 and lines[0].startswith("make test needs PostgreSQL")
    assert "make test-quick" in lines[0]


def pytest_log(tmp_path: Path, *args: str) -> tuple[Path, int]:
    """A real pytest run of this suite (SQLite), its output kept as the matrix keeps it."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
    )
    log = tmp_path / "run.log"
    log.write_text(result.stdout + result.stderr)
    return log, result.returncode


@pytest.mark.parametrize(
    "selection",
    [
        ["tests/test_faults.py", "-m", "postgres"],  # everything deselected on SQLite
        ["tests/test_make_test.py", "-k", "nothing_is_called_this"],
    ],
)
def test_a_run_that_tested_nothing_is_reported_skipped(tmp_path, selection):
    log, rc = pytest_log(tmp_path, *selection)
    result = script("verdict.sh", str(log), str(rc))
    assert (result.stdout.strip(), result.returncode) == ("skipped", 3)


def test_a_run_that_passed_and_one_that_failed(tmp_path):
    log, rc = pytest_log(tmp_path, "tests/test_structure.py")
    assert script("verdict.sh", str(log), str(rc)).stdout.strip() == "passed"
    failing = tmp_path / "test_fails.py"
    failing.write_text("def test_fails():\n    assert False\n")
    log, rc = pytest_log(tmp_path, str(failing), "--rootdir", str(tmp_path))
    result = script("verdict.sh", str(log), str(rc))
    assert (result.stdout.strip(), result.returncode) == ("FAILED", 1)
