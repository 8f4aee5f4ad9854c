"""Sign-in cost of the app: the login form POST with and without sessions_mgmt (its
middleware and receivers), with a fast password hasher so hashing does not hide it. With a
User-Agent seen before (parsed once, then cached) and with a new one each time."""

import gc
import itertools

from harness import count_queries, median, quick, report, setup_django, timer

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
assert DeviceSession.objects.count() == 0
sign_in(True, UA)
assert DeviceSession.objects.get().device_name == "Chrome on macOS"
