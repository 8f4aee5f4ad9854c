"""The seed's exercises on the "Your devices" page, once per session engine, and bad input."""

import re

import pytest
from django.test import Client

from sessions_mgmt.devices import USER_AGENT_MAX_LENGTH
from sessions_mgmt.models import DeviceSession

from .conftest import (
    DEVICES_URL,
    IPHONE_SAFARI,
    LOGIN_URL,
    MAC_CHROME,
    WINDOWS_FIREFOX,
    is_signed_in,
    session_key_of,
)
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def revoke_url(row: DeviceSession) -> str:
    return f"{DEVICES_URL}{row.public_id}/sign-out/"


def row_of(client: Client) -> DeviceSession:
    return DeviceSession.objects.get(session_key=session_key_of(client))


def device_names(html: str) -> list[str]:
    return re.findall(r'class="device__name"[^>]*>([^<]+)<', html)


def test_both_devices_listed_current_first_and_marked(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="198.51.100.7")
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="203.0.113.5")

    html = laptop.get(DEVICES_URL).content.decode()
    assert device_names(html) == ["Chrome on macOS", "Safari on iPhone"]
    assert html.count("This device") == 1
    assert html.index("This device") < html.index("Safari on iPhone")
    assert "203.0.113.5" in html and "198.51.100.7" in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+"', html)
    # Only the other device has a sign-out button, labelled with its name.
    assert html.count('aria-label="Sign out ') == 1
    assert 'aria-label="Sign out Safari on iPhone"' in html
    assert revoke_url(row_of(phone)) in html
    assert revoke_url(row_of(laptop)) not in html

    phone_html = phone.get(DEVICES_URL).content.decode()
    assert device_names(phone_html) == ["Safari on iPhone", "Chrome on macOS"]


def test_signing_out_one_device_makes_it_anonymous(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    phone_key = session_key_of(phone)

    response = laptop.post(revoke_url(row_of(phone)), follow=True)
    assert response.redirect_chain == [(DEVICES_URL, 302)]
    assert "Signed out of Safari on iPhone." in response.content.decode()
    assert device_names(response.content.decode()) == ["Chrome on macOS"]

    assert not DeviceSession.objects.filter(session_key=phone_key).exists()
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)


def test_signing_out_all_other_devices_keeps_this_one(engine, user, sign_in):
    others = [sign_in(user, ua) for ua in (IPHONE_SAFARI, WINDOWS_FIREFOX, MAC_CHROME)]
    laptop = sign_in(user, MAC_CHROME)
    stranger = sign_in(UserFactory(), MAC_CHROME)

    response = laptop.post(f"{DEVICES_URL}sign-out-others/", follow=True)
    html = response.content.decode()
    assert "Signed out of 3 other devices." in html
    assert html.count("This device") == 1
    assert len(device_names(html)) == 1

    assert [is_signed_in(c) for c in others] == [False, False, False]
    assert is_signed_in(laptop)
    assert is_signed_in(stranger), "another user's sessions are never touched"
    assert DeviceSession.objects.filter(user=user).count() == 1


def test_sign_out_others_with_no_other_device_says_so(user, sign_in):
    laptop = sign_in(user)
    response = laptop.post(f"{DEVICES_URL}sign-out-others/", follow=True)
    assert "No other device was signed in." in response.content.decode()
    assert is_signed_in(laptop)


def test_session_keys_never_appear_in_the_page(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    html = laptop.get(DEVICES_URL).content.decode()
    for client in (phone, laptop):
        assert session_key_of(client) not in html


def test_page_is_never_cached(user, sign_in):
    response = sign_in(user).get(DEVICES_URL)
    assert "no-store" in response["Cache-Control"]


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(DEVICES_URL)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


@pytest.mark.parametrize(
    "path", ["00000000-0000-4000-8000-000000000000/sign-out/", "not-a-uuid/sign-out/"]
)
def test_unknown_or_malformed_id_is_404(user, sign_in, path):
    laptop = sign_in(user)
    response = laptop.post(DEVICES_URL + path)
    assert response.status_code == 404
    assert DeviceSession.objects.count() == 1


def test_get_on_revoke_urls_is_405(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    assert laptop.get(revoke_url(row_of(phone))).status_code == 405
    assert laptop.get(f"{DEVICES_URL}sign-out-others/").status_code == 405
    assert is_signed_in(phone)


def test_post_without_csrf_token_is_403(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    laptop.handler.enforce_csrf_checks = True
    assert laptop.post(revoke_url(row_of(phone))).status_code == 403
    assert laptop.post(f"{DEVICES_URL}sign-out-others/").status_code == 403
    assert is_signed_in(phone)


def test_the_csrf_token_from_the_page_is_accepted(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    laptop.handler.enforce_csrf_checks = True
    html = laptop.get(DEVICES_URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = laptop.post(revoke_url(row_of(phone)), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not is_signed_in(phone)


def test_this_device_cannot_be_revoked_through_the_device_form(user, sign_in):
    laptop = sign_in(user)
    response = laptop.post(revoke_url(row_of(laptop)), follow=True)
    html = response.content.decode()
    assert "This is the device you are using. To sign out here, use Sign out." in html
    assert is_signed_in(laptop)
    assert DeviceSession.objects.count() == 1


def test_huge_user_agent_signs_in_and_is_stored_truncated(user, sign_in):
    laptop = sign_in(user, MAC_CHROME + " " + "x" * 8192)
    row = row_of(laptop)
    assert len(row.user_agent) == USER_AGENT_MAX_LENGTH
    assert row.device_name == "Chrome on macOS"
    assert is_signed_in(laptop)


def test_markup_in_user_agent_is_escaped(user, sign_in):
    hostile = (
        "Mozilla/5.0 (Linux; Android 10; <script>alert(1)</script> Build/QP1A) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
    )
    laptop = sign_in(user, hostile)
    assert "<script>" not in laptop.get(DEVICES_URL).content.decode()
    html = laptop.get(f"{DEVICES_URL}{row_of(laptop).public_id}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_missing_remote_addr_leaves_ip_empty(user, sign_in):
    laptop = sign_in(user, REMOTE_ADDR="")
    assert row_of(laptop).ip is None
    assert is_signed_in(laptop)
