"""What is not listed cannot be acted on: another user's session, and one that has ended,
are the same 404 on the page and in the API, and nothing is recorded (issue 21 §7)."""

from importlib import import_module

import pytest
from django.conf import settings

from sessions_mgmt.models import DeviceSession, SessionEvent

from .conftest import IPHONE_SAFARI, is_signed_in, session_key_of
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def end_behind_the_apps_back(client) -> DeviceSession:
    """The session ends in the store (evicted, expired, the store cleared); its row is left
    for pruning."""
    key = session_key_of(client)
    import_module(settings.SESSION_ENGINE).SessionStore(key).delete(key)
    return DeviceSession.objects.get(session_key=key)


def test_deleting_an_ended_session_is_404_and_records_nothing(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    row = end_behind_the_apps_back(phone)
    assert laptop.get(f"/me/sessions/{row.public_id}").status_code == 404
    events = SessionEvent.objects.count()
    response = laptop.delete(f"/me/sessions/{row.public_id}")
    assert response.status_code == 404
    assert response.json()["error"]
    assert SessionEvent.objects.count() == events


def test_the_page_refuses_an_ended_session_too(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    row = end_behind_the_apps_back(phone)
    events = SessionEvent.objects.count()
    response = laptop.post(f"/accounts/devices/{row.public_id}/sign-out/")
    assert response.status_code == 404
    assert SessionEvent.objects.count() == events


@pytest.mark.parametrize("where", ["page", "api"])
def test_another_users_id_is_404_and_their_session_survives(user, sign_in, where):
    victim = sign_in(UserFactory(), IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=session_key_of(victim))
    laptop = sign_in(user)
    if where == "api":
        response = laptop.delete(f"/me/sessions/{row.public_id}")
        assert response.json() == {"error": "Session not found"}
    else:
        response = laptop.post(f"/accounts/devices/{row.public_id}/sign-out/")
        assert "That device is not signed in" in response.content.decode()
    assert response.status_code == 404
    assert is_signed_in(victim)
