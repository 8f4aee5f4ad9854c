"""The "Your devices" page and ``GET /me/sessions`` for a user with 5, 50 and 500 sessions:
round trips (database queries and session-cache calls beyond loading the session and the
user) and time. Issue 14 §1: at most 4 queries plus 1 cache call, the same for every size;
nothing parsed at render time."""

from collections import Counter

from harness import count_queries, median, report, setup_django, target, timer

setup_django()

import django_user_agents.utils  # noqa: E402
import user_agents.parsers  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test import Client  # noqa: E402
from seed import seed_sessions  # noqa: E402

from sessions_mgmt import devices  # noqa: E402

parses = []
real_parse = user_agents.parsers.parse
counting = lambda ua: parses.append(ua) or real_parse(ua)  # noqa: E731
devices.parse = user_agents.parsers.parse = django_user_agents.utils.parse = counting

CACHE_METHODS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "touch")
cache_calls: Counter = Counter()
_depth = [0]


def _count(name, original):
    def counted(*args, **kwargs):
        if not _depth[0]:  # the local-memory cache's get_many calls get: outer calls only
            cache_calls[name] += 1
        _depth[0] += 1
        try:
            return original(*args, **kwargs)
        finally:
            _depth[0] -= 1

    return counted


session_cache = caches[settings.SESSION_CACHE_ALIAS]
for _name in CACHE_METHODS:
    setattr(session_cache, _name, _count(_name, getattr(session_cache, _name)))


def round_trips(client: Client, path: str) -> tuple[int, int, object]:
    cache_calls.clear()
    response, queries = count_queries(lambda: client.get(path))
    assert response.status_code == 200, (path, response.status_code)
    return len(queries), sum(cache_calls.values()), response


rows = [
    (
        "sessions",
        "page: queries + cache calls",
        "API: queries + cache calls",
        "ms/page (median of 15)",
        "UA parses while rendering",
    )
]
extras = []
for i, count in enumerate((5, 50, 500)):
    user = get_user_model().objects.create_user(f"bench{i}", password="bench-password")
    client = Client(headers={"user-agent": "Mozilla/5.0 (Macintosh) Chrome/120.0 Safari/537.36"})
    assert client.login(username=f"bench{i}", password="bench-password")
    seed_sessions(user, count - 1)
    base_q, base_c, _ = round_trips(client, "/accounts/password_change/")  # session + user
    parses.clear()
    page_q, page_c, response = round_trips(client, "/accounts/devices/")
    html = response.content.decode()
    assert html.count('class="device__name"') == count, count
    api_q, api_c, response = round_trips(client, "/me/sessions")
    assert len(response.json()) == count
    times = []
    for _ in range(15):
        with timer() as t:
            client.get("/accounts/devices/")
        times.append(t["seconds"] * 1000)
    page, api = (page_q - base_q, page_c - base_c), (api_q - base_q, api_c - base_c)
    extras.append((page, api))
    rows.append(
        (
            count,
            f"{page[0]} + {page[1]}",
            f"{api[0]} + {api[1]}",
            f"{median(times):.1f}",
            len(parses),
        )
    )
report("Your devices page and GET /me/sessions (round trips beyond the session and user)", rows)
constant = all(e == extras[0] for e in extras)
worst = max(max(q for q, _ in e) for e in extras), max(max(c for _, c in e) for e in extras)
target(
    "list round trips for 5, 50 and 500 sessions",
    f"at most {worst[0]} queries + {worst[1]} cache calls, {'the same' if constant else 'NOT the same'} for every size",
    "at most 4 queries + 1 cache call, constant",
    constant and worst[0] <= 4 and worst[1] <= 1,
)
