"""Issue 12: the new-device alert cannot be steered by an intruder: its links point at the
configured site whatever Host the sign-in came with, "This wasn't me" forgets the device
so the intruder's next sign-in alerts again, and the subject is plain text."""

import re

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from sessions_mgmt import alerts
from sessions_mgmt.checks import check_deployment
from sessions_mgmt.models import DeviceSession, KnownDevice

from .conftest import MAC_CHROME, WINDOWS_FIREFOX, is_signed_in
from .factories import DeviceSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def links(message) -> list[str]:
    return re.findall(r"https?://[^\s\"<]+", message.body + message.alternatives[0][0])


def test_links_follow_the_site_url_not_the_host_the_intruder_sent(user, sign_in, settings):
    settings.ALLOWED_HOSTS = ["accounts.example.com", "static.example.com"]
    settings.SESSIONS_MGMT_SITE_URL = "https://accounts.example.com"
    sign_in(user, MAC_CHROME, HTTP_HOST="accounts.example.com")
    sign_in(user, WINDOWS_FIREFOX, HTTP_HOST="static.example.com")  # the intruder's pick
    [message] = mail.outbox
    found = links(message)
    assert found, "the mail has its link"
    assert all(link.startswith("https://accounts.example.com/") for link in found), found
    assert "static.example.com" not in message.body + message.alternatives[0][0]


def test_without_a_site_url_the_link_is_the_requests_own_https_aware(user, sign_in, settings):
    """One allowed host, behind a proxy that says the request came over HTTPS."""
    settings.ALLOWED_HOSTS = ["accounts.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = {"HTTP_HOST": "accounts.example.com", "HTTP_X_FORWARDED_PROTO": "https"}
    sign_in(user, MAC_CHROME, **proxied)
    sign_in(user, WINDOWS_FIREFOX, **proxied)
    [message] = mail.outbox
    assert all(link.startswith("https://accounts.example.com/") for link in links(message))


def test_check_deploy_warns_when_the_host_header_picks_the_link(settings):
    settings.SESSIONS_MGMT_SITE_URL = None
    settings.ALLOWED_HOSTS = ["accounts.example.com", "static.example.com"]
    assert "sessions_mgmt.W006" in [w.id for w in check_deployment(None)]
    settings.ALLOWED_HOSTS = [".example.com"]
    assert "sessions_mgmt.W006" in [w.id for w in check_deployment(None)]
    settings.ALLOWED_HOSTS = ["accounts.example.com"]
    assert "sessions_mgmt.W006" not in [w.id for w in check_deployment(None)]
    settings.ALLOWED_HOSTS = ["*"]
    settings.SESSIONS_MGMT_SITE_URL = "https://accounts.example.com"
    assert "sessions_mgmt.W006" not in [w.id for w in check_deployment(None)]


@pytest.mark.django_db(transaction=True)  # "This wasn't me" ends the session when it commits
def test_this_wasnt_me_forgets_the_device_so_the_next_sign_in_alerts(user, sign_in):
    sign_in(user, MAC_CHROME)
    intruder = sign_in(user, WINDOWS_FIREFOX)
    [alert] = mail.outbox
    link = re.search(r"http://testserver(/accounts/devices/not-me/[^/\s]+/)", alert.body)[1]
    assert Client().post(link).status_code == 200
    assert not is_signed_in(intruder)
    assert not KnownDevice.objects.filter(user=user, browser="Firefox").exists()
    assert KnownDevice.objects.filter(user=user, browser="Chrome").exists()

    mail.outbox.clear()
    sign_in(user, WINDOWS_FIREFOX)  # the intruder again, with the password
    assert len(mail.outbox) == 1, "the intruder's next sign-in alerts again"


def test_the_subject_is_plain_text(user):
    """Names with quotes or ampersands ("O'Brien & Co") must not arrive as HTML entities."""
    row = DeviceSessionFactory(user=user, browser="O'Brien & Co", os="Linux")
    alerts.send_alert(RequestFactory().get("/"), DeviceSession.objects.get(pk=row.pk))
    [message] = mail.outbox
    assert "O'Brien & Co" in message.subject
    assert "&#x27;" not in message.subject and "&amp;" not in message.subject
