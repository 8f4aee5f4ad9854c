"""Confirm it's you: revoking needs a recent authentication (ASVS 4.0.3 3.3.4)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, is_signed_in, session_key_of
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

LATER = timedelta(minutes=11)


def reauthenticate(client, password: str):
    return client.post(
        "/me/reauthenticate", {"password": password}, content_type="application/json"
    )


def hidden_fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@pytest.fixture
def two_devices(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    return laptop, phone, DeviceSession.objects.get(session_key=session_key_of(phone))


def test_a_fresh_sign_in_needs_no_confirmation(two_devices):
    laptop, phone, row = two_devices
    assert laptop.post(f"{DEVICES_URL}{row.public_id}/sign-out/").status_code == 302
    assert not is_signed_in(phone)


def test_after_the_window_revoking_asks_for_the_password_then_carries_on(two_devices):
    laptop, phone, row = two_devices
    url = f"{DEVICES_URL}{row.public_id}/sign-out/"
    with time_machine.travel(timezone.now() + LATER, tick=False):
        page = laptop.post(url)
        html = page.content.decode()
        assert page.status_code == 200 and "Confirm it's you" in html
        assert is_signed_in(phone), "nothing happens before the password is confirmed"

        wrong = laptop.post(url, {**hidden_fields(html), "sessions_mgmt_password": "nope"})
        assert wrong.status_code == 403
        assert "That password is not right." in wrong.content.decode()
        assert is_signed_in(phone)

        done = laptop.post(url, {"sessions_mgmt_password": PASSWORD}, follow=True)
        assert "Signed out of Safari on iPhone." in done.content.decode()
        assert not is_signed_in(phone)
        # Confirmed just now: the next action goes straight through.
        assert laptop.post(f"{DEVICES_URL}sign-out-others/").status_code == 302


def test_sign_out_others_carries_on_after_confirmation(two_devices):
    laptop, phone, _ = two_devices
    with time_machine.travel(timezone.now() + LATER, tick=False):
        laptop.post(f"{DEVICES_URL}sign-out-others/")
        response = laptop.post(
            f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": PASSWORD}, follow=True
        )
    assert "Signed out of 1 other device." in response.content.decode()
    assert not is_signed_in(phone)


def test_five_wrong_passwords_refuse_confirmation_but_not_sign_in(two_devices, user, sign_in):
    laptop, phone, row = two_devices
    url = f"{DEVICES_URL}{row.public_id}/sign-out/"
    with time_machine.travel(timezone.now() + LATER, tick=False):
        for _ in range(5):
            laptop.post(url, {"sessions_mgmt_password": "wrong"})
        refused = laptop.post(url, {"sessions_mgmt_password": PASSWORD})
        assert refused.status_code == 429
        assert "Too many wrong passwords" in refused.content.decode()
        assert is_signed_in(phone)
        assert is_signed_in(sign_in(user))  # signing in is never locked


def test_the_window_can_be_turned_off(two_devices, settings):
    settings.SESSIONS_MGMT_REAUTH_WINDOW = None
    laptop, phone, row = two_devices
    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        assert laptop.post(f"{DEVICES_URL}{row.public_id}/sign-out/").status_code == 302
    assert not is_signed_in(phone)


def test_the_decorator_on_a_projects_own_get_view(user, sign_in):
    laptop = sign_in(user)
    assert laptop.get("/sensitive/").content == b"sensitive"
    with time_machine.travel(timezone.now() + LATER, tick=False):
        page = laptop.get("/sensitive/")
        assert b"Confirm it's you" in page.content
        confirmed = laptop.post(
            "/sensitive/",
            {**hidden_fields(page.content.decode()), "sessions_mgmt_password": PASSWORD},
        )
        assert confirmed.status_code == 302 and confirmed.url == "/sensitive/"
        assert laptop.get("/sensitive/").content == b"sensitive"


def test_api_answers_reauthentication_required_and_confirms(two_devices):
    laptop, phone, row = two_devices
    with time_machine.travel(timezone.now() + LATER, tick=False):
        response = laptop.delete(f"/me/sessions/{row.public_id}")
        assert response.status_code == 403
        assert response.json() == {"error": "reauthentication_required"}

        bad = laptop.post(
            "/me/reauthenticate", {"password": "nope"}, content_type="application/json"
        )
        assert bad.status_code == 400 and bad.json()["error"] == "That password is not right."
        assert (
            laptop.post("/me/reauthenticate", "{", content_type="application/json").status_code
            == 400
        )
        ok = laptop.post(
            "/me/reauthenticate", {"password": PASSWORD}, content_type="application/json"
        )
        assert ok.status_code == 200 and ok.json() == {"message": "Confirmed."}
        assert laptop.delete(f"/me/sessions/{row.public_id}").status_code == 200
    assert not is_signed_in(phone)


def test_api_throttles_after_five_wrong_passwords(two_devices):
    laptop, _, _ = two_devices
    for _ in range(5):
        laptop.post("/me/reauthenticate", {"password": "nope"}, content_type="application/json")
    response = laptop.post(
        "/me/reauthenticate", {"password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 429


def test_no_usable_password_is_never_locked_out_of_revoking(user, sign_in):
    """Someone who signs in through another provider has no password to confirm with: they
    are offered to sign in again, which counts as recent, and can then revoke."""
    from django.test import Client

    from sessions_mgmt import testing

    user.set_unusable_password()
    user.save()
    phone = testing.sign_in(Client(), user, user_agent=IPHONE_SAFARI)
    laptop = testing.sign_in(Client(), user)
    row = testing.session_of(phone)
    url = f"{DEVICES_URL}{row.public_id}/sign-out/"
    with time_machine.travel(timezone.now() + LATER, tick=False):
        page = laptop.post(url)
        html = page.content.decode()
        assert "Sign in again" in html and 'type="password"' not in html
        testing.assert_signed_in(phone)
        again = laptop.post(url, {"sessions_mgmt_sign_in_again": "1"})
        assert again.status_code == 302 and again.url.startswith("/accounts/login/?next=")
        testing.assert_signed_out(laptop)  # this session ended; signing in again starts one
        laptop = testing.sign_in(Client(), user)  # (their provider's sign-in)
        assert laptop.post(url).status_code == 302
        testing.assert_signed_out(phone)
    api = laptop.post("/me/reauthenticate", {"password": "x"}, content_type="application/json")
    assert api.status_code == 409 and "sign in again" in api.json()["error"]


def test_the_decorator_sends_anonymous_visitors_to_sign_in(db):
    """``recent_auth_required`` implies a sign-in: it used to let anonymous requests
    straight into the view."""
    from django.test import Client

    for method in ("get", "post"):
        response = getattr(Client(), method)("/sensitive/")
        assert response.status_code == 302
        assert response.url == "/accounts/login/?next=/sensitive/"
