"""Sign-in cost of the app: the login form POST with and without sessions_mgmt (its
middleware and receivers), with a fast password hasher so hashing does not hide it. With a
User-Agent seen before (parsed once, then cached) and with a new one each time."""

import gc
import itertools
from collections import Counter

from harness import count_queries, median, quick, report, setup_django, target, timer

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.signals import user_logged_in, user_logged_out  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from sessions_mgmt import receivers as signals  # noqa: E402
from sessions_mgmt.checks import MIDDLEWARE_PATH  # noqa: E402
from sessions_mgmt.models import DeviceSession  # noqa: E402

User = get_user_model()
User.objects.create_user("bench", password="bench-password")
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
fresh = itertools.count()
WITHOUT = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]


RECEIVERS = [
    (user_logged_in, signals.track_sign_in, "sessions_mgmt.track_sign_in"),
    (user_logged_out, signals.forget_sign_out, "sessions_mgmt.forget_sign_out"),
]


def app(installed: bool) -> None:
    """Connect or disconnect the app's sign-in receivers, for the comparison."""
    for signal, receiver, uid in RECEIVERS:
        if installed:
            signal.connect(receiver, dispatch_uid=uid)
        else:
            signal.disconnect(dispatch_uid=uid)


def sign_in(installed: bool, user_agent: str) -> None:
    client = Client(headers={"user-agent": user_agent})
    with override_settings(MIDDLEWARE=settings.MIDDLEWARE if installed else WITHOUT):
        client.handler.load_middleware()
    response = client.post("/accounts/login/", {"username": "bench", "password": "bench-password"})
    assert response.status_code == 302, response.status_code


def per_sign_in_us(installed: bool, n: int, new_agent: bool) -> float:
    app(installed)
    with timer() as t:
        for _ in range(n):
            sign_in(installed, f"{UA} Bench/{next(fresh)}" if new_agent else UA)
    app(True)
    return t["seconds"] / n * 1e6


rounds, n = (15, 40) if quick() else (41, 100)
rows = [("", "µs/sign-in (median)", "queries", "extra µs")]
VARIANTS = (
    ("repeated User-Agent", False, True),
    ("repeated User-Agent, alerts off", False, False),
    ("new User-Agent each time", True, True),
)
for label, new_agent, alerts in VARIANTS:
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS = alerts
    for installed in (True, False):
        per_sign_in_us(installed, 20, new_agent)  # warm up
    app(False)
    _, q_without = count_queries(lambda: sign_in(False, UA))
    app(True)
    _, q_with = count_queries(
        lambda: sign_in(True, f"{UA} Bench/{next(fresh)}" if new_agent else UA)
    )
    a, b = [], []
    gc.disable()
    for i in range(rounds):
        for installed in (i % 2 == 0, i % 2 == 1):
            (a if installed else b).append(per_sign_in_us(installed, n, new_agent))
        DeviceSession.objects.all().delete_rows()
    gc.enable()
    rows.append(("without the app", f"{median(b):.0f}", len(q_without), ""))
    rows.append(
        (f"with, {label}", f"{median(a):.0f}", len(q_with), f"{median(a) - median(b):+.0f}")
    )
report(f"Sign-in overhead ({rounds} rounds × {n} sign-ins, MD5 hasher)", rows)


def shape(sql: str) -> str:
    """A statement without its values: "INSERT sessions_mgmt_devicesession", "COMMIT"."""
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}"
    if verb in ("UPDATE",):
        return f"{verb} {words[1]}"
    if verb == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1]}"
    return verb


settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS = True
sign_in(True, UA)  # the kind of device is known, and seen today
app(False)
_, plain = count_queries(lambda: sign_in(False, UA))
app(True)
_, ours = count_queries(lambda: sign_in(True, UA))
extra = Counter(map(shape, ours)) - Counter(map(shape, plain))
DeviceSession.objects.all().delete_rows()
commits = [sum(sql.upper().startswith("COMMIT") for sql in q) for q in (plain, ours)]
print("  statements a known-device sign-in adds: " + ", ".join(sorted(extra.elements())))
target(
    "commits per sign-in beyond plain Django's",
    str(commits[1] - commits[0]),
    "0",
    commits[1] == commits[0],
    "Django's own cache-engine sign-in commits nothing to add the rows to",
)
target(
    "extra statements, known device",
    str(sum(extra.values())),
    "at most 4",
    sum(extra.values()) <= 4,
)
repeated = float(rows[2][3])
target(
    "extra time, repeated User-Agent",
    f"{repeated:+.0f} µs",
    "+1,000 µs",
    repeated <= 1000,
    "two ORM INSERTs (row, history event) at ~290 µs each, over half of it Django's "
    "model-save Python; the savepoint of Django's own session save inside the transaction",
)
assert DeviceSession.objects.count() == 0
sign_in(True, UA)
assert DeviceSession.objects.get().device_name == "Chrome on macOS"
