"""A sign-in's order, whatever the settings: admit, write, commit, then side effects
(signals, the new-device mail, the known-device marker), then the cookie. A sign-in that
fails leaves no device behind and sends nothing (issue 21 §3, §4)."""

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test import Client

from sessions_mgmt import alerts
from sessions_mgmt.models import DeviceSession, SessionEvent
from sessions_mgmt.signals import session_started

from .conftest import IPHONE_SAFARI, LOGIN_URL, MAC_CHROME, WINDOWS_FIREFOX, is_signed_in
from .factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = [None, ("end_oldest", 3), ("deny_new", 3)]


@pytest.fixture(params=LIMITS, ids=["no limit", "end_oldest", "deny_new"])
def limit(request, settings):
    if request.param is not None:
        settings.SESSIONS_MGMT_LIMIT_POLICY, settings.SESSIONS_MGMT_MAX_SESSIONS = request.param
    return request.param


def post_sign_in(user, user_agent: str = MAC_CHROME) -> tuple[Client, object]:
    client = Client(headers={"user-agent": user_agent}, raise_request_exception=False)
    return client, client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})


def test_side_effects_happen_after_the_commit(limit, user, sign_in, monkeypatch):
    sign_in(user, IPHONE_SAFARI)  # the first device: the next kind is new, and alerts
    seen = []
    real_send = alerts.send_alert

    def send(request, row, **kwargs):
        seen.append(("mail", connection.in_atomic_block))
        real_send(request, row, **kwargs)

    def started(sender, device_session, **kwargs):
        seen.append(("signal", connection.in_atomic_block))

    monkeypatch.setattr(alerts, "send_alert", send)
    session_started.connect(started)
    try:
        _, response = post_sign_in(user, WINDOWS_FIREFOX)
    finally:
        session_started.disconnect(started)
    assert response.status_code == 302
    assert sorted(seen) == [("mail", False), ("signal", False)]


class HistoryFails(Exception):
    pass


def test_a_sign_in_whose_writes_fail_leaves_no_device_and_sends_nothing(
    limit, user, sign_in, mailoutbox
):
    sign_in(user, IPHONE_SAFARI)
    rows, mails = DeviceSession.objects.count(), len(mailoutbox)

    def fail(sender, instance, created, **kwargs):
        if created and instance.type == "signed_in":
            raise HistoryFails

    post_save.connect(fail, sender=SessionEvent)
    try:
        client, response = post_sign_in(user, WINDOWS_FIREFOX)
    finally:
        post_save.disconnect(fail, sender=SessionEvent)
    assert response.status_code == 500
    assert DeviceSession.objects.count() == rows, "a listed device that no browser holds"
    assert len(mailoutbox) == mails
    assert not is_signed_in(client)
    # The phantom would count against the limit: the person's real sign-ins still work.
    for agent in (MAC_CHROME, WINDOWS_FIREFOX):
        _, response = post_sign_in(user, agent)
        assert response.status_code == 302
    assert DeviceSession.objects.filter(user=user).count() == 3


def test_a_receiver_of_user_logged_in_that_raises_leaves_no_device(limit, user, sign_in):
    from django.contrib.auth.signals import user_logged_in

    sign_in(user, IPHONE_SAFARI)
    rows = DeviceSession.objects.count()

    def fail(sender, **kwargs):
        raise HistoryFails

    user_logged_in.connect(fail)
    try:
        client, response = post_sign_in(user, WINDOWS_FIREFOX)
    finally:
        user_logged_in.disconnect(fail)
    assert response.status_code == 500
    assert DeviceSession.objects.count() == rows
    assert not is_signed_in(client)
