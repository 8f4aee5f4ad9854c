"""Issue 12: a thief holding a stolen cookie cannot guess the password on any channel, and
cannot use the limits to lock the owner out of signing the thief out.

Each test attacks through the real views: the sign-in page, the password change, "Confirm
it's you" on the page and in the API. The owner and the thief are two sessions of one
account, from two addresses.
"""

import time
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, LOGIN_URL, MAC_CHROME, is_signed_in
from .conftest import session_key_of as key_of
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

OWNER_IP, THIEF_IP = "198.51.100.7", "203.0.113.66"
LATER = timedelta(minutes=11)  # past the "Confirm it's you" window
NEW_PASSWORD = "a-brand-new-long-password-42"


@pytest.fixture
def owner_and_thief(user, sign_in):
    """The owner's laptop, and a copy of the owner's phone cookie in the thief's hands."""
    owner = sign_in(user, MAC_CHROME, REMOTE_ADDR=OWNER_IP)
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR=OWNER_IP)
    thief = Client(headers={"user-agent": IPHONE_SAFARI}, REMOTE_ADDR=THIEF_IP)
    thief.cookies = phone.cookies
    return owner, thief


def confirm(client: Client, password: str):
    """ "Confirm it's you" on the page, as the start of signing out the other devices."""
    return client.post(f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": password})


def reauthenticate(client: Client, password: str):
    return client.post(
        "/me/reauthenticate", {"password": password}, content_type="application/json"
    )


def sign_in_form(username: str, password: str, ip: str):
    client = Client(REMOTE_ADDR=ip)
    return client, client.post(LOGIN_URL, {"username": username, "password": password})


def test_a_thiefs_wrong_guesses_lock_only_the_thiefs_session(owner_and_thief, user):
    owner, thief = owner_and_thief
    with time_machine.travel(timezone.now() + LATER, tick=False):
        for _ in range(5):
            assert confirm(thief, "guess").status_code == 403
        refused = confirm(thief, PASSWORD)  # even the right password, now
        assert refused.status_code == 429
        assert "Too many wrong passwords" in refused.content.decode()
        assert reauthenticate(thief, PASSWORD).status_code == 429

        # The owner confirms and signs the thief out, at once.
        done = confirm(owner, PASSWORD)
        assert done.status_code == 302
        assert DeviceSession.objects.filter(user=user).count() == 1
        assert not is_signed_in(thief)
        assert is_signed_in(owner)


def test_the_api_confirmation_is_limited_the_same_way(owner_and_thief):
    owner, thief = owner_and_thief
    for _ in range(5):
        assert reauthenticate(thief, "guess").status_code == 400
    response = reauthenticate(thief, PASSWORD)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "Too many wrong passwords" in response.json()["error"]
    assert reauthenticate(owner, PASSWORD).status_code == 200


def test_the_password_change_form_is_limited(owner_and_thief, user):
    """The thief guesses the old password on the password-change form, to take over the
    account and sign the owner out everywhere."""
    owner, thief = owner_and_thief
    url = "/accounts/password_change/"
    for attempt in range(5):
        form = {
            "old_password": f"guess-{attempt}",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        assert thief.post(url, form).status_code == 200  # the form again, with its error
    right = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    refused = thief.post(url, right)
    assert refused.status_code == 200
    assert "Too many wrong passwords" in refused.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD), "the password did not change"
    assert is_signed_in(owner)
    # The owner, from their own session, still can.
    assert owner.post(url, right).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_sign_in_is_limited_per_address_and_account(user):
    for _ in range(10):
        _, response = sign_in_form(user.username, "guess", THIEF_IP)
        assert "Please enter a correct username and password" in response.content.decode()
    client, refused = sign_in_form(user.username, PASSWORD, THIEF_IP)
    assert refused.status_code == 200
    assert "Too many wrong passwords" in refused.content.decode()
    assert not is_signed_in(client)
    # Another address signs in to the same account as usual.
    client, response = sign_in_form(user.username, PASSWORD, OWNER_IP)
    assert response.status_code == 302 and is_signed_in(client)


def test_an_account_ceiling_bounds_guesses_from_many_addresses(owner_and_thief, user):
    """Guesses from many addresses stop at the account's ceiling; the owner's sessions can
    still confirm (the ceiling never refuses checks made from inside a session)."""
    owner, _ = owner_and_thief
    for n in range(50):
        _, response = sign_in_form(user.username.upper(), "guess", f"192.0.2.{n + 1}")
        assert "Please enter a correct username and password" in response.content.decode()
    _, refused = sign_in_form(user.username, PASSWORD, "192.0.2.200")
    assert "Too many wrong passwords" in refused.content.decode()
    with time_machine.travel(timezone.now() + LATER, tick=False):
        assert confirm(owner, PASSWORD).status_code == 302


def test_the_window_passes_and_checks_are_allowed_again(owner_and_thief, settings):
    """In real time (the shared cache's own expiry: Redis does not travel in time)."""
    _, thief = owner_and_thief
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = {"session": 2, "window": 1}
    for _ in range(2):
        assert reauthenticate(thief, "guess").status_code == 400
    assert reauthenticate(thief, PASSWORD).status_code == 429
    time.sleep(1.5)
    assert reauthenticate(thief, PASSWORD).status_code == 200


def test_a_right_password_does_not_count(owner_and_thief):
    owner, _ = owner_and_thief
    for _ in range(10):
        assert reauthenticate(owner, PASSWORD).status_code == 200
    for _ in range(4):
        assert reauthenticate(owner, "typo").status_code == 400
    assert reauthenticate(owner, PASSWORD).status_code == 200


def test_unknown_usernames_are_limited_like_real_ones(user):
    """No way to tell which accounts exist from the limits."""
    for _ in range(20):
        sign_in_form("nobody-at-all", "guess", THIEF_IP)
    _, refused = sign_in_form("nobody-at-all", "guess", THIEF_IP)
    assert "Too many wrong passwords" in refused.content.decode()


def test_the_limits_are_settings(owner_and_thief, settings):
    owner, thief = owner_and_thief
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = {"session": 2}
    for _ in range(2):
        reauthenticate(thief, "guess")
    assert reauthenticate(thief, PASSWORD).status_code == 429
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = None  # off (e.g. django-axes does it)
    assert reauthenticate(thief, PASSWORD).status_code == 200


def test_counters_name_no_key_address_or_username(owner_and_thief, user):
    from django.core.cache import caches

    owner, thief = owner_and_thief
    reauthenticate(thief, "guess")
    sign_in_form(user.username, "guess", THIEF_IP)
    cache = caches["default"]
    if isinstance(cache._cache, dict):  # local memory
        names = list(cache._cache)
    else:  # Redis
        names = [k.decode() for k in cache._cache.get_client().keys("*")]
    names = " ".join(n for n in names if "sessions_mgmt:pw:" in n and not n.endswith(":end"))
    # the session; the address and account; the address; the account
    assert names.count("sessions_mgmt:pw:") == 4
    for secret in (key_of(thief), THIEF_IP, user.username):
        assert secret not in names


def test_the_admins_password_change_is_limited(owner_and_thief, user):
    """Staff cookies are worth stealing too: the admin's own password-change page."""
    user.is_staff = True
    user.save()
    owner, thief = owner_and_thief
    url = "/admin/password_change/"
    page = thief.get(url)
    assert page.status_code == 200 and "Password change" in page.content.decode()
    for attempt in range(5):
        form = {
            "old_password": f"guess-{attempt}",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        assert thief.post(url, form).status_code == 200
    right = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    refused = thief.post(url, right)
    assert "Too many wrong passwords" in refused.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    done = owner.post(url, right)
    assert done.status_code == 302 and done.url == "/admin/password_change/done/"
    assert Client().get(url).status_code == 302  # the admin's sign-in, for anyone else
