"""A model-based test: random sequences of what people do with their devices, on every
session engine, with the invariant checked after every step:

    the rows listed for the user are exactly the sessions whose cookies authenticate as
    that user; each signed-in device sees itself, and only itself, as "This device"; and no
    session key appears in any page.

Examples per engine: SESSIONS_MGMT_MODEL_EXAMPLES (default 30) of up to 30 steps. The
seed is fixed, and failing examples are kept in tests/hypothesis-db so they replay first.
"""

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.test import Client
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from hypothesis import HealthCheck, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX
from .factories import PASSWORD, UserFactory

EXAMPLES = int(os.environ.get("SESSIONS_MGMT_MODEL_EXAMPLES", "30"))
EXAMPLE_DB = Path(__file__).resolve().parent / "hypothesis-db"
USER_AGENTS = [MAC_CHROME, IPHONE_SAFARI, WINDOWS_FIREFOX, "curl/8.4.0", ""]


@dataclass
class Device:
    client: Client
    expected_signed_in: bool = True

    @property
    def key(self) -> str | None:
        morsel = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        return morsel.value if morsel is not None and morsel.value else None


def authenticates_as(key: str | None, user) -> bool:
    """Whether the session under ``key`` signs in as ``user``, read without writing."""
    if not key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(key).load()
    user.refresh_from_db()
    return (
        str(data.get(SESSION_KEY)) == str(user.pk)
        and constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
        and user.is_active
    )


@seed(20261128)
class DevicesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.user = UserFactory()
        self.password = PASSWORD
        self.devices: list[Device] = []
        self.clock = time_machine.travel(timezone.now(), tick=False)
        self.traveller = self.clock.start()

    def teardown(self) -> None:
        self.clock.stop()

    # --- helpers ---

    def all_keys(self) -> set[str]:
        return {d.key for d in self.devices if d.key}

    def assert_no_key_in(self, html: str) -> None:
        for key in self.all_keys():
            assert key not in html, "a session key leaked into a page"

    def signed_in(self) -> list[Device]:
        return [d for d in self.devices if d.expected_signed_in]

    def post_confirming(self, device: Device, url: str):
        """POST as the person would: if asked to confirm it's them, give the password."""
        response = device.client.post(url, follow=True)
        if 'name="sessions_mgmt_password"' in response.content.decode():
            response = device.client.post(
                url, {"sessions_mgmt_password": self.password}, follow=True
            )
        assert response.status_code == 200
        html = response.content.decode()
        assert 'name="sessions_mgmt_password"' not in html
        self.assert_no_key_in(html)
        return response

    def public_id_of(self, device: Device) -> str | None:
        row = DeviceSession.objects.filter(session_key=device.key or "").first()
        return str(row.public_id) if row else None

    # --- rules ---

    @rule(user_agent=st.sampled_from(USER_AGENTS))
    def sign_in_from_a_new_device(self, user_agent):
        client = Client(headers={"user-agent": user_agent})
        response = client.post(
            "/accounts/login/", {"username": self.user.username, "password": self.password}
        )
        assert response.status_code == 302
        self.devices.append(Device(client))

    @precondition(lambda self: self.devices)
    @rule(data=st.data())
    def request_from_a_device(self, data):
        device = data.draw(st.sampled_from(self.devices))
        response = device.client.get(DEVICES_URL)
        if not device.expected_signed_in:
            assert response.status_code == 302
            return
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count("This device") == 1
        own = self.public_id_of(device)
        assert own is not None and f"{DEVICES_URL}{own}/sign-out/" not in html
        others = [self.public_id_of(d) for d in self.signed_in() if d is not device]
        for public_id in others:
            assert f"{DEVICES_URL}{public_id}/sign-out/" in html
        self.assert_no_key_in(html)

    @precondition(lambda self: self.signed_in() and len(self.devices) > 1)
    @rule(data=st.data())
    def revoke_one(self, data):
        actor = data.draw(st.sampled_from(self.signed_in()))
        target = data.draw(st.sampled_from([d for d in self.devices if d is not actor]))
        public_id = self.public_id_of(target)
        if public_id is None:  # already signed out: its row is gone, as is any link to it
            assert not target.expected_signed_in
            return
        self.post_confirming(actor, f"{DEVICES_URL}{public_id}/sign-out/")
        target.expected_signed_in = False

    @precondition(lambda self: self.signed_in())
    @rule(data=st.data())
    def revoke_all_others(self, data):
        actor = data.draw(st.sampled_from(self.signed_in()))
        self.post_confirming(actor, f"{DEVICES_URL}sign-out-others/")
        for device in self.devices:
            device.expected_signed_in = device is actor

    @precondition(lambda self: self.signed_in())
    @rule(data=st.data())
    def sign_out(self, data):
        device = data.draw(st.sampled_from(self.signed_in()))
        assert device.client.post("/accounts/logout/").status_code == 302
        device.expected_signed_in = False

    @precondition(lambda self: self.signed_in())
    @rule(data=st.data())
    def cycle_the_key(self, data):
        device = data.draw(st.sampled_from(self.signed_in()))
        old = device.key
        assert device.client.get("/cycle/").status_code == 200
        assert device.key != old

    @precondition(lambda self: self.signed_in())
    @rule(data=st.data(), new_password=st.sampled_from(["Fresh-Passw0rd-1", "Other-Passw0rd-2"]))
    def change_the_password(self, data, new_password):
        device = data.draw(st.sampled_from(self.signed_in()))
        response = device.client.post(
            "/accounts/password_change/",
            {
                "old_password": self.password,
                "new_password1": new_password,
                "new_password2": new_password,
            },
        )
        assert response.status_code == 302
        self.password = new_password
        for other in self.devices:
            other.expected_signed_in = other is device

    @rule()
    def advance_the_clock_past_the_touch_interval(self):
        self.traveller.shift(timedelta(seconds=61))

    @rule()
    def advance_the_clock_past_the_confirmation_window(self):
        self.traveller.shift(timedelta(minutes=11))

    # --- what must always hold ---

    @invariant()
    def listed_rows_are_exactly_the_authenticating_sessions(self):
        self.user.refresh_from_db()  # as a request loads it: with its current password
        listed = set(row.session_key for row in services.list_devices(self.user, None))
        working = {d.key for d in self.devices if authenticates_as(d.key, self.user)}
        assert listed == working
        assert working == {d.key for d in self.devices if d.expected_signed_in}


@pytest.mark.django_db
@pytest.mark.urls("tests.urls")
def test_devices_model(engine):
    run_state_machine_as_test(
        DevicesMachine,
        settings=hypothesis_settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            deadline=None,
            database=DirectoryBasedExampleDatabase(EXAMPLE_DB),
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_model_would_notice_a_leaked_key():
    machine = DevicesMachine.__new__(DevicesMachine)
    machine.devices = [Device(Client())]
    machine.devices[0].client.cookies[settings.SESSION_COOKIE_NAME] = "k" * 32
    with pytest.raises(AssertionError, match="leaked"):
        machine.assert_no_key_in(f"<p>{'k' * 32}</p>")
    assert re.fullmatch("k+", machine.devices[0].key)


@pytest.mark.parametrize("expiry", [None, 0, 2592000, "2026-12-28T10:00:00.000000+00:00", 1.5])
@pytest.mark.parametrize("ip", [None, "203.0.113.9", "2001:db8::1"])
def test_the_session_state_reads_back_what_was_written(expiry, ip):
    """The state is one short string in the session (issue 14 §2); it must read back."""
    from sessions_mgmt.internal.state import read as read_state
    from sessions_mgmt.internal.state import write as write_state

    session = {}
    state = {
        "id": 42,
        "t": 1764358273,
        "s": 1764350000,
        "a": 1764358273.25,
        "ip": ip,
        "ua": 3221225471,
        "x": 1765567873.123456,
        "e": expiry,
    }
    write_state(session, state)
    assert isinstance(session["_smgmt"], str)
    assert read_state(session) == state
    # A session from before (a dict, under the old key): still read; rewritten, it moves.
    old = {"_sessions_mgmt": {"id": 7, "t": 1}}
    assert read_state(old) == {"id": 7, "t": 1}
    write_state(old, read_state(old))
    assert "_sessions_mgmt" not in old and read_state(old)["id"] == 7
    assert read_state({}) is None
