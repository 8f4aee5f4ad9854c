"""Issue 11 §4: with Django's LoginRequiredMiddleware, the JSON API still answers JSON (401)
and the "This wasn't me" link still works for someone who is not signed in."""

import pytest
from django.core import mail

from .conftest import IPHONE_SAFARI, WINDOWS_FIREFOX
from .test_api import LIST, assert_json_error

pytestmark = pytest.mark.django_db

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


@pytest.fixture
def login_required(settings):
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("sessions_mgmt.middleware.DeviceSessionMiddleware"), LOGIN_REQUIRED
    )
    settings.MIDDLEWARE = middleware


def test_the_api_answers_json_not_a_redirect(login_required, client, user, sign_in):
    assert_json_error(client.get(LIST), 401)
    assert_json_error(client.delete(f"{LIST}/00000000-0000-0000-0000-000000000000"), 401)
    assert sign_in(user).get(LIST).status_code == 200
    # The pages themselves still ask to sign in, as the project wants.
    assert client.get("/accounts/devices/").status_code == 302


def test_the_not_me_link_works_signed_out(login_required, client, user, sign_in):
    sign_in(user, IPHONE_SAFARI)
    mail.outbox.clear()
    sign_in(user, WINDOWS_FIREFOX)  # a new kind of device: the alert is sent
    (message,) = mail.outbox
    link = next(word for word in message.body.split() if "/not-me/" in word)
    path = link.split("://", 1)[-1].split("/", 1)[-1]
    response = client.get("/" + path)
    assert response.status_code == 200
    assert "Firefox on Windows" in response.content.decode()
