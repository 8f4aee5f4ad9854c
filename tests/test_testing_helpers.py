"""Issue 11 §9: the helpers a project uses to test its own integration."""

import pytest
from django.test import Client

from sessions_mgmt import testing

from .factories import UserFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["sessions_mgmt.pytest_plugin"]


def test_sign_in_as_a_device_list_end_and_assert(engine, user):
    phone = testing.sign_in(Client(), user, user_agent=testing.IPHONE, ip="203.0.113.9")
    laptop = testing.sign_in(Client(), user)
    testing.assert_signed_in(phone, user)
    listed = testing.sessions_of(user)
    assert [s.device_name for s in listed] == ["Chrome on macOS", "Safari on iPhone"]
    assert testing.session_of(phone).ip == "203.0.113.9"
    # The client really is signed in, through the real middleware stack.
    assert phone.get("/me/sessions").status_code == 200
    testing.end_session(testing.session_of(phone))
    testing.assert_signed_out(phone)
    assert phone.get("/me/sessions").status_code == 401
    testing.assert_signed_in(laptop, user)
    with pytest.raises(AssertionError, match="still signed in"):
        testing.assert_signed_out(laptop)
    with pytest.raises(AssertionError, match="not signed in"):
        testing.assert_signed_in(phone)
    with pytest.raises(AssertionError, match="signed in as"):
        testing.assert_signed_in(laptop, UserFactory())


def test_a_projects_own_flow_checked_in_a_few_lines(user):
    """What an adopter writes: their password change must end the other sessions."""
    phone = testing.sign_in(Client(), user, user_agent=testing.IPHONE)
    laptop = testing.sign_in(Client(), user)
    new = "a-completely-new-password-9"
    response = laptop.post(
        "/accounts/password_change/",
        {
            "old_password": "correct-horse-battery-staple",
            "new_password1": new,
            "new_password2": new,
        },
    )
    assert response.status_code == 302
    testing.assert_signed_out(phone)
    testing.assert_signed_in(laptop, user)


def test_the_pytest_fixture(device_client, user):
    client = device_client(user, user_agent=testing.IPHONE)
    testing.assert_signed_in(client, user)
