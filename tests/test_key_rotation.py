"""Issue 12: signing in again in the same browser gives the session a new key, so a copy
of the old cookie stops working (ASVS 4.0.3 V3.2.1). Django's ``login()`` keeps the key
when the same user signs in again."""

import pytest
from django.test import Client

from sessions_mgmt.models import DeviceSession

from .conftest import LOGIN_URL, MAC_CHROME, is_signed_in, session_key_of, store_has
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def test_signing_in_again_leaves_a_copied_cookie_anonymous(user, sign_in, engine):
    owner = sign_in(user)
    old_key = session_key_of(owner)
    thief = Client(headers={"user-agent": MAC_CHROME})
    thief.cookies = owner.cookies.__class__(owner.cookies)  # a copy, taken before

    again = owner.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert again.status_code == 302
    new_key = session_key_of(owner)

    assert new_key != old_key
    assert not store_has(old_key)
    assert is_signed_in(owner)
    assert not is_signed_in(thief), "the copied cookie must not survive a new sign-in"
    rows = DeviceSession.objects.filter(user=user)
    assert list(rows.values_list("session_key", flat=True)) == [new_key]


def test_a_copied_cookie_does_not_inherit_a_fresh_confirmation(user, sign_in):
    """Signing in again counts as a recent authentication; the copy must not share it."""
    owner = sign_in(user)
    thief = Client(headers={"user-agent": MAC_CHROME})
    thief.cookies = owner.cookies.__class__(owner.cookies)
    owner.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    response = thief.post("/me/sessions/revoke-all", content_type="application/json")
    assert response.status_code == 401


def test_force_login_twice_in_one_client_works_with_a_new_key(user, engine):
    """The test client signs in without a cookie on its fake request: Django keeps the key
    for the same user, and the app renews it there too (found by Django's own
    auth_tests.test_admin_multidb, which saw an UpdateError)."""
    client = Client()
    client.force_login(user)
    first = session_key_of(client)
    client.force_login(user)
    assert session_key_of(client) != first
    assert not store_has(first)
    assert is_signed_in(client)
    assert DeviceSession.objects.filter(user=user).count() == 1
