"""Per-request cost of the app under ASGI: two uvicorn servers of the demo on one SQLite
database, one with DeviceSessionMiddleware and one without, each asked for an async view
that reads ``await request.auser()`` over a kept-alive connection, in alternating rounds."""

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness import median, quick, report, setup_django

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
get_user_model().objects.create_user("bench", password="bench-password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(without_app: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.asgi_settings", "PYTHONPATH": str(ROOT)}
    if without_app:
        env["BENCH_WITHOUT_APP"] = "1"
    uvicorn = Path(sys.executable).with_name("uvicorn")
    process = subprocess.Popen(
        [str(uvicorn), "config.asgi:application", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


def sign_in(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/accounts/login/", headers={"User-Agent": UA})
    response = conn.getresponse()
    page = response.read().decode()
    csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie"))[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    body = f"csrfmiddlewaretoken={token}&username=bench&password=bench-password"
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "User-Agent": UA,
            "Cookie": f"csrftoken={csrf}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{port}/",
        },
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie"))[1]


def per_request_us(port: int, cookie: str, n: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"User-Agent": UA, "Cookie": f"sessionid={cookie}"}
    started = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/awhoami/", headers=headers)
        response = conn.getresponse()
        assert response.read() == b"bench", "not signed in"
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed / n * 1e6


servers = {name: start(name == "without") for name in ("with", "without")}
try:
    cookie = sign_in(servers["with"][1])
    rounds, n = (9, 200) if quick() else (21, 500)
    for name in servers:  # warm up both
        per_request_us(servers[name][1], cookie, 50)
    times = {"with": [], "without": []}
    ratios = []
    for _ in range(rounds):
        without = per_request_us(servers["without"][1], cookie, n)
        with_app = per_request_us(servers["with"][1], cookie, n)
        times["without"].append(without)
        times["with"].append(with_app)
        ratios.append(with_app / without)
    report(
        "ASGI (uvicorn), async view reading auser(), SQLite + db",
        [
            ("without the app (µs)", f"{median(times['without']):.0f}", ""),
            ("with the app (µs)", f"{median(times['with']):.0f}", ""),
            ("ratio (median of round ratios)", f"{median(ratios):.3f}", ""),
        ],
    )
finally:
    for process, _ in servers.values():
        process.terminate()
        process.wait(timeout=10)
