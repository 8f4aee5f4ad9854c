"""The "Your devices" page for a user with 5, 50 and 500 sessions: queries and time. The
number of queries must not grow with the sessions, and nothing is parsed at render time."""

from harness import count_queries, median, report, setup_django, timer

setup_django()

import django_user_agents.utils  # noqa: E402
import user_agents.parsers  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from seed import seed_sessions  # noqa: E402

from sessions_mgmt import devices  # noqa: E402

parses = []
real_parse = user_agents.parsers.parse
counting = lambda ua: parses.append(ua) or real_parse(ua)  # noqa: E731
devices.parse = user_agents.parsers.parse = django_user_agents.utils.parse = counting

rows = [("sessions", "queries", "ms/page (median of 15)", "UA parses while rendering")]
for i, count in enumerate((5, 50, 500)):
    user = get_user_model().objects.create_user(f"bench{i}", password="bench-password")
    client = Client(headers={"user-agent": "Mozilla/5.0 (Macintosh) Chrome/120.0 Safari/537.36"})
    assert client.login(username=f"bench{i}", password="bench-password")
    seed_sessions(user, count - 1)
    parses.clear()
    response, queries = count_queries(lambda: client.get("/accounts/devices/"))
    html = response.content.decode()
    assert response.status_code == 200 and html.count('class="device__name"') == count, count
    times = []
    for _ in range(15):
        with timer() as t:
            client.get("/accounts/devices/")
        times.append(t["seconds"] * 1000)
    rows.append((count, len(queries), f"{median(times):.1f}", len(parses)))
report("Your devices page", rows)
