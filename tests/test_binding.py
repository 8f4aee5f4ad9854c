"""Issue 15: device-bound sessions (W3C DBSC). A session whose browser proved a key only
works with the short-lived bound cookie that key renews; a copied session cookie alone is
a stranger's. Driven through the real sign-in view, middleware and endpoints, with proofs
signed by real P-256 and RSA keys (PyJWT on cryptography), and then abused.

The browser itself (Chromium over HTTPS) is in tests/demo/test_dbsc.py.
"""

import base64
import hashlib
import hmac
import json
import re

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sessions_mgmt.models import DeviceSession, SessionEvent

from .conftest import DEVICES_URL, MAC_CHROME, is_signed_in, session_key_of, store_has
from .factories import PASSWORD, UserFactory

REGISTER_URL = "/accounts/devices/bound/register/"
REFRESH_URL = "/accounts/devices/bound/refresh/"
COOKIE = "sessions_mgmt_bound"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bound(settings):
    settings.SESSIONS_MGMT_DEVICE_BOUND = True


class Device:
    """A browser with DBSC: a key pair of its own, and the proofs Chrome would send."""

    def __init__(self, algorithm: str = "ES256") -> None:
        self.algorithm = algorithm
        if algorithm == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = self._public_jwk()
        self.client = Client(headers={"user-agent": MAC_CHROME})
        self.session_id = None

    def _public_jwk(self) -> dict:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        return json.loads(algorithm.to_jwk(self.private.public_key()))

    def proof(self, challenge: str, *, with_key: bool, **header) -> str:
        headers = {"typ": "dbsc+jwt", **header}
        if with_key:
            headers["jwk"] = self.jwk
        return jwt.encode({"jti": challenge}, self.private, self.algorithm, headers=headers)

    def sign_in(self, user) -> str:
        """Sign in through the real form; returns the registration challenge offered."""
        response = self.client.post(
            "/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 302
        return offered_challenge(response)

    def register(self, challenge: str, **proof):
        return self.client.post(
            REGISTER_URL,
            headers={"secure-session-response": self.proof(challenge, with_key=True, **proof)},
        )

    def bind(self, user) -> dict:
        response = self.register(self.sign_in(user))
        assert response.status_code == 200, response.content
        self.session_id = response.json()["session_identifier"]
        return response.json()

    def refresh(self, *, proof: str | None = None, session_id: str | None = None):
        headers = {"sec-secure-session-id": session_id or self.session_id}
        if proof is not None:
            headers["secure-session-response"] = proof
        return self.client.post(REFRESH_URL, headers=headers)

    def challenge(self) -> str:
        response = self.refresh()
        assert response.status_code == 403
        return challenge_of(response)

    def renew(self):
        """A whole refresh, as Chrome does it: ask, get a challenge, answer it."""
        return self.refresh(proof=self.proof(self.challenge(), with_key=False))


def offered_challenge(response) -> str:
    header = response["Secure-Session-Registration"]
    match = re.fullmatch(r'\(ES256 RS256\);path="([^"]+)";challenge="([^"]+)"', header)
    assert match, header
    assert match[1] == REGISTER_URL
    return match[2]


def challenge_of(response) -> str:
    match = re.fullmatch(r'"([^"]+)";id="([^"]+)"', response["Secure-Session-Challenge"])
    assert match, response["Secure-Session-Challenge"]
    return match[1]


def copy_of(device: Device) -> Client:
    """What a thief has: the session cookie alone, in another browser."""
    thief = Client(headers={"user-agent": MAC_CHROME})
    thief.cookies["sessionid"] = session_key_of(device.client)
    return thief


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture(params=["ES256", "RS256"])
def device(request):
    return Device(request.param)


# --- binding ------------------------------------------------------------------------------


def test_a_sign_in_offers_a_binding_and_the_browser_binds(device, user, engine):
    instructions = device.bind(user)
    cookie = device.client.cookies[COOKIE]
    assert cookie["secure"] and cookie["httponly"] and cookie["max-age"] == 600
    assert instructions == {
        "session_identifier": device.session_id,
        "refresh_url": REFRESH_URL,
        "scope": {"origin": "https://testserver", "include_site": False, "scope_specification": []},
        "credentials": [
            {
                "type": "cookie",
                "name": COOKIE,
                "attributes": "Path=/; Secure; HttpOnly; SameSite=Lax",
            }
        ],
    }
    row = DeviceSession.objects.get(user=user)
    public = {
        name: device.jwk[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in device.jwk
    }
    assert row.bound_key == public and row.bound_at is not None
    assert SessionEvent.objects.filter(user=user, type="bound").count() == 1
    assert is_signed_in(device.client)


def test_nothing_is_offered_or_answered_when_the_setting_is_off(settings, user):
    settings.SESSIONS_MGMT_DEVICE_BOUND = False
    device = Device()
    response = device.client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}
    )
    assert "Secure-Session-Registration" not in response
    answer = device.client.post(REGISTER_URL)
    assert answer.status_code == 404 and "error" in answer.json()


def test_a_browser_without_dbsc_works_as_before(user, engine):
    device = Device()
    device.sign_in(user)  # offered, ignored
    assert is_signed_in(device.client)
    assert is_signed_in(copy_of(device)), "an unbound session is a plain cookie, as before"
    assert DeviceSession.objects.get(user=user).bound_at is None


# --- enforcement --------------------------------------------------------------------------


def test_the_copied_session_cookie_alone_is_a_stranger_and_changes_nothing(device, user, engine):
    device.bind(user)
    key = session_key_of(device.client)
    thief = copy_of(device)
    assert not is_signed_in(thief)
    answer = thief.get("/me/sessions")
    assert answer.status_code == 401
    # Trying to sign the victim out with it does nothing either.
    thief.get("/accounts/login/")
    thief.post("/accounts/logout/")
    assert store_has(key) and DeviceSession.objects.filter(session_key=key).exists()
    assert is_signed_in(device.client), "the device itself is untouched"


def test_a_refused_request_neither_deletes_nor_replaces_the_cookie(device, user):
    device.bind(user)
    thief = copy_of(device)
    response = thief.get(DEVICES_URL)
    assert response.status_code == 302
    assert "sessionid" not in response.cookies, "no Set-Cookie: the bound session is left alone"


def test_a_bound_cookie_of_another_session_does_not_fit(user):
    victim, attacker = Device(), Device()
    victim.bind(user)
    attacker.bind(UserFactory())
    thief = copy_of(victim)
    thief.cookies[COOKIE] = attacker.client.cookies[COOKIE].value
    assert not is_signed_in(thief)
    # Nor one of the same person's other session.
    other = Device()
    other.bind(user)
    thief.cookies[COOKIE] = other.client.cookies[COOKIE].value
    assert not is_signed_in(thief)


def test_the_bound_cookie_expires(device, user, time_machine):
    time_machine.move_to("2026-06-01 12:00:00+00:00", tick=False)
    device.bind(user)
    time_machine.shift(600 + 29)
    assert is_signed_in(device.client), "a request sent as the cookie ran out is still taken"
    time_machine.shift(2)
    assert not is_signed_in(device.client)
    assert device.renew().status_code == 200
    assert is_signed_in(device.client)


def test_a_tampered_bound_cookie_is_refused(device, user):
    device.bind(user)
    value = device.client.cookies[COOKIE].value
    device.client.cookies[COOKIE] = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    assert not is_signed_in(device.client)


def test_sign_in_mode_sends_page_loads_to_sign_in(device, user, settings):
    settings.SESSIONS_MGMT_DEVICE_BOUND_REFUSED = "sign_in"
    device.bind(user)
    thief = copy_of(device)
    response = thief.get("/whoami/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/whoami/")
    assert thief.get("/accounts/login/").status_code == 200, "the sign-in page itself loads"


def test_turning_the_setting_off_unlocks_bound_sessions(device, user, settings):
    """Nobody is locked out by a binding whose endpoints are gone."""
    device.bind(user)
    del device.client.cookies[COOKIE]
    settings.SESSIONS_MGMT_DEVICE_BOUND = False
    assert is_signed_in(device.client)
    assert device.client.get("/me/sessions").json()[0]["deviceBound"] is False


def test_an_ordinary_request_of_a_bound_session_adds_no_query(user, engine):
    plain, bound = Device(), Device()
    plain.sign_in(user)
    bound.bind(user)
    for client in (plain.client, bound.client):
        client.get("/whoami/")  # settle: the first request after sign-in may touch

    def queries(client) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/whoami/").status_code == 200
        return len(captured)

    assert queries(bound.client) == queries(plain.client)


# --- refresh ------------------------------------------------------------------------------


@pytest.mark.parametrize("quoted", [False, True])
def test_refresh_challenges_then_renews_the_cookie(device, user, engine, quoted):
    device.bind(user)
    session_id = f'"{device.session_id}"' if quoted else device.session_id
    response = device.refresh(session_id=session_id)
    assert response.status_code == 403 and "error" in response.json()
    assert response["Secure-Session-Challenge"].endswith(f';id="{device.session_id}"')
    proof = device.proof(challenge_of(response), with_key=False)
    response = device.refresh(proof=f'"{proof}"' if quoted else proof, session_id=session_id)
    assert response.status_code == 200
    assert response.json()["session_identifier"] == device.session_id
    assert response.cookies[COOKIE]["max-age"] == 600, "a new bound cookie"
    assert is_signed_in(device.client)


def test_a_replayed_proof_gets_a_fresh_challenge_not_a_cookie(device, user):
    device.bind(user)
    proof = device.proof(device.challenge(), with_key=False)
    assert device.refresh(proof=proof).status_code == 200
    thief = copy_of(device)
    answer = thief.post(
        REFRESH_URL,
        headers={"sec-secure-session-id": device.session_id, "secure-session-response": proof},
    )
    assert answer.status_code == 403 and "Secure-Session-Challenge" in answer
    assert COOKIE not in answer.cookies


def test_an_expired_challenge_gets_a_fresh_one(device, user, time_machine):
    time_machine.move_to("2026-06-01 12:00:00+00:00", tick=False)
    device.bind(user)
    challenge = device.challenge()
    time_machine.shift(121)
    answer = device.refresh(proof=device.proof(challenge, with_key=False))
    assert answer.status_code == 403 and challenge_of(answer) != challenge


def test_revoking_a_session_ends_its_binding(device, user):
    device.bind(user)
    other = Device()
    other.sign_in(user)
    row = DeviceSession.objects.get(session_key=session_key_of(device.client))
    other.client.get(DEVICES_URL)
    response = other.client.post(f"/accounts/devices/{row.public_id}/sign-out/")
    assert response.status_code == 302
    assert device.refresh().status_code == 403
    assert "Secure-Session-Challenge" not in device.refresh()
    assert COOKIE not in device.refresh(proof=device.proof("x", with_key=False)).cookies


def test_a_refresh_for_another_users_session_is_refused(user):
    victim, attacker = Device(), Device()
    victim.bind(user)
    attacker.bind(UserFactory())
    # The attacker's own session cookie, the victim's session id.
    answer = attacker.refresh(session_id=victim.session_id)
    assert answer.status_code == 403 and "Secure-Session-Challenge" not in answer
    # The victim's stolen cookie, with a proof made by the attacker's key.
    thief = copy_of(victim)
    challenge = challenge_of(
        thief.post(REFRESH_URL, headers={"sec-secure-session-id": victim.session_id})
    )
    answer = thief.post(
        REFRESH_URL,
        headers={
            "sec-secure-session-id": victim.session_id,
            "secure-session-response": attacker.proof(challenge, with_key=False),
        },
    )
    assert answer.status_code == 400 and COOKIE not in answer.cookies
    events = SessionEvent.objects.filter(user=user, type="proof_refused")
    assert events.count() == 1
    # Many more: the history gets one event every few minutes, not one each.
    for _ in range(5):
        thief.post(
            REFRESH_URL,
            headers={
                "sec-secure-session-id": victim.session_id,
                "secure-session-response": attacker.proof(challenge, with_key=False),
            },
        )
    assert events.count() == 1


def test_the_history_and_the_list_say_it_is_protected(device, user):
    device.bind(user)
    other = Device()
    other.sign_in(user)
    api = device.client.get("/me/sessions").json()
    assert {entry["isCurrent"]: entry["deviceBound"] for entry in api} == {True: True, False: False}
    page = device.client.get(DEVICES_URL).content.decode()
    assert page.count("Protected: this sign-in only works on this device") == 1
    activity = device.client.get("/accounts/devices/activity/").content.decode()
    assert "was bound to its device" in activity
    row = DeviceSession.objects.get(session_key=session_key_of(device.client))
    detail = device.client.get(f"/accounts/devices/{row.public_id}/").content.decode()
    assert "Protected: this sign-in only works on this device" in detail
    other_row = DeviceSession.objects.exclude(pk=row.pk).get()
    other_page = device.client.get(f"/accounts/devices/{other_row.public_id}/").content.decode()
    assert "Protected" not in other_page


# --- hostile input ------------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    """A shared-secret JWT, signed by hand (PyJWT rightly will not use a JWK as a secret)."""
    signed = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def hostile_registrations(device: Device, challenge: str) -> dict[str, str]:
    other = Device()
    rsa_device = Device("RS256")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    small_jwk = json.loads(jwt.get_algorithm_by_name("RS256").to_jwk(small.public_key()))
    private_jwk = json.loads(
        jwt.get_algorithm_by_name("ES256").to_jwk(device.private, as_dict=False)
    )
    header = {"alg": "none", "typ": "dbsc+jwt", "jwk": device.jwk}
    return {
        "alg none": f"{_b64(header)}.{_b64({'jti': challenge})}.",
        "HS256 with the public key as secret": hs256(
            {"alg": "HS256", "typ": "dbsc+jwt", "jwk": device.jwk},
            {"jti": challenge},
            json.dumps(device.jwk).encode(),
        ),
        "signed by another key than the one sent": jwt.encode(
            {"jti": challenge},
            other.private,
            "ES256",
            headers={"typ": "dbsc+jwt", "jwk": device.jwk},
        ),
        "an RSA key with ES256": jwt.encode(
            {"jti": challenge},
            device.private,
            "ES256",
            headers={"typ": "dbsc+jwt", "jwk": rsa_device.jwk},
        ),
        "a 1024-bit RSA key": jwt.encode(
            {"jti": challenge}, small, "RS256", headers={"typ": "dbsc+jwt", "jwk": small_jwk}
        ),
        "a private key as the key": jwt.encode(
            {"jti": challenge},
            device.private,
            "ES256",
            headers={"typ": "dbsc+jwt", "jwk": private_jwk},
        ),
        "no key": device.proof(challenge, with_key=False),
        "a key that is not an object": jwt.encode(
            {"jti": challenge}, device.private, "ES256", headers={"typ": "dbsc+jwt", "jwk": "x"}
        ),
        "another type": device.proof(challenge, with_key=True, typ="JWT"),
        "a forged challenge": device.proof("1:1:forged", with_key=True),
        "no challenge": jwt.encode(
            {}, device.private, "ES256", headers={"typ": "dbsc+jwt", "jwk": device.jwk}
        ),
        "a challenge that is not a string": jwt.encode(
            {"jti": 7}, device.private, "ES256", headers={"typ": "dbsc+jwt", "jwk": device.jwk}
        ),
        "not a JWT": "not-a-jwt",
        "three dots of garbage": "a.b.c",
        "JSON that is not an object": f"{_b64([1])}.{_b64({'jti': challenge})}.sig",
        "huge": "a" * 20000,
        "empty": "",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hostile_registrations_are_refused_and_change_nothing(user):
    device = Device()
    challenge = device.sign_in(user)
    for name, proof in hostile_registrations(device, challenge).items():
        response = device.client.post(REGISTER_URL, headers={"secure-session-response": proof})
        assert 400 <= response.status_code < 500, name
        assert "error" in response.json(), name
        assert COOKIE not in response.cookies, name
    row = DeviceSession.objects.get(user=user)
    assert row.bound_at is None and row.bound_key is None
    assert not SessionEvent.objects.filter(type="bound").exists()
    # The genuine proof still binds afterwards.
    assert device.register(challenge).status_code == 200


def test_a_challenge_is_only_good_for_its_own_sign_in(user):
    first, second = Device(), Device()
    first_challenge = first.sign_in(user)
    second.sign_in(user)
    response = second.register(first_challenge)
    assert response.status_code == 400
    assert first.register(first_challenge).status_code == 200
    # Replaying the registration, even with the same key, binds nothing again.
    assert first.register(first_challenge).status_code == 409
    assert SessionEvent.objects.filter(type="bound").count() == 1


def test_a_registration_challenge_expires(user, time_machine):
    time_machine.move_to("2026-06-01 12:00:00+00:00", tick=False)
    device = Device()
    challenge = device.sign_in(user)
    time_machine.shift(301)
    assert device.register(challenge).status_code == 400


def test_registration_needs_a_signed_in_session(user):
    device = Device()
    challenge = device.sign_in(user)
    stranger = Client()
    response = stranger.post(
        REGISTER_URL, headers={"secure-session-response": device.proof(challenge, with_key=True)}
    )
    assert response.status_code == 401 and "error" in response.json()


def test_hostile_refreshes_are_refused_and_change_nothing(device, user):
    device.bind(user)
    cookie = device.client.cookies[COOKIE].value
    challenge = device.challenge()
    other = Device(device.algorithm)
    header = {"alg": "none", "typ": "dbsc+jwt"}
    proofs = {
        "alg none": f"{_b64(header)}.{_b64({'jti': challenge})}.",
        "another key": other.proof(challenge, with_key=False),
        "another key, sent along": other.proof(challenge, with_key=True),
        "a registration challenge": device.proof(Device().sign_in(UserFactory()), with_key=False),
        "a forged challenge": device.proof("1:1:x", with_key=False),
        "garbage": "x.y.z",
        "huge": "a" * 20000,
    }
    for name, proof in proofs.items():
        response = device.refresh(proof=proof)
        assert 400 <= response.status_code < 500, name
        assert "error" in response.json(), name
        assert COOKIE not in response.cookies, name
    for session_id in ("", "x" * 500, "\x00", '"'):
        response = device.client.post(REFRESH_URL, headers={"sec-secure-session-id": session_id})
        assert 400 <= response.status_code < 500 and "error" in response.json()
    assert device.client.cookies[COOKIE].value == cookie
    # The genuine proof still renews.
    assert device.refresh(proof=device.proof(challenge, with_key=False)).status_code == 200


def test_only_post(device, user):
    device.bind(user)
    for url in (REGISTER_URL, REFRESH_URL):
        response = device.client.get(url)
        assert response.status_code == 405 and "error" in response.json()


def test_signing_in_with_a_stolen_cookie_leaves_the_victims_session_alone(device, user, engine):
    """A stranger's request may sign in to its own account; the bound session it carried
    is not its to end (Django's login() would otherwise flush it)."""
    device.bind(user)
    key = session_key_of(device.client)
    thief = copy_of(device)
    intruder = UserFactory()
    response = thief.post("/accounts/login/", {"username": intruder.username, "password": PASSWORD})
    assert response.status_code == 302
    assert session_key_of(thief) != key
    assert thief.get("/whoami/").content.decode() == intruder.username
    assert store_has(key) and DeviceSession.objects.filter(session_key=key, user=user).exists()
    assert device.client.get("/whoami/").content.decode() == user.username


def test_under_asgi_the_same_rules_hold(device, user):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    device.bind(user)

    def whoami(cookies) -> str:
        browser = AsyncClient()
        browser.cookies = cookies
        return async_to_sync(browser.get)("/awhoami/").content.decode()

    assert whoami(device.client.cookies) == user.username
    assert whoami(copy_of(device).cookies) == ""


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    session_id=st.text(max_size=80),
    proof=st.one_of(
        st.text(max_size=300),
        st.lists(st.text(alphabet="abcXYZ0123-_=", max_size=60), min_size=1, max_size=5).map(
            ".".join
        ),
    ),
)
def test_arbitrary_headers_never_cause_a_server_error(bound_device, session_id, proof):
    """One bound browser, many hostile requests: each is a 4xx in JSON, and the session
    still works after all of them."""

    def latin1(value: str) -> str:
        return value.encode("latin-1", "replace").decode("latin-1")

    for url, headers in (
        (REFRESH_URL, {"sec-secure-session-id": latin1(session_id)}),
        (
            REFRESH_URL,
            {
                "sec-secure-session-id": bound_device.session_id,
                "secure-session-response": latin1(proof),
            },
        ),
        (REGISTER_URL, {"secure-session-response": latin1(proof)}),
    ):
        response = bound_device.client.post(url, headers=headers)
        assert 400 <= response.status_code < 500 and "error" in response.json()
    assert is_signed_in(bound_device.client)


@pytest.fixture
def bound_device(user):
    device = Device()
    device.bind(user)
    return device


def test_the_admin_shows_which_sessions_are_bound(device, user):
    device.bind(user)
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    page = admin.get("/admin/sessions_mgmt/devicesession/").content.decode()
    assert "Bound to its device" in page or "bound to its device" in page
    # Two live sessions (the user's and the staff member's); only the user's is bound.
    assert page.count('alt="True"') == 3 and page.count('alt="False"') == 1
    row = DeviceSession.objects.get(user=user)
    detail = admin.get(f"/admin/sessions_mgmt/devicesession/{row.pk}/change/").content.decode()
    assert "bound to its device" in detail.lower()


def test_the_endpoints_work_under_login_required_middleware(settings, user):
    """The refresh comes without a fresh bound cookie, so as a stranger: it must not be
    sent to the sign-in page by LoginRequiredMiddleware."""
    from .test_login_required import LOGIN_REQUIRED

    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("sessions_mgmt.middleware.DeviceSessionMiddleware"), LOGIN_REQUIRED
    )
    settings.MIDDLEWARE = middleware
    device = Device()
    device.bind(user)
    del device.client.cookies[COOKIE]
    assert not is_signed_in(device.client)
    assert device.renew().status_code == 200
    assert is_signed_in(device.client)


def test_a_sign_in_still_works_when_the_apps_urls_are_missing(user, settings):
    """A project that forgot the URLs gets check E007 at start-up, not a 500 at sign-in."""
    from . import urls

    kept = [p for p in urls.urlpatterns if "accounts/devices/" not in str(p.pattern)]
    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": kept})
    settings.LOGIN_REDIRECT_URL = "/whoami/"
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS = False
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and "Secure-Session-Registration" not in response
    assert client.get("/whoami/").content.decode() == user.username


def test_a_refresh_is_only_checked_against_the_stored_key(device, user):
    """A row without a key (however it lost it) refuses; the key a proof brings along is
    never the one it is checked with."""
    device.bind(user)
    challenge = device.challenge()
    DeviceSession.objects.filter(user=user).update(bound_key=None)
    other = Device(device.algorithm)
    answer = device.refresh(proof=other.proof(challenge, with_key=True))
    assert answer.status_code == 403 and COOKIE not in answer.cookies


@pytest.mark.django_db(databases=["default", "replica"])
def test_binding_and_refresh_read_the_primary_not_a_lagging_replica(user, settings):
    """DESIGN: decisions read the primary. A replica that has not caught up must neither
    break a registration nor refuse the device's own refresh (which would sign it out)."""
    settings.DATABASE_ROUTERS = ["tests.routers.LaggingReplicaRouter"]
    device = Device()
    device.bind(user)
    assert not DeviceSession.objects.filter(user=user).exists()  # the replica knows nothing
    assert device.renew().status_code == 200
    assert is_signed_in(device.client)


@pytest.mark.parametrize("remember_me", ["", "on"])
def test_a_refresh_keeps_the_sessions_expiry(user, engine, time_machine, remember_me):
    """The refresh saves the session (the challenge it answered); like the app's other
    saves, that must not push back when Django ends the session, with or without
    "remember me"."""
    from django.contrib.sessions.models import Session

    time_machine.move_to("2026-06-01 12:00:00+00:00", tick=False)
    device = Device()
    response = device.client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "remember_me": remember_me},
    )
    answer = device.register(offered_challenge(response))
    assert answer.status_code == 200
    device.session_id = answer.json()["session_identifier"]
    expires = device.client.get("/me/sessions").json()[0]["expiresAt"]
    stored = Session.objects.filter(pk=session_key_of(device.client)).first()
    time_machine.shift(7200)
    assert device.renew().status_code == 200
    if stored is not None:  # db, cached_db: the store itself, before a touch could mend it
        assert Session.objects.get(pk=stored.pk).expire_date == stored.expire_date
    assert device.client.get("/me/sessions").json()[0]["expiresAt"] == expires


def test_forged_bound_cookies_are_not_kept(device, user):
    """Signatures are checked once per cookie and process; only cookies that passed are
    kept, so a stream of forged ones neither fills the memory nor evicts real ones."""
    from sessions_mgmt import binding
    from sessions_mgmt.conf import app_settings

    device.bind(user)
    assert is_signed_in(device.client)
    kept = app_settings.memo("dbsc_opened", lambda: None)
    assert kept.cache_info().currsize == 1
    thief = copy_of(device)
    for number in range(200):
        thief.cookies[COOKIE] = f"{device.session_id}:{number}:forged"
        assert not is_signed_in(thief)
    assert kept.cache_info().currsize == 1
    assert binding._opened_cookie(device.client.cookies[COOKIE].value)


def test_a_failure_inside_the_endpoints_is_answered_in_json(user, monkeypatch):
    """As the API's: the browser's endpoints never answer an HTML error page."""
    from django.db import OperationalError

    from sessions_mgmt import binding

    device = Device()
    challenge = device.sign_in(user)
    for failure, status in ((RuntimeError("bug"), 500), (OperationalError("locked"), 503)):

        def fail(*args, failure=failure):
            raise failure

        monkeypatch.setattr(binding, "_verify", fail)
        response = device.register(challenge)
        assert response.status_code == status and "error" in response.json()
