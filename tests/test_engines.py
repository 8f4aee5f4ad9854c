"""Issue 10 §8: engines the app does not know, databases other than PostgreSQL and SQLite,
signals and cascades the same on every database, and replicas."""

import pytest
from django.core.checks import Warning as CheckWarning
from django.db.models.signals import post_delete

from sessions_mgmt import services
from sessions_mgmt.checks import check_session_engine
from sessions_mgmt.internal import store
from sessions_mgmt.models import DeviceSession

from . import conftest
from .conftest import IPHONE_SAFARI, session_key_of
from .test_api import LIST, REVOKE_ALL, csrf_client, detail

pytestmark = pytest.mark.django_db


def whoami(client) -> bool:
    return client.get(LIST).status_code == 200


@pytest.mark.parametrize("module", ["other_alias", "prefixed", "tenant", "long_keys"])
def test_custom_cache_engines_really_end_sessions(user, sign_in, settings, module, request):
    """Whatever their keys: 64 characters (long_keys) fit the row, on every database."""
    settings.CACHES = {
        "default": conftest.test_cache(request.node.nodeid + "default"),
        "sessions": conftest.test_cache(request.node.nodeid + "sessions"),
    }
    settings.SESSION_ENGINE = f"tests.custom_engines.{module}"
    phone = sign_in(user, IPHONE_SAFARI)
    tablet = sign_in(user, IPHONE_SAFARI)
    laptop, token = csrf_client(sign_in(user))
    assert len(laptop.get(LIST).json()) == 3
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    response = laptop.delete(detail(row.public_id), headers={"x-csrftoken": token})
    assert response.status_code == 200
    assert not whoami(phone), "reported revoked, but the session still works"
    assert laptop.post(REVOKE_ALL, headers={"x-csrftoken": token}).json()["revoked"] == 1
    assert not whoami(tablet)
    assert [s["isCurrent"] for s in laptop.get(LIST).json()] == [True]


def test_the_fast_path_is_only_for_engines_that_behave_like_djangos():
    from django.contrib.sessions.backends import cache, cached_db, db, file

    from .custom_engines import OtherAliasStore, PrefixedStore, TenantStore

    assert store.keeps_expiry(db.SessionStore) and store.keeps_expiry(cached_db.SessionStore)
    assert store.keeps_expiry(cache.SessionStore) and store.keeps_expiry(PrefixedStore)
    assert not store.keeps_expiry(OtherAliasStore) and not store.keeps_expiry(TenantStore)
    assert not store.keeps_expiry(file.SessionStore)


def test_an_unknown_engine_is_a_warning(settings):
    settings.SESSION_ENGINE = "tests.unknown_engine"
    [warning] = check_session_engine(None)
    assert isinstance(warning, CheckWarning)
    assert warning.id == "sessions_mgmt.W004"


def test_receivers_of_post_delete_run_on_every_database(engine, user, sign_in):
    """PostgreSQL's array delete once skipped post_delete receivers (and cascades), which
    SQLite and MariaDB ran: now the ORM's rules decide on every database."""
    deleted = []

    def record(sender, instance, **kwargs):
        deleted.append(instance.session_key)

    post_delete.connect(record, sender=DeviceSession, dispatch_uid="test-record")
    try:
        phone = sign_in(user, IPHONE_SAFARI)
        laptop = sign_in(user)
        assert services.revoke_others(user, session_key_of(laptop)) == 1
    finally:
        post_delete.disconnect(sender=DeviceSession, dispatch_uid="test-record")
    assert deleted == [session_key_of(phone)]
    assert not whoami(phone)


@pytest.mark.django_db(databases=["default", "replica"])
def test_decisions_read_the_primary_not_a_lagging_replica(user, sign_in, settings):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop, token = csrf_client(sign_in(user))
    settings.DATABASE_ROUTERS = ["tests.routers.LaggingReplicaRouter"]
    assert not DeviceSession.objects.filter(user=user).exists()  # the replica knows nothing
    assert len(laptop.get(LIST).json()) == 2
    assert laptop.post(REVOKE_ALL, headers={"x-csrftoken": token}).json()["revoked"] == 1
    assert not whoami(phone)
    assert whoami(laptop)
