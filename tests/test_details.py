"""Issue 13 §2: one session's details, on a page and in the API; the same 404 for ids that
are unknown, someone else's or no longer signed in."""

from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client

from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, MAC_CHROME, is_signed_in, session_key_of
from .factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


@pytest.fixture
def moved_phone(user, sign_in, settings):
    """A phone that signed in at one address and was last seen at another."""
    settings.SESSIONS_MGMT_TOUCH_INTERVAL = 0
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="203.0.113.9")
    moved = Client(headers={"user-agent": IPHONE_SAFARI}, REMOTE_ADDR="198.51.100.200")
    moved.cookies = phone.cookies
    moved.get("/whoami/")  # a touch from the new address
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="192.0.2.1")
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    return laptop, moved, row


def test_the_page_shows_everything_about_one_sign_in(moved_phone):
    laptop, phone, row = moved_phone
    listing = laptop.get(DEVICES_URL).content.decode()
    assert f'href="/accounts/devices/{row.public_id}/"' in listing
    page = laptop.get(f"{DEVICES_URL}{row.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert IPHONE_SAFARI in html  # the full User-Agent
    signed_in_from = html.split("Signed in from")[1].split("</dd>")[0]
    last_seen_from = html.split("Last seen from")[1].split("</dd>")[0]
    assert "203.0.113.9" in signed_in_from and "198.51.100.200" in last_seen_from
    # signed in without "Remember me" (the fixture's form): its cookie ends with its browser
    assert "Ends when its browser closes" in html and "Safari on iPhone signed in" in html
    assert f'action="/accounts/devices/{row.public_id}/sign-out/"' in html
    # The page of the device in use has no sign-out button.
    own = DeviceSession.objects.get(session_key=session_key_of(laptop))
    html = laptop.get(f"{DEVICES_URL}{own.public_id}/").content.decode()
    assert "This device" in html and "/sign-out/" not in html


def test_the_api_gives_the_same_object_with_more(moved_phone):
    laptop, phone, row = moved_phone
    listed = next(s for s in laptop.get("/me/sessions").json() if s["id"] == str(row.public_id))
    detail = laptop.get(f"/me/sessions/{row.public_id}").json()
    assert {k: detail[k] for k in listed if k not in ("lastActiveAt",)} == {
        k: v for k, v in listed.items() if k != "lastActiveAt"
    }
    assert detail["userAgent"] == IPHONE_SAFARI
    assert detail["firstIp"] == "203.0.113.9" and detail["ip"] == "198.51.100.200"
    assert [e["type"] for e in detail["events"]] == ["signed_in"]  # its first device: no alert
    assert all(e["sessionId"] == str(row.public_id) for e in detail["events"])


def test_unknown_foreign_and_ended_ids_are_the_same_404(moved_phone, user):
    laptop, phone, row = moved_phone
    other = Client(headers={"user-agent": MAC_CHROME})
    stranger = UserFactory()
    other.post("/accounts/login/", {"username": stranger.username, "password": PASSWORD})
    stranger_row = DeviceSession.objects.get(user=stranger)
    for public_id in ("00000000-0000-4000-8000-000000000000", stranger_row.public_id):
        page = laptop.get(f"{DEVICES_URL}{public_id}/")
        assert page.status_code == 404 and "That device is not signed in" in page.content.decode()
        api = laptop.get(f"/me/sessions/{public_id}")
        assert api.status_code == 404 and api.json() == {"error": "Session not found"}
    assert laptop.get("/me/sessions/not-a-uuid").status_code == 404
    # Ended: signed out from the store (its row left for pruning) is not shown either.
    import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(phone)).delete()
    assert laptop.get(f"{DEVICES_URL}{row.public_id}/").status_code == 404
    assert laptop.get(f"/me/sessions/{row.public_id}").status_code == 404
    assert not is_signed_in(phone)
    assert Client().get(f"{DEVICES_URL}{row.public_id}/").status_code == 302
