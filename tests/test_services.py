"""services.py: scoped, bounded and honest when the store fails."""

import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, is_signed_in
from .factories import DeviceSessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_with(key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def revoke_all_counting_queries(count: int) -> int:
    user = UserFactory()
    rows = DeviceSessionFactory.create_batch(count, user=user)
    with CaptureQueriesContext(connection) as ctx:
        assert services.revoke_all(user) == count
    assert not DeviceSession.objects.filter(user=user).exists()
    assert not any(is_signed_in(client_with(row.session_key)) for row in rows[:3])
    return len(ctx.captured_queries)


def test_revoking_many_sessions_takes_a_bounded_number_of_queries(engine, settings):
    settings.SESSIONS_MGMT_REVOKE_BATCH_SIZE = 25
    few = revoke_all_counting_queries(3)
    one_batch = revoke_all_counting_queries(24)
    assert few == one_batch
    # Two batches cost what one costs, twice over (plus the empty look-up that ends the loop
    # only when a batch comes back full).
    two_batches = revoke_all_counting_queries(49)
    assert two_batches <= 2 * one_batch


def test_revoking_ends_the_real_sessions_and_rows(engine):
    mine = DeviceSessionFactory.create_batch(3)
    user = mine[0].user
    for row in mine[1:]:
        row.user = user
        row.save()
    keep = mine[0].session_key
    assert services.revoke_others(user, keep) == 2
    assert list(DeviceSession.objects.values_list("session_key", flat=True)) == [keep]
    assert is_signed_in(client_with(keep))
    assert not is_signed_in(client_with(mine[1].session_key))


def test_revoke_is_scoped_to_the_owner():
    theirs = DeviceSessionFactory()
    me = UserFactory()
    with pytest.raises(DeviceSession.DoesNotExist):
        services.revoke(me, theirs.public_id, current_session_key=None)
    with pytest.raises(DeviceSession.DoesNotExist):
        services.revoke(me, "not-a-uuid", current_session_key=None)
    with pytest.raises(DeviceSession.DoesNotExist):
        services.revoke(me, uuid.uuid4(), current_session_key=None)
    assert is_signed_in(client_with(theirs.session_key))


def test_revoke_refuses_the_callers_own_session():
    row = DeviceSessionFactory()
    with pytest.raises(services.CurrentSessionError):
        services.revoke(row.user, row.public_id, current_session_key=row.session_key)
    assert DeviceSession.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_a_store_failure_hides_nothing(broken_cache, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    phone_row = DeviceSession.objects.get(user=user, device_name="Safari on iPhone")

    with pytest.raises(services.SessionStoreError):
        services.revoke(user, phone_row.public_id, current_session_key=None)
    assert DeviceSession.objects.filter(pk=phone_row.pk).exists()

    response = laptop.post(f"{DEVICES_URL}{phone_row.public_id}/sign-out/", follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "We could not sign that device out just now. Nothing was changed" in html
    assert "Safari on iPhone" in html

    response = laptop.post(f"{DEVICES_URL}sign-out-others/", follow=True)
    assert "We could not sign out your other devices just now." in response.content.decode()
    assert DeviceSession.objects.filter(user=user).count() == 2
    assert is_signed_in(phone)
