"""Issue 12: wrong passwords sent in parallel, to a live server, are counted before the slow
hash runs, so no more of them are checked than the limit allows.

The demo site runs under gunicorn (threads, and two worker processes sharing Redis in the
runs that have it) behind a "proxy" (``X-Forwarded-For``, one hop), with a real PBKDF2 hash.
The counter used to be read before the hash and written after it: twenty guesses sent at
once were all checked.
"""

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import MAC_CHROME, REDIS_URL
from .http import Browser
from .servers import ROOT, demo_servers, prepare_database

PARALLEL = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    where = tmp_path_factory.mktemp("throttle")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.throttle_server_settings",
        "DATABASE_URL": f"sqlite:///{where / 'db.sqlite3'}",
        "CACHE_KEY_PREFIX": f"throttle-{uuid.uuid4().hex}",
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "SESSIONS_MGMT_PROXY_COUNT": "1",  # the demo, told of its one proxy as a deployer would
    }
    prepare_database(env)
    # Two processes only share counts through Redis; without it, one process's threads.
    workers = 2 if REDIS_URL else 1
    with demo_servers(env, Path(where), workers=workers, threads=PARALLEL) as urls:
        yield urls[0]


def client(url: str, address: str) -> Browser:
    """A browser at ``address``, as the one proxy in front of the site reports it."""
    return Browser(url, MAC_CHROME).with_headers({"X-Forwarded-For": f"{address}, 10.0.0.2"})


def all_at_once(count: int, send) -> list:
    """Call ``send()`` from ``count`` threads released together."""
    barrier = threading.Barrier(count, timeout=30)

    def one(_):
        barrier.wait()
        return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_confirmations_check_no_more_than_the_limit(server):
    bob = client(server, "198.51.100.20")
    bob.sign_in("bob", "bob-demo-password")
    token = bob.cookie("csrftoken")

    def guess():
        return bob.request(
            "POST", "/me/reauthenticate", {"password": "guess"}, headers={"X-CSRFToken": token}
        ).status

    answers = all_at_once(PARALLEL, guess)
    assert answers.count(400) == 5, f"checked: {answers.count(400)} of {PARALLEL}: {answers}"
    assert answers.count(429) == PARALLEL - 5


def test_parallel_sign_ins_check_no_more_than_the_limit(server):
    attacker = client(server, "203.0.113.30")
    tokens = []
    for _ in range(PARALLEL + 10):
        page = attacker.get("/accounts/login/").body
        tokens.append(page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0])

    def guess():
        token = tokens.pop()
        body = attacker.request(
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token, "username": "alice", "password": "guess"},
        ).body
        return "refused" if "Too many wrong passwords" in body else "checked"

    answers = all_at_once(PARALLEL + 10, guess)
    # Guesses at one account from one address stop at that pair's limit (10).
    assert answers.count("checked") == 10, answers
    # The owner, from another address, still signs in.
    alice = client(server, "198.51.100.21")
    alice.sign_in("alice", "alice-demo-password")


def test_behind_the_proxy_one_address_guessing_refuses_no_one_else_there(server):
    """An office, or everyone behind one proxy hop the site cannot see past: one client
    guesses bob's password over and over; alice, at the same address, signs in."""
    guesser = client(server, "198.51.100.60")
    for _ in range(30):
        page = guesser.get("/accounts/login/").body
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        guesser.request(
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token, "username": "bob", "password": "guess"},
        )
    alice = client(server, "198.51.100.60")
    alice.sign_in("alice", "alice-demo-password")
