"""Per-request cost of DeviceSessionMiddleware: an authenticated GET of a trivial view
through Django's full middleware stack, with and without the app, same database and
session engine, alternating rounds. Also the cost when the touch interval has passed."""

import gc
import os

from harness import count_queries, median, quick, report, setup_django, timer

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from sessions_mgmt.checks import MIDDLEWARE_PATH  # noqa: E402
from sessions_mgmt.models import DeviceSession  # noqa: E402


def whoami(request):
    return HttpResponse(request.user.get_username())


urlpatterns = [path("whoami/", whoami)]
settings.ROOT_URLCONF = __name__

User = get_user_model()
user = User.objects.create_user("bench", password="bench-password")
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"

signed_in = Client(headers={"user-agent": UA})
assert signed_in.login(username="bench", password="bench-password")
assert DeviceSession.objects.filter(user=user).count() == 1


def client_with(middleware: list[str]) -> Client:
    client = Client(headers={"user-agent": UA})
    client.cookies = signed_in.cookies
    with override_settings(MIDDLEWARE=middleware):
        client.handler.load_middleware()
    return client


with_app = client_with(list(settings.MIDDLEWARE))
without_app = client_with([m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH])


def one_request(client: Client) -> None:
    response = client.get("/whoami/")
    assert response.status_code == 200 and response.content == b"bench", response


def per_request_us(client: Client, n: int) -> float:
    with timer() as t:
        for _ in range(n):
            one_request(client)
    return t["seconds"] / n * 1e6


rounds, n = (41, 100) if quick() else (101, 200)
for client in (with_app, without_app):  # warm up both
    per_request_us(client, 200)

_, q_with = count_queries(lambda: one_request(with_app))
_, q_without = count_queries(lambda: one_request(without_app))
# Interleaved rounds in alternating order; the ratio is the median of the per-round ratios,
# which cancels most of the drift of a noisy machine.
a, b, ratios = [], [], []
gc.disable()
for i in range(rounds):
    order = (with_app, without_app) if i % 2 else (without_app, with_app)
    timings = {id(client): per_request_us(client, n) for client in order}
    a.append(timings[id(with_app)])
    b.append(timings[id(without_app)])
    ratios.append(a[-1] / b[-1])
gc.enable()

rows = [
    ("", "µs/request (median)", "queries/request"),
    ("without sessions_mgmt", f"{median(b):.1f}", len(q_without)),
    ("with sessions_mgmt", f"{median(a):.1f}", len(q_with)),
    ("ratio (median of round ratios)", f"{median(ratios):.3f}", len(q_with) - len(q_without)),
]
assert q_with == q_without or len(q_with) == len(q_without), (q_with, q_without)

# After the touch interval: one UPDATE of the row plus the session save that records it.
with override_settings(SESSIONS_MGMT_TOUCH_INTERVAL=0):
    _, q_touch = count_queries(lambda: one_request(with_app))
    touch = []
    for _ in range(rounds):
        touch.append(per_request_us(with_app, n // 3))
rows.append(("touch due every request", f"{median(touch):.1f}", len(q_touch)))
# The middleware alone, on a request whose session is loaded: what it adds, without the
# noise of the whole stack around it.
from django.test import RequestFactory  # noqa: E402

from sessions_mgmt.middleware import DeviceSessionMiddleware  # noqa: E402

probe = RequestFactory().get("/whoami/")
probe.COOKIES = {
    settings.SESSION_COOKIE_NAME: signed_in.cookies[settings.SESSION_COOKIE_NAME].value
}
probe.session = (
    __import__("importlib")
    .import_module(settings.SESSION_ENGINE)
    .SessionStore(probe.COOKIES[settings.SESSION_COOKIE_NAME])
)
assert probe.session.get("_auth_user_id") == str(user.pk)  # loaded, as a view would
ready = HttpResponse()
middleware = DeviceSessionMiddleware(lambda request: ready)
_, q_sync = count_queries(lambda: middleware(probe))
with timer() as t:
    for _ in range(20000):
        middleware(probe)
rows.append(("DeviceSessionMiddleware alone", f"{t['seconds'] / 20000 * 1e6:.2f}", len(q_sync)))
report(f"Per-request overhead ({rounds} rounds × {n} requests)", rows)
added = len(q_touch) - len(q_without)
kinds = [" ".join(q.split()[:2]).replace('"', "") for q in q_touch[len(q_without) - len(q_touch) :]]
print(f"  a due touch adds {added} statements: {', '.join(kinds)}")
if os.environ.get("BENCH_SHOW_SQL"):
    print("\n".join(q_touch))
