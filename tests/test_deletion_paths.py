"""Every way a row or its user goes away ends the real session."""

import pytest

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, is_signed_in, session_key_of, store_has
from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the deletion commits: its sessions end then
def test_deleting_the_user_ends_their_sessions(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    bystander = sign_in(UserFactory(), MAC_CHROME)
    user.delete()
    assert not store_has(session_key_of(phone))
    assert not is_signed_in(phone)
    assert is_signed_in(bystander)
    assert DeviceSession.objects.count() == 1


def test_deleting_users_in_bulk_ends_their_sessions(engine, sign_in):
    users = UserFactory.create_batch(2)
    clients = [sign_in(u, IPHONE_SAFARI) for u in users]
    type(users[0]).objects.filter(pk__in=[u.pk for u in users]).delete()
    assert [is_signed_in(c) for c in clients] == [False, False]


def test_queryset_and_row_deletes_end_the_sessions(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    tablet = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    DeviceSession.objects.filter(session_key=session_key_of(phone)).delete()
    DeviceSession.objects.get(session_key=session_key_of(tablet)).delete()
    assert not is_signed_in(phone) and not is_signed_in(tablet)
    assert not store_has(session_key_of(phone)) and not store_has(session_key_of(tablet))
    assert is_signed_in(laptop)
    assert list(DeviceSession.objects.values_list("session_key", flat=True)) == [
        session_key_of(laptop)
    ]


def test_deactivating_the_user_ends_their_sessions(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    keys = [session_key_of(phone), session_key_of(laptop)]
    user.is_active = False
    user.save()
    # Django's backend would refuse an inactive user anyway; the sessions must be gone too.
    assert not any(store_has(key) for key in keys)
    assert not is_signed_in(phone)
    assert not is_signed_in(laptop)
    assert not DeviceSession.objects.filter(user=user).exists()


@pytest.mark.django_db(transaction=True)  # the deletion commits: its sessions end then
def test_a_proxy_of_the_user_model_ends_sessions_too(user, sign_in):
    """Signals of a proxy carry the proxy as sender; the receivers cover it too."""
    from tests.testapp.models import Member

    from .factories import PASSWORD

    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    keys = [session_key_of(phone), session_key_of(laptop)]
    member = Member.objects.get(pk=user.pk)
    member.set_password("a-new-long-password-for-the-proxy")
    member.save()
    assert not any(store_has(key) for key in keys)  # ended at once, not at the next request
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    assert not DeviceSession.objects.filter(user=user).exists()

    other = Member.objects.create_user("proxied", password=PASSWORD)
    client = sign_in(other)
    Member.objects.filter(pk=other.pk).get().delete()
    assert not store_has(session_key_of(client))
    assert not is_signed_in(client)
