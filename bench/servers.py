"""Issue 14 §5: several app servers, measured. Two gunicorn servers of the demo site (2
workers each, threaded) on one PostgreSQL and one Redis, with sessions_mgmt, and two more
without it (plain Django: the same site without the middleware), all up at once. One client
process drives bounded load at one pair at a time, in alternating rounds: authenticated
GETs of a view that reads ``request.user``, spread over both servers of the pair and over
many signed-in sessions, each thread on its own kept-alive connections.

Reported: requests per second with and without the app (target: ratio >= 0.97), p50/p99
latency, and, while the load runs on the app's pair, the latency of "sign out of all other
devices" for a user with 10,000 sessions (target < 1 s), with zero 5xx answers and zero
revived sessions (no request of a revoked device sent after the revoke returned is
answered as signed in). Everything is on 127.0.0.1; every request has a timeout and every
round a bound on requests.

    cd bench && DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        REDIS_URL=redis://127.0.0.1:6379/14 \\
        SESSION_ENGINE=django.contrib.sessions.backends.cache ../.venv/bin/python servers.py
"""

import http.client
import os
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from harness import ROOT, quick, report, setup_django, target

HERE = Path(__file__).resolve().parent
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SESSION_ENGINE", "django.contrib.sessions.backends.cache")
setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from seed import seed_sessions  # noqa: E402

from sessions_mgmt.models import DeviceSession  # noqa: E402
from tests.http import Browser  # noqa: E402
from tests.servers import demo_servers  # noqa: E402

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PASSWORD = "bench-password"
ROUNDS = 8 if quick() else 16
ROUND_SECONDS = 3.0 if quick() else 6.0
THREADS = 8
MAX_REQUESTS_PER_ROUND = 20_000
LOAD_USERS = 40
REVOKED_SESSIONS = 10_000
COOKIE = settings.SESSION_COOKIE_NAME


def pair_env(with_app: bool) -> dict:
    """The environment of one pair of servers: the bench's database, Redis and key prefix
    (from this process), with or without the app's middleware."""
    return {
        "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}",
        "DJANGO_SETTINGS_MODULE": "server_settings",
        "DATABASE_CONN_MAX_AGE": "60",
        "BENCH_WITH_APP": os.environ.get("BENCH_APP_MODE", "1") if with_app else "0",
    }


def sign_in(url: str, username: str) -> Browser:
    browser = Browser(url, UA, COOKIE)
    browser.sign_in(username, PASSWORD)
    assert browser.session_key, f"{username} could not sign in"
    return browser


class Load:
    """Threads asking ``urls`` for /whoami/ with ``cookies`` (key, expected username), on
    kept-alive connections; records each answer's latency, status and whether it was
    signed in, with the time it was sent."""

    def __init__(self, urls: list[str], cookies: list[tuple[str, str]]) -> None:
        self.urls, self.cookies = urls, cookies
        self.answers: list[tuple[float, float, int, bool, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _worker(self, offset: int) -> None:
        connections = {}
        mine, count = [], 0
        limit = MAX_REQUESTS_PER_ROUND // THREADS
        while not self.stop.is_set() and count < limit:
            url = self.urls[(offset + count) % len(self.urls)]
            key, username = self.cookies[(offset + count * THREADS) % len(self.cookies)]
            if url not in connections:
                connections[url] = http.client.HTTPConnection(
                    url.removeprefix("http://"), timeout=10
                )
            connection = connections[url]
            sent = time.monotonic()
            try:
                connection.request("GET", "/whoami/", headers={"Cookie": f"{COOKIE}={key}"})
                response = connection.getresponse()
                body = response.read().decode()
            except (OSError, http.client.HTTPException):
                connections.pop(url).close()
                mine.append((sent, time.monotonic() - sent, 599, False, key))
                count += 1
                continue
            mine.append((sent, time.monotonic() - sent, response.status, body == username, key))
            count += 1
        for connection in connections.values():
            connection.close()
        with self.lock:
            self.answers.extend(mine)

    def run(self, seconds: float | None = None) -> "Load":
        self.threads = [threading.Thread(target=self._worker, args=(i,)) for i in range(THREADS)]
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        if seconds is not None:
            time.sleep(seconds)
            self.finish()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.seconds = time.monotonic() - self.started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


User = get_user_model()
logs = Path(tempfile.mkdtemp(prefix="bench-servers-"))
AA = os.environ.get("BENCH_AA") == "1"  # both pairs plain: how even the comparison is
servers = ExitStack()
pairs = {
    with_app: servers.enter_context(
        demo_servers(pair_env(with_app and not AA), logs, count=2, workers=2, threads=4)
    )
    for with_app in (True, False)
}
try:
    for i in range(LOAD_USERS):
        User.objects.create_user(f"load{i}", password=PASSWORD)
    cookies = []
    for i in range(LOAD_USERS):  # signed in through the app's servers: tracked sessions
        cookies.append((sign_in(pairs[True][i % 2], f"load{i}").session_key, f"load{i}"))

    rps = {True: [], False: []}
    latencies = {True: [], False: []}
    errors = {True: 0, False: 0}
    for round_number in range(ROUNDS):
        for with_app in (round_number % 2 == 0, round_number % 2 == 1):
            load = Load(pairs[with_app], cookies).run(ROUND_SECONDS)
            assert all(signed for _, _, status, signed, _ in load.answers if status == 200), (
                "a load request was answered as signed out"
            )
            rps[with_app].append(len(load.answers) / load.seconds)
            latencies[with_app] += [latency for _, latency, _, _, _ in load.answers]
            errors[with_app] += sum(status >= 500 for _, _, status, _, _ in load.answers)
    ratios = [a / b for a, b in zip(rps[True], rps[False], strict=True)]
    rows = [("", "requests/s (median of rounds)", "p50 ms", "p99 ms", "5xx")]
    for with_app, label in ((False, "plain Django"), (True, "with sessions_mgmt")):
        rows.append(
            (
                label,
                f"{statistics.median(rps[with_app]):,.0f}",
                f"{percentile(latencies[with_app], 0.5) * 1000:.1f}",
                f"{percentile(latencies[with_app], 0.99) * 1000:.1f}",
                errors[with_app],
            )
        )
    report(
        f"Two app servers x 2 workers, {THREADS} client threads, {ROUNDS} alternating rounds "
        f"of {ROUND_SECONDS:.0f} s, {LOAD_USERS} sessions",
        rows,
    )
    ratio = statistics.median(ratios)
    target(
        "authenticated requests/s with the app against plain Django",
        f"{ratio:.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})",
        "at least 0.97",
        ratio >= 0.97,
        "the middleware's per-request work, within this comparison's own bias: both pairs "
        "plain (BENCH_AA=1) measured 0.986 here",
    )

    # "Sign out of all other devices" for 10,000 sessions, while the load runs.
    owner = User.objects.create_user("owner", password=PASSWORD)
    victims = [sign_in(pairs[True][i % 2], "owner") for i in range(8)]
    seed_sessions(owner, REVOKED_SESSIONS - len(victims) - 1)
    me = sign_in(pairs[True][0], "owner")
    assert DeviceSession.objects.filter(user=owner).count() == REVOKED_SESSIONS
    me.get("/accounts/devices/")  # the CSRF cookie, as the page's form would have it
    victim_cookies = [(victim.session_key, "owner") for victim in victims]
    load = Load(pairs[True], cookies + victim_cookies * 5).run()
    time.sleep(0.5)
    sent = time.monotonic()
    answer = me.request(
        "POST", "/me/sessions/revoke-all", headers={"X-CSRFToken": me.cookie("csrftoken")}
    )
    returned = time.monotonic()
    time.sleep(0.5)
    load.finish()
    assert answer.status == 200, answer.body
    victim_keys = {key for key, _ in victim_cookies}
    revived = [a for a in load.answers if a[0] > returned and a[4] in victim_keys and a[3]]
    late = sum(1 for a in load.answers if a[0] > returned and a[4] in victim_keys)
    server_errors = sum(1 for a in load.answers if a[2] >= 500)
    left = DeviceSession.objects.filter(user=owner).count()
    assert me.get("/me/sessions").status == 200, "the current session died"
    report(
        f"Sign out of all other devices, {REVOKED_SESSIONS:,} sessions, under load",
        [
            ("measure", "value"),
            ("latency of POST /me/sessions/revoke-all", f"{(returned - sent) * 1000:.0f} ms"),
            ("sessions left to the user", left),
            ("requests under load during the revoke", len(load.answers)),
            ("5xx answers", server_errors),
            (
                f"revoked devices' requests after it returned (of {late})",
                f"{len(revived)} signed in",
            ),
        ],
    )
    target(
        "revoke-all latency for 10,000 sessions under load",
        f"{(returned - sent) * 1000:.0f} ms",
        "< 1,000 ms",
        returned - sent < 1,
    )
    target(
        "5xx answers and revived sessions",
        f"{server_errors} and {len(revived)}",
        "0 and 0",
        server_errors == 0 and not revived and left == 1,
    )
finally:
    servers.close()
