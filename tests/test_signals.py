"""session_started, session_revoked (with its reason) and session_client_changed; logs
name the public id, never the session key."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession
from sessions_mgmt.signals import session_client_changed, session_revoked, session_started

from .conftest import DEVICES_URL, IPHONE_SAFARI, MAC_CHROME, is_signed_in, session_key_of
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


@pytest.fixture
def received():
    events = []

    def on(signal_name):
        def receiver(sender, **kwargs):
            events.append((signal_name, kwargs))

        return receiver

    receivers = {
        session_started: on("started"),
        session_revoked: on("revoked"),
        session_client_changed: on("client_changed"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver)
    yield events
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)


def revoked(events) -> list[tuple[str, list[str]]]:
    return [
        (kw["reason"], sorted(str(row.public_id) for row in kw["sessions"]))
        for name, kw in events
        if name == "revoked"
    ]


def test_started_on_sign_in(received, user, sign_in):
    laptop = sign_in(user)
    [(name, kwargs)] = received
    assert name == "started"
    assert kwargs["device_session"].session_key == session_key_of(laptop)
    assert kwargs["request"].user == user


def test_revoked_says_why(received, user, sign_in, settings):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    phone_row = DeviceSession.objects.get(session_key=session_key_of(phone))
    received.clear()

    laptop.post(f"{DEVICES_URL}{phone_row.public_id}/sign-out/")
    assert revoked(received) == [("user", [str(phone_row.public_id)])]
    assert received[0][1]["sessions"][0].session_key == phone_row.session_key

    received.clear()
    others = [sign_in(user, IPHONE_SAFARI) for _ in range(2)]
    received.clear()
    laptop.post(f"{DEVICES_URL}sign-out-others/")
    [(reason, ids)] = revoked(received)
    assert reason == "other_devices" and len(ids) == 2

    received.clear()
    sign_in(user, IPHONE_SAFARI)
    received.clear()
    new = "n3w-Passw0rd!"
    laptop.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert [reason for reason, _ in revoked(received)] == ["password_change"]

    received.clear()
    call_command("revoke_sessions", "--all", "--no-input", stdout=StringIO())
    assert [reason for reason, _ in revoked(received)] == ["command"]
    assert not any(is_signed_in(c) for c in others)


def details(events) -> list[tuple[str, str | None]]:
    return [(kw["reason"], kw["detail"]) for name, kw in events if name == "revoked"]


def test_timeout_and_deactivation_reasons(received, user, sign_in, settings):
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 60 * 10
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        laptop.get("/whoami/")
    assert details(received) == [("expired", "idle_timeout")]

    received.clear()
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = None
    settings.SESSIONS_MGMT_ABSOLUTE_TIMEOUT = 3600
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False):
        laptop.get("/session-only/")  # a view that reads only the session: ended after it
    assert details(received) == [("expired", "absolute_timeout")]
    settings.SESSIONS_MGMT_ABSOLUTE_TIMEOUT = None

    received.clear()
    sign_in(user)
    user.is_active = False
    user.save()
    assert [reason for reason, _ in revoked(received)] == ["deactivated"]


def test_client_changed_when_ip_or_browser_changes(received, user, sign_in):
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="192.0.2.1")
    received.clear()
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        laptop.get("/whoami/")  # same client: nothing
    assert received == []
    with time_machine.travel(later + timedelta(minutes=2), tick=False):
        laptop.get("/whoami/", REMOTE_ADDR="198.51.100.2")
    [(name, kwargs)] = received
    assert name == "client_changed"
    assert (kwargs["old_ip"], kwargs["new_ip"], kwargs["user_agent_changed"]) == (
        "192.0.2.1",
        "198.51.100.2",
        False,
    )
    received.clear()
    with time_machine.travel(later + timedelta(minutes=4), tick=False):
        laptop.get("/whoami/", REMOTE_ADDR="198.51.100.2", headers={"user-agent": IPHONE_SAFARI})
    [(name, kwargs)] = received
    assert kwargs["user_agent_changed"] is True and kwargs["old_ip"] == kwargs["new_ip"]


def test_logs_name_the_public_id_never_the_key(caplog, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    with caplog.at_level(logging.INFO, logger="sessions_mgmt"):
        services.revoke_all(user, reason=services.ADMIN)
    text = caplog.text
    assert str(row.public_id) in text and "reason admin" in text
    assert row.session_key not in text


def test_pruning_announces_expired_sessions_with_why(received, engine):
    """Issue 13 §5: adopters revoke tokens bound to sessions that simply ran out."""
    import factory

    from .factories import DeviceSessionFactory, store_session

    past = timezone.now() - timedelta(minutes=1)
    ran_out = DeviceSessionFactory(
        session_key=factory.LazyAttribute(lambda row: store_session(row.user, expiry=past)),
        expires_at=past,
    )
    evicted = DeviceSessionFactory(session_key="x" * 32)  # not in the store any more
    alive = DeviceSessionFactory()
    received.clear()
    call_command("revoke_sessions", "--expired", stdout=StringIO())
    ended = {
        (kw["reason"], kw["detail"]): [row.public_id for row in kw["sessions"]]
        for name, kw in received
        if name == "revoked"
    }
    assert ended == {
        ("expired", "expiry"): [ran_out.public_id],
        ("expired", "gone"): [evicted.public_id],
    }
    assert DeviceSession.objects.get() == alive
    # And recorded in the owners' history, with why.
    from sessions_mgmt.models import SessionEvent

    recorded = set(SessionEvent.objects.filter(type="expired").values_list("session_id", "reason"))
    assert recorded == {(ran_out.public_id, "expiry"), (evicted.public_id, "gone")}
