"""New-device alert mails are capped per account per hour: thirty sign-ins with thirty
made-up kinds of device must not send thirty mails (a mailbox flooded until the real alert
is lost, or a site's mail reputation spent). The last mail allowed in the hour says that
the rest are held back and where every sign-in is listed; each sign-in is still recorded.
Through the real sign-in page."""

import pytest
from django.core import mail
from django.test import Client

from sessions_mgmt.models import SessionEvent

from .conftest import LOGIN_URL, MAC_CHROME
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


# Eight kinds of device (browser, system, type), none the first one's.
KINDS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def made_up_device(n: int) -> str:
    return KINDS[n]


def test_alerts_stop_at_the_cap_and_the_last_one_says_so(
    user, sign_in, settings, django_capture_on_commit_callbacks
):
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS_PER_HOUR = 3
    sign_in(user, MAC_CHROME)  # the first device: no alert
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(8):
            client = Client(headers={"user-agent": made_up_device(n)})
            client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert len(mail.outbox) == 3
    assert "held back" not in mail.outbox[0].body
    assert "held back" in mail.outbox[2].body
    assert SessionEvent.objects.filter(user=user, type="alert_sent").count() == 3
    assert SessionEvent.objects.filter(user=user, type="signed_in").count() == 9


def test_without_a_cap_every_new_device_is_mailed(
    user, sign_in, settings, django_capture_on_commit_callbacks
):
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS_PER_HOUR = None
    sign_in(user, MAC_CHROME)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            Client(headers={"user-agent": made_up_device(n)}).post(
                LOGIN_URL, {"username": user.username, "password": PASSWORD}
            )
    assert len(mail.outbox) == 5
