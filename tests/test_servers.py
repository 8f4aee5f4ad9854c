"""Issue 10 §4: no revived sessions with several app servers.

Two real gunicorn servers share one PostgreSQL and one Redis, with persistent database
connections (``DATABASE_CONN_MAX_AGE=60``), as sites that outgrow one machine run. While
bounded load keeps asking both servers with the cookies of a user's other devices, one of
the user's devices signs out all the others. The cache keys used to be deleted only before
the database commit: a request on the other server that missed the cache read the
still-committed session row and wrote it back into Redis, and the revoked cookie went on
working on both servers.

Runs in the PostgreSQL runs with Redis (``make test``); everything stays on 127.0.0.1,
every request has a timeout, and each round is bounded in requests and time.
"""

import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from .conftest import IPHONE_SAFARI, MAC_CHROME, REDIS_URL
from .factories import PASSWORD, UserFactory
from .http import Browser
from .servers import demo_servers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.servers]

ENGINES = {
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "cache": "django.contrib.sessions.backends.cache",
    "db": "django.contrib.sessions.backends.db",
}
ROUNDS = {"cached_db": 15, "cache": 3, "db": 3}
VICTIMS = 8  # other devices per round
LOAD_THREADS = 12
AFTER = 0.4  # seconds of load after the revoke returned
MAX_REQUESTS_PER_ROUND = 4000


@dataclass
class Site:
    urls: list[str]
    engine: str
    cache: RedisCache

    def cache_has(self, session_key: str) -> bool:
        prefix = f"django.contrib.sessions.{self.engine}"
        return self.cache.get(prefix + session_key) is not None


@pytest.fixture(params=list(ENGINES))
def site(request, transactional_db, tmp_path):
    """Two gunicorn servers (threaded workers) of the demo site on one database and Redis."""
    engine = request.param
    prefix = f"servers-{uuid.uuid4().hex}"
    db = connection.settings_dict
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "SESSION_ENGINE": ENGINES[engine],
    }
    with demo_servers(env, tmp_path, count=2) as urls:
        yield Site(urls, engine, RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}))


@dataclass
class Answer:
    sent: float
    server: str
    key: str
    signed_in: bool


def hammer(victims: list[Browser], site: Site, stop: threading.Event, answers: list) -> None:
    """Ask both servers, round and round, whether each victim's cookie still works."""
    count = 0
    while not stop.is_set() and count < MAX_REQUESTS_PER_ROUND // LOAD_THREADS:
        for victim in victims:
            for url in site.urls:
                sent = time.monotonic()
                try:
                    status = victim.at(url).get("/me/sessions").status
                except OSError:
                    continue
                answers.append(Answer(sent, url, victim.session_key, status == 200))
                count += 1


def test_sign_out_of_all_other_devices_under_load_on_two_servers(site):
    user = UserFactory()
    failures = []
    for round_number in range(ROUNDS[site.engine]):
        me = Browser(site.urls[round_number % 2], MAC_CHROME, settings.SESSION_COOKIE_NAME)
        me.sign_in(user.username, PASSWORD)
        victims = []
        for index in range(VICTIMS):
            victim = Browser(site.urls[index % 2], IPHONE_SAFARI, settings.SESSION_COOKIE_NAME)
            victim.sign_in(user.username, PASSWORD)
            victims.append(victim)
        keys = [victim.session_key for victim in victims]
        assert len(me.get("/me/sessions").body) > 0

        answers: list[Answer] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=hammer, args=(victims[i::2] or victims, site, stop, answers))
            for i in range(LOAD_THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.15)
        me.get("/accounts/devices/")  # the CSRF cookie, as the page's form would have it
        revoke = me.request(
            "POST", "/me/sessions/revoke-all", headers={"X-CSRFToken": me.cookie("csrftoken")}
        )
        returned = time.monotonic()
        time.sleep(AFTER)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        assert revoke.status == 200, revoke.body
        late = [a for a in answers if a.sent > returned and a.signed_in]
        lingering = [k for k in keys if site.cache_has(k)] if site.engine != "db" else []
        rows = Session.objects.filter(session_key__in=keys).count()
        if late or lingering or rows:
            failures.append(
                f"round {round_number}: {len(late)} authenticated answers after the revoke "
                f"returned (of {sum(a.sent > returned for a in answers)}), "
                f"{len(lingering)} revoked sessions still in Redis, {rows} in the database"
            )
        for url in site.urls:
            assert me.at(url).get("/me/sessions").status == 200, "the current session died"
        assert sum(a.sent > returned for a in answers) > 0, "no load after the revoke"
    assert not failures, "; ".join(failures)
