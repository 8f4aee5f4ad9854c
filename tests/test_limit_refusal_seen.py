"""A sign-in that ``deny_new`` refuses came with the right password: the owner should know.
It is recorded in the account's history and the owner is told by email ("someone with your
password tried to sign in; your limit refused it"), in the owner's language and with the
device, its address and a nudge to change the password. A wrong password is not such a
sign-in: it records nothing here. Through the real sign-in page."""

import pytest
from django.core import mail
from django.test import Client

from sessions_mgmt.models import SessionEvent

from .conftest import IPHONE_SAFARI, LOGIN_URL, WINDOWS_FIREFOX, is_signed_in
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


@pytest.fixture
def at_the_limit(user, sign_in, settings):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 1
    settings.SESSIONS_MGMT_LIMIT_POLICY = "deny_new"
    sign_in(user)
    mail.outbox.clear()


def refused_events(user):
    return list(SessionEvent.objects.filter(user=user, type="sign_in_refused"))


def test_a_refused_right_password_is_recorded_and_the_owner_told(
    user, at_the_limit, django_capture_on_commit_callbacks
):
    client = Client(headers={"user-agent": IPHONE_SAFARI}, REMOTE_ADDR="203.0.113.77")
    with django_capture_on_commit_callbacks(execute=True):  # the mail follows the commit
        client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert not is_signed_in(client)
    [event] = refused_events(user)
    assert (event.browser, event.os, event.ip) == ("Safari", "iOS", "203.0.113.77")
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "Safari on iPhone" in message.subject
    assert "203.0.113.77" in message.body and "change your password" in message.body


def test_the_owner_reads_it_on_the_activity_page(user, at_the_limit, sign_in, settings):
    Client(headers={"user-agent": WINDOWS_FIREFOX}).post(
        LOGIN_URL, {"username": user.username, "password": PASSWORD}
    )
    settings.SESSIONS_MGMT_MAX_SESSIONS = None
    owner = sign_in(user)
    page = owner.get("/accounts/devices/activity/").content.decode()
    assert "Sign-in refused on Firefox on Windows" in page


def test_a_wrong_password_records_nothing(user, at_the_limit):
    Client().post(LOGIN_URL, {"username": user.username, "password": "wrong"})
    assert refused_events(user) == [] and mail.outbox == []
