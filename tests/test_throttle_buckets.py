"""Buckets that hit the attacker, not the crowd. Wrong passwords at sign-in count per
address *and* account, under a looser ceiling per address and the account's own ceiling:
one person's typos, or an attacker's guesses against one account, never refuse other
people's right passwords from the same address (an office, a proxy that was not told to
pass the client's address on), while guessing many accounts from one address stays
bounded. An IPv6 client counts as its /64, an IPv4-mapped address as the IPv4 one, and
the refusal says how long is really left. Through the real sign-in page."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from .conftest import LOGIN_URL, is_signed_in
from .factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

OFFICE = "198.51.100.80"


def attempt(username: str, password: str, address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.post(LOGIN_URL, {"username": username, "password": password})
    return client


def refused(client: Client, username: str, address: str) -> bool:
    body = client.post(
        LOGIN_URL, {"username": username, "password": PASSWORD}, REMOTE_ADDR=address
    ).content.decode()
    return "Too many wrong passwords" in body


@pytest.fixture
def people():
    return [UserFactory(username=name) for name in ("alice", "bob", "carol")]


def test_one_persons_typos_do_not_refuse_a_colleagues_right_password(people):
    for n in range(25):  # bob's typos (or an attacker's guesses at bob) from the office
        attempt("bob", f"typo-{n}", OFFICE)
    assert is_signed_in(attempt("alice", PASSWORD, OFFICE))


def test_guessing_one_account_from_one_address_is_refused_after_ten(people):
    for n in range(10):
        attempt("bob", f"guess-{n}", OFFICE)
    client = Client(REMOTE_ADDR=OFFICE)
    assert refused(client, "bob", OFFICE)
    assert not is_signed_in(client)
    # bob, from home, is not refused: the account's ceiling (50) is far.
    assert is_signed_in(attempt("bob", PASSWORD, "192.0.2.50"))


def test_guessing_many_accounts_from_one_address_is_bounded(people, settings):
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = {"address": 6}
    for n in range(6):
        attempt(f"nobody-{n}", "guess", OFFICE)  # one guess at each of six accounts
    client = Client(REMOTE_ADDR=OFFICE)
    assert refused(client, "carol", OFFICE)
    assert is_signed_in(attempt("carol", PASSWORD, "192.0.2.51"))


def test_an_ipv6_client_counts_as_its_64(people):
    """Every address of a /64 is one client: rotating through them gives no fresh bucket."""
    for n in range(10):
        attempt("bob", f"guess-{n}", f"2001:db8:1:2::{n + 1:x}")
    client = Client(REMOTE_ADDR="2001:db8:1:2:ffff::9")
    assert refused(client, "bob", "2001:db8:1:2:ffff::9")
    # Another /64 is another client.
    assert is_signed_in(attempt("bob", PASSWORD, "2001:db8:1:3::1"))


def test_an_ipv4_mapped_address_counts_as_the_ipv4_one(people):
    for n in range(10):
        address = "203.0.113.5" if n % 2 else "::ffff:203.0.113.5"
        attempt("bob", f"guess-{n}", address)
    client = Client(REMOTE_ADDR="203.0.113.5")
    assert refused(client, "bob", "203.0.113.5")


def test_the_refusal_says_how_long_is_really_left(people):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(10):
            attempt("bob", f"guess-{n}", OFFICE)
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        body = (
            Client(REMOTE_ADDR=OFFICE)
            .post(LOGIN_URL, {"username": "bob", "password": PASSWORD})
            .content.decode()
        )
    assert "Please wait 4 minutes" in body, body[body.find("Too many") :][:120]


def test_the_api_says_when_to_try_again(user, sign_in):
    from .test_throttle import reauthenticate

    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        for _ in range(5):
            reauthenticate(laptop, "guess")
        refused = reauthenticate(laptop, PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert "Please wait 15 minutes" in refused.json()["error"]
