"""Issue 15: what a device-bound session (DBSC) costs an ordinary request. An authenticated
GET of a trivial view through the demo's full middleware stack, in interleaved rounds:
without the app, with the app and an unbound session, and with the app and a session bound
through the real endpoints (sign-in, registration with a P-256 proof). Prints queries per
request (target: none added) and the time ratios; and the guard alone."""

import gc
import json
import os
import re

os.environ["SESSIONS_MGMT_DEVICE_BOUND"] = "true"

from harness import count_queries, median, quick, report, setup_django, target, timer

setup_django()

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402

from sessions_mgmt import binding  # noqa: E402
from sessions_mgmt.checks import MIDDLEWARE_PATH  # noqa: E402
from sessions_mgmt.models import DeviceSession  # noqa: E402


def whoami(request):
    return HttpResponse(request.user.get_username())


urlpatterns = [path("whoami/", whoami), path("", include("config.urls"))]
settings.ROOT_URLCONF = __name__

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
get_user_model().objects.create_user("bench", password="bench-password")


def signed_in_browser() -> tuple[Client, str]:
    """A browser signed in through the real form; and the registration challenge offered."""
    client = Client(headers={"user-agent": UA})
    response = client.post("/accounts/login/", {"username": "bench", "password": "bench-password"})
    assert response.status_code == 302, response
    return client, re.search(r'challenge="([^"]+)"', response[binding.REGISTRATION_HEADER])[1]


plain, _ = signed_in_browser()
bound, challenge = signed_in_browser()
key = ec.generate_private_key(ec.SECP256R1())
public = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key()))
proof = jwt.encode({"jti": challenge}, key, "ES256", headers={"typ": "dbsc+jwt", "jwk": public})
registered = bound.post(
    "/accounts/devices/bound/register/", headers={"secure-session-response": proof}
)
assert registered.status_code == 200, registered.content
assert DeviceSession.objects.exclude(bound_at=None).count() == 1


def client_with(cookies, middleware: list[str]) -> Client:
    client = Client(headers={"user-agent": UA})
    client.cookies = cookies
    with override_settings(MIDDLEWARE=middleware):
        client.handler.load_middleware()
    return client


without_app = client_with(plain.cookies, [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH])
unbound = client_with(plain.cookies, list(settings.MIDDLEWARE))
with_binding = client_with(bound.cookies, list(settings.MIDDLEWARE))
clients = {"without sessions_mgmt": without_app, "unbound session": unbound}
clients["bound session"] = with_binding


def one_request(client: Client) -> None:
    response = client.get("/whoami/")
    assert response.status_code == 200 and response.content == b"bench", response


# A copy of the bound session's cookie alone is a stranger: the guard is really on.
thief = Client(headers={"user-agent": UA})
thief.cookies[settings.SESSION_COOKIE_NAME] = bound.cookies[settings.SESSION_COOKIE_NAME].value
assert thief.get("/whoami/").content == b""


def per_request_us(client: Client, n: int) -> float:
    with timer() as t:
        for _ in range(n):
            one_request(client)
    return t["seconds"] / n * 1e6


rounds, n = (31, 100) if quick() else (101, 200)
for client in clients.values():
    per_request_us(client, 200)
queries = {name: len(count_queries(lambda c=c: one_request(c))[1]) for name, c in clients.items()}
timings = {name: [] for name in clients}
gc.disable()
for i in range(rounds):
    names = list(clients)[i % 3 :] + list(clients)[: i % 3]  # rotate the order
    for name in names:
        timings[name].append(per_request_us(clients[name], n))
gc.enable()


def ratio(a: str, b: str) -> float:
    return median([x / y for x, y in zip(timings[a], timings[b], strict=True)])


rows = [("", "µs/request (median)", "queries/request")]
rows += [(name, f"{median(timings[name]):.1f}", queries[name]) for name in clients]
rows.append(("bound / unbound", f"{ratio('bound session', 'unbound session'):.3f}", ""))
rows.append(("bound / without", f"{ratio('bound session', 'without sessions_mgmt'):.3f}", ""))

# The guard alone, on a request whose session is loaded (as a view would load it).
probe = RequestFactory().get("/whoami/")
probe.COOKIES = {name: morsel.value for name, morsel in bound.cookies.items()}
probe.session = (
    __import__("importlib")
    .import_module(settings.SESSION_ENGINE)
    .SessionStore(probe.COOKIES[settings.SESSION_COOKIE_NAME])
)
probe.session.load()
assert binding.guard(probe) is None and not binding.refused(probe)
with timer() as t:
    for _ in range(20000):
        binding.guard(probe)
rows.append(("binding.guard alone (µs)", f"{t['seconds'] / 20000 * 1e6:.2f}", 0))
report(f"Device-bound sessions: an ordinary request ({rounds} rounds × {n} requests)", rows)
added = queries["bound session"] - queries["unbound session"]
target("queries a bound session adds", str(added), "0", added == 0)
