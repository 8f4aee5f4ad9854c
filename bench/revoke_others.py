"""'Sign out of all other devices' for a user with 10, 1,000 and 10,000 sessions: database
queries, cache round trips and time. Round trips must not grow with the number of sessions
beyond one batch of SESSIONS_MGMT_REVOKE_BATCH_SIZE at a time."""

from harness import count_queries, report, setup_django, timer

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from seed import seed_sessions  # noqa: E402

from sessions_mgmt import services  # noqa: E402
from sessions_mgmt.conf import app_settings  # noqa: E402
from sessions_mgmt.models import DeviceSession  # noqa: E402

cache = caches[settings.SESSION_CACHE_ALIAS]
calls = {"delete_many": 0}
real_delete_many = cache.delete_many


def counting_delete_many(keys, *args, **kwargs):
    calls["delete_many"] += 1
    return real_delete_many(keys, *args, **kwargs)


cache.delete_many = counting_delete_many
batch = app_settings.REVOKE_BATCH_SIZE
rows = [("sessions", "DB queries", "cache delete_many", "seconds", "sessions/s")]
for i, count in enumerate((10, 1_000, 10_000)):
    user = get_user_model().objects.create_user(f"bench{i}", password="x")
    keys = seed_sessions(user, count)
    keep = keys[0]
    calls["delete_many"] = 0
    with timer() as t:
        revoked, queries = count_queries(lambda: services.revoke_others(user, keep))
    assert revoked == count - 1, revoked
    assert list(DeviceSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        keep
    ]
    assert services.alive_store_keys(keys[:1000]) == {keep}, "revoked sessions must be gone"
    rows.append(
        (
            f"{count:,}",
            len(queries),
            calls["delete_many"],
            f"{t['seconds']:.3f}",
            f"{(count - 1) / t['seconds']:,.0f}",
        )
    )
report(f"Sign out of all other devices (batches of {batch})", rows)
