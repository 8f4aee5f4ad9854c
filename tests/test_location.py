"""Location, with the geo extra: resolved once, stored, shown; without it, absent."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from sessions_mgmt import location
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def test_the_geo_extra_is_installed_for_the_tests():
    assert location.available(), "install with the geo extra: pip install -e '.[geo]'"


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", "United States"),
        ("2a00:1450:4001:80b::200e", "Germany"),
        ("127.0.0.1", "Local network"),
        ("10.1.2.3", "Local network"),
        ("fe80::1", "Local network"),
        (None, ""),
    ],
)
def test_locate(ip, expected):
    assert location.locate(ip) == expected


def test_stored_at_sign_in_and_shown_from_the_session_when_the_ip_changes(user, sign_in):
    laptop = sign_in(user, REMOTE_ADDR="81.2.69.160")
    row = DeviceSession.objects.get(user=user)
    assert row.location == "United Kingdom"
    assert "United Kingdom" in laptop.get(DEVICES_URL).content.decode()
    assert laptop.get("/me/sessions").json()[0]["location"] == "United Kingdom"
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        laptop.get("/whoami/", REMOTE_ADDR="8.8.8.8")
    # Shown at once from the session's own IP; stored when the pruning job refreshes rows.
    (listed,) = laptop.get("/me/sessions").json()
    assert (listed["ip"], listed["location"]) == ("8.8.8.8", "United States")
    assert "United States" in laptop.get(DEVICES_URL).content.decode()
    call_command("revoke_sessions", "--expired", stdout=StringIO())
    row.refresh_from_db()
    assert (row.ip, row.location) == ("8.8.8.8", "United States")


def test_without_the_extra_nothing_appears(user, sign_in, monkeypatch):
    monkeypatch.setattr(location, "available", lambda: False)
    laptop = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="81.2.69.160")
    assert DeviceSession.objects.get(user=user).location == ""
    assert "United Kingdom" not in laptop.get(DEVICES_URL).content.decode()
    assert "location" not in laptop.get("/me/sessions").json()[0]
