"""Issue 13 §3: a limit on concurrent sessions per account (SESSIONS_MGMT_MAX_SESSIONS),
ending the least recently active one or refusing the new sign-in; and it holds when
sign-ins race on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession, SessionEvent

from .conftest import (
    DEVICES_URL,
    IPHONE_SAFARI,
    LOGIN_URL,
    MAC_CHROME,
    WINDOWS_FIREFOX,
    is_signed_in,
    session_key_of,
)
from .factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.urls("tests.urls")]


def try_sign_in(user, user_agent: str = MAC_CHROME) -> tuple[Client, object]:
    client = Client(headers={"user-agent": user_agent})
    return client, client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})


@pytest.mark.django_db(transaction=True)  # ended when the new sign-in commits
def test_end_oldest_ends_the_least_recently_active_other_session(user, sign_in, settings):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 2
    with time_machine.travel(timezone.now() - timedelta(hours=2), tick=False):
        laptop = sign_in(user, MAC_CHROME)
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        phone = sign_in(user, IPHONE_SAFARI)
    laptop.get("/whoami/")  # the laptop was used just now: the phone is the least active
    DeviceSession.objects.filter(session_key=session_key_of(laptop)).update(
        last_active_at=timezone.now()
    )
    tablet = sign_in(user, WINDOWS_FIREFOX)
    assert is_signed_in(laptop) and is_signed_in(tablet)
    assert not is_signed_in(phone)
    assert DeviceSession.objects.filter(user=user).count() == 2
    ended = SessionEvent.objects.get(user=user, type="revoked")
    assert (ended.reason, ended.device_name) == ("limit", "Safari on iPhone")
    page = tablet.get(DEVICES_URL).content.decode()
    assert "Signed in on 2 of at most 2 devices." in page


@pytest.mark.django_db(transaction=True)
def test_deny_new_refuses_the_sign_in_and_says_why(user, sign_in, settings):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 2
    settings.SESSIONS_MGMT_LIMIT_POLICY = "deny_new"
    laptop, phone = sign_in(user, MAC_CHROME), sign_in(user, IPHONE_SAFARI)
    before = set(DeviceSession.objects.values_list("pk", flat=True))
    tablet, response = try_sign_in(user, WINDOWS_FIREFOX)
    page = tablet.get(response.url, follow=True).content.decode()
    assert "already signed in on 2 devices, the most this site allows" in page
    assert "first sign out on one of them" in page
    assert not is_signed_in(tablet)
    assert is_signed_in(laptop) and is_signed_in(phone), "nothing else changes"
    assert set(DeviceSession.objects.values_list("pk", flat=True)) == before
    # Signing in again in a browser that is already signed in replaces its own session.
    again = laptop.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert again.status_code == 302 and is_signed_in(laptop)
    # Once one signs out, there is room.
    phone.post("/accounts/logout/")
    _, response = try_sign_in(user, WINDOWS_FIREFOX)
    assert response.status_code == 302 and response.url == DEVICES_URL


@pytest.mark.django_db(transaction=True)
def test_staff_can_be_exempted(sign_in, settings):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 1
    settings.SESSIONS_MGMT_LIMIT_POLICY = "deny_new"
    settings.SESSIONS_MGMT_LIMIT_EXEMPT_STAFF = True
    staff = UserFactory(is_staff=True)
    sign_in(staff, MAC_CHROME)
    sign_in(staff, IPHONE_SAFARI)
    assert DeviceSession.objects.filter(user=staff).count() == 2
    settings.SESSIONS_MGMT_LIMIT_EXEMPT_STAFF = False
    _, response = try_sign_in(staff, WINDOWS_FIREFOX)
    assert DeviceSession.objects.filter(user=staff).count() == 2


def race(user, count: int) -> list[int]:
    """``count`` sign-ins of ``user`` at once, from threads with their own connections."""
    barrier = threading.Barrier(count, timeout=30)
    statuses: list[int] = []

    def one() -> None:
        try:
            client = Client(headers={"user-agent": MAC_CHROME})
            barrier.wait()
            response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
            signed_in = response.status_code == 302 and client.get("/whoami/").content != b""
            statuses.append(1 if signed_in else 0)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("policy", ["end_oldest", "deny_new"])
def test_the_limit_holds_under_concurrent_sign_ins(settings, policy):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 3
    settings.SESSIONS_MGMT_LIMIT_POLICY = policy
    settings.SESSIONS_MGMT_NEW_DEVICE_ALERTS = False
    user = UserFactory()
    statuses = race(user, 10)
    assert len(statuses) == 10
    rows = DeviceSession.objects.filter(user=user)
    assert rows.count() == 3, "never more than the limit alive"
    ended = SessionEvent.objects.filter(user=user, type="revoked", reason="limit").count()
    if policy == "end_oldest":
        assert sum(statuses) >= 3
        assert ended == 7, "one session ended for each sign-in over the limit, never two"
    else:
        assert sum(statuses) == 3 and ended == 0
