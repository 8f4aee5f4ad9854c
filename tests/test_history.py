"""Issue 13 §1: the security history — what happened to each account's sessions — through
the page, the activity page, the API, the admin and the command."""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession, SessionEvent

from .conftest import (
    DEVICES_URL,
    IPHONE_SAFARI,
    MAC_CHROME,
    WINDOWS_FIREFOX,
    is_signed_in,
    session_key_of,
)
from .factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

NEW_PASSWORD = "a-brand-new-long-password-42"


def kinds(user) -> list[tuple[str, str]]:
    """The user's events, oldest first, as (type, reason)."""
    return list(
        SessionEvent.objects.filter(user=user).order_by("at", "pk").values_list("type", "reason")
    )


def events_api(client: Client, url: str = "/me/sessions/events"):
    response = client.get(url)
    assert response["Content-Type"] == "application/json"
    return response


def test_what_happened_is_recorded_and_shown_in_words(user, sign_in):
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="198.51.100.7")
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="203.0.113.9")
    phone_row = DeviceSession.objects.get(session_key=session_key_of(phone))
    laptop.post(f"{DEVICES_URL}{phone_row.public_id}/sign-out/")
    assert kinds(user) == [
        ("signed_in", ""),
        ("signed_in", ""),
        ("alert_sent", ""),
        ("revoked", "user"),
    ]
    page = laptop.get(DEVICES_URL).content.decode()
    section = page.split('id="recent-activity-heading"')[1]
    assert "Safari on iPhone was signed out from Chrome on macOS" in section
    assert "New-device alert sent for Safari on iPhone" in section
    assert "Chrome on macOS signed in" in section
    assert "just now" in section
    assert "203.0.113.9" in section
    assert 'href="/accounts/devices/activity/"' in section
    # No key anywhere in the history.
    keys = {session_key_of(laptop), session_key_of(phone)}
    for values in SessionEvent.objects.values_list():
        assert not keys & {str(v) for v in values}


@pytest.mark.django_db(transaction=True)  # "This wasn't me" ends the session when it commits
def test_sign_out_password_change_and_not_me_are_recorded(user, sign_in):
    sign_in(user, MAC_CHROME)
    intruder = sign_in(user, WINDOWS_FIREFOX)
    link = re.search(r"http://testserver(/accounts/devices/not-me/[^/\s]+/)", mail.outbox[0].body)
    Client().post(link[1])
    assert not is_signed_in(intruder)
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    laptop.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert not is_signed_in(phone)
    laptop.post("/accounts/logout/")
    recorded = kinds(user)
    assert ("not_me", "") in recorded and ("revoked", "not_me") in recorded
    assert ("password_changed", "") in recorded
    assert ("revoked", "password_change") in recorded
    assert recorded[-1] == ("signed_out", "")
    changed = SessionEvent.objects.get(user=user, type="password_changed")
    assert changed.by_device_name == "Chrome on macOS"


def test_the_api_lists_only_the_callers_events_newest_first_a_page_at_a_time(user, sign_in):
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="198.51.100.7")
    phone = sign_in(user, IPHONE_SAFARI)
    other = sign_in(UserFactory(), WINDOWS_FIREFOX)
    laptop.post("/me/sessions/revoke-all", content_type="application/json")
    body = events_api(laptop).json()
    assert body["next"] is None
    first = body["events"][0]
    assert first["type"] == "revoked" and first["reason"] == "other_devices"
    assert first["deviceName"] == "Safari on iPhone"
    assert first["byDeviceName"] == "Chrome on macOS"
    assert set(first) == {
        "id",
        "type",
        "at",
        "sessionId",
        "deviceName",
        "ip",
        "location",
        "reason",
        "byDeviceName",
    }
    signed_in = body["events"][-1]
    assert signed_in["type"] == "signed_in" and signed_in["ip"] == "198.51.100.7"
    assert signed_in["reason"] is None and signed_in["byDeviceName"] is None
    assert [e["type"] for e in body["events"]] == [
        "revoked",
        "alert_sent",
        "signed_in",
        "signed_in",
    ]
    assert not is_signed_in(phone)
    # The other user sees only their own.
    assert [e["type"] for e in events_api(other).json()["events"]] == ["signed_in"]

    # Pages of 50, following "next".
    SessionEvent.objects.bulk_create(
        SessionEvent(user=user, type="signed_in", at=timezone.now() - timedelta(days=1, minutes=n))
        for n in range(60)
    )
    first_page = events_api(laptop).json()
    assert len(first_page["events"]) == 50 and first_page["next"]
    second_page = events_api(laptop, first_page["next"]).json()
    assert len(second_page["events"]) == 14 and second_page["next"] is None
    ids = [e["id"] for e in first_page["events"] + second_page["events"]]
    assert len(set(ids)) == 64
    stamps = [e["at"] for e in first_page["events"] + second_page["events"]]
    assert stamps == sorted(stamps, reverse=True)


def test_the_api_refuses_bad_cursors_and_strangers(user, sign_in):
    laptop = sign_in(user)
    for cursor in ("nope", "00000000-0000-0000-0000-000000000000"):
        response = events_api(laptop, f"/me/sessions/events?before={cursor}")
        assert response.status_code == 400 and response.json()["error"]
    other_users_event = SessionEvent.objects.create(user=UserFactory(), type="signed_in")
    response = events_api(laptop, f"/me/sessions/events?before={other_users_event.public_id}")
    assert response.status_code == 400
    anonymous = events_api(Client())
    assert anonymous.status_code == 401 and anonymous.json()["error"]


def test_the_activity_page_pages_through_everything(user, sign_in):
    laptop = sign_in(user)
    SessionEvent.objects.bulk_create(
        SessionEvent(
            user=user, type="signed_in", browser="Firefox", os="Linux", device_type="desktop"
        )
        for _ in range(60)
    )
    page = laptop.get("/accounts/devices/activity/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert html.count('class="activity__item"') == 50
    assert "Firefox on Linux signed in" in html and "?page=2" in html
    second = laptop.get("/accounts/devices/activity/?page=2").content.decode()
    assert second.count('class="activity__item"') == 11  # 60 + the laptop's own sign-in
    assert Client().get("/accounts/devices/activity/").status_code == 302


def test_touches_write_no_events(user, sign_in):
    """(That an ordinary request costs no query of the app's own: tests/test_queries.py.)"""
    laptop = sign_in(user)
    before = SessionEvent.objects.count()
    laptop.get("/whoami/")
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        laptop.get("/whoami/")  # a touch: the row is updated, no event
    assert SessionEvent.objects.count() == before


def test_expiry_and_timeouts_are_recorded_with_why(user, sign_in, settings):
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 600
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        laptop.get("/whoami/")
    assert kinds(user)[-1] == ("expired", "idle_timeout")
    page = sign_in(user).get(DEVICES_URL).content.decode()
    assert "was signed out after a time without activity" in page


def test_ip_and_user_agent_are_kept_for_the_retention_period(user, sign_in, settings):
    settings.SESSIONS_MGMT_HISTORY_DAYS = 30
    with time_machine.travel(timezone.now() - timedelta(days=31), tick=False):
        sign_in(user, MAC_CHROME, REMOTE_ADDR="198.51.100.7")
    sign_in(user, MAC_CHROME, REMOTE_ADDR="198.51.100.8")
    out = StringIO()
    call_command("revoke_sessions", "--expired", stdout=out)
    assert "from 1 event older than 30 days" in out.getvalue()
    old, new = SessionEvent.objects.filter(type="signed_in").order_by("at")
    assert (old.ip, old.user_agent) == (None, "")
    assert old.browser == "Chrome", "what happened stays; only the personal data goes"
    assert new.ip == "198.51.100.8" and "Chrome" in new.user_agent


def test_the_admin_lists_events_read_only_and_records_the_staff_member(user, sign_in):
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    admin = sign_in(staff)
    sign_in(user)
    changelist = admin.get("/admin/sessions_mgmt/sessionevent/?type__exact=signed_in")
    assert changelist.status_code == 200
    assert admin.get(f"/admin/sessions_mgmt/sessionevent/?q={user.username}").status_code == 200
    assert admin.get("/admin/sessions_mgmt/sessionevent/add/").status_code == 403
    event = SessionEvent.objects.filter(user=user).first()
    change = admin.post(f"/admin/sessions_mgmt/sessionevent/{event.pk}/change/", {"reason": "x"})
    assert change.status_code == 403
    delete = admin.post(f"/admin/sessions_mgmt/sessionevent/{event.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert SessionEvent.objects.filter(pk=event.pk, reason="").exists()

    # "Sign out of all devices" on the user admin records who did it.
    from django.contrib import admin as django_admin
    from django.test import RequestFactory

    from sessions_mgmt.admin import sign_out_all_devices

    request = RequestFactory().post("/")
    request.user = staff
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    model_admin = django_admin.site._registry[get_user_model()]
    sign_out_all_devices(model_admin, request, get_user_model().objects.filter(pk=user.pk))
    revoked = SessionEvent.objects.get(user=user, type="revoked")
    assert revoked.reason == "admin" and revoked.actor == staff
