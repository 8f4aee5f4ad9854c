"""Real app servers for the tests that need them: the demo site under gunicorn on
127.0.0.1, with every request bounded by a timeout (see ``http.Browser``)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import MAC_CHROME
from .http import Browser

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(env: dict) -> None:
    """Migrate the demo's database named by ``env`` and create its demo users."""
    for command in (["migrate", "-v0"], ["create_demo_users"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )


def wait_until_up(base_url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {base_url} exited with {process.returncode}")
        try:
            if Browser(base_url, MAC_CHROME).get("/accounts/login/").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} did not answer in {timeout} s")


@contextmanager
def demo_servers(
    env: dict, logs: Path, *, count: int = 1, workers: int = 1, threads: int = 8
) -> Iterator[list[str]]:
    """``count`` gunicorn servers of the demo site (threaded workers), with ``env`` added
    to this process's environment; yields their base URLs and stops them afterwards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    processes, urls = [], []
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        gunicorn,
                        "config.wsgi",
                        f"--bind=127.0.0.1:{port}",
                        f"--workers={workers}",
                        f"--threads={threads}",
                        "--worker-class=gthread",
                        "--timeout=30",
                        "--log-level=warning",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    # A file, not a pipe nobody reads: Django logs every 4xx to stderr.
                    stderr=(logs / f"server-{port}.log").open("wb"),
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_until_up(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
