"""New-device sign-in alerts and their "This wasn't me" link."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX, is_signed_in, session_key_of

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def not_me_link(message) -> str:
    return re.search(r"http://testserver(/accounts/devices/not-me/[^/\s]+/)", message.body).group(1)


def test_first_device_gets_no_alert_a_new_kind_does(user, sign_in):
    sign_in(user, MAC_CHROME)
    assert mail.outbox == []
    sign_in(user, MAC_CHROME)  # the same kind of device again
    assert mail.outbox == []
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="198.51.100.23")
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "New sign-in to your account from Safari on iPhone"
    assert "Safari on iPhone" in message.body and "198.51.100.23" in message.body
    html = message.alternatives[0][0]
    assert "This wasn&#x27;t me" in html or "This wasn't me" in html
    assert session_key_of(phone) not in message.body + html, "no secret in the mail"
    sign_in(user, IPHONE_SAFARI)
    assert len(mail.outbox) == 1, "a kind seen within the window is not new"


def test_a_kind_unused_for_longer_than_the_window_is_new_again(user, sign_in, settings):
    # The clock moves 91 days: a cache that follows it (Redis keeps real time, and would
    # still remember the day-long "seen recently" marker).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    sign_in(user, MAC_CHROME)
    sign_in(user, IPHONE_SAFARI)
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + timedelta(days=91), tick=False):
        sign_in(user, IPHONE_SAFARI)
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)  # "This wasn't me" ends the session when it commits
def test_this_wasnt_me_signs_out_exactly_that_session_once(user, sign_in):
    laptop = sign_in(user, MAC_CHROME)
    intruder = sign_in(user, WINDOWS_FIREFOX)
    link = not_me_link(mail.outbox[0])
    stranger = Client()  # the person reading the mail, wherever they are

    page = stranger.get(link)
    assert page.status_code == 200 and "Firefox on Windows" in page.content.decode()
    assert is_signed_in(intruder), "opening the link changes nothing"

    done = stranger.post(link)
    assert done.status_code == 200
    assert "Firefox on Windows is signed out" in done.content.decode()
    assert 'href="/accounts/password_change/"' in done.content.decode()
    assert not is_signed_in(intruder)
    assert is_signed_in(laptop)

    again = stranger.post(link)
    assert again.status_code == 410
    assert "no longer valid" in again.content.decode()


def test_a_tampered_or_expired_link_does_nothing(user, sign_in):
    sign_in(user, MAC_CHROME)
    intruder = sign_in(user, WINDOWS_FIREFOX)
    link = not_me_link(mail.outbox[0])
    assert Client().post(link[:-3] + "xx/").status_code == 410
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        assert Client().post(link).status_code == 410
    assert is_signed_in(intruder)


def test_alerts_can_be_turned_off(user, sign_in, settings):
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS = False
    sign_in(user, MAC_CHROME)
    sign_in(user, IPHONE_SAFARI)
    assert mail.outbox == []


def test_a_broken_mail_server_does_not_stop_the_sign_in(user, sign_in, settings):
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    if hasattr(settings, "MAILERS"):  # Django 6.1
        settings.MAILERS = {"default": {"BACKEND": smtp, "OPTIONS": {"port": 1}}}
    else:
        settings.EMAIL_BACKEND, settings.EMAIL_PORT = smtp, 1  # nothing listens on port 1
    sign_in(user, MAC_CHROME)
    phone = sign_in(user, IPHONE_SAFARI)
    assert is_signed_in(phone)
    assert DeviceSession.objects.filter(user=user).count() == 2
