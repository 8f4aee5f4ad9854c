"""Wrong passwords typed inside a session (a thief with a stolen cookie trying "Confirm it's
you" or the password change) are seen by the owner: the account's history records them,
one event per session per window of the limits, so a flood of guesses cannot bury the
other events. Through the real pages and the API."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from sessions_mgmt import throttle
from sessions_mgmt.conf import app_settings
from sessions_mgmt.models import SessionEvent

from .conftest import DEVICES_URL, IPHONE_SAFARI
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

LATER = timedelta(minutes=11)  # past the "Confirm it's you" window of the sign-in


def wrong_password_events(user):
    return list(SessionEvent.objects.filter(user=user, type="wrong_password"))


@pytest.fixture
def thief(user, sign_in):
    sign_in(user)  # the owner's laptop
    return sign_in(user, IPHONE_SAFARI)  # the phone whose cookie was stolen


def test_wrong_confirmations_are_recorded_once_per_window(user, thief):
    start = timezone.now() + LATER
    with time_machine.travel(start, tick=False):
        for n in range(8):  # five checked, three refused
            thief.post(f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": f"g{n}"})
    [event] = wrong_password_events(user)
    assert event.browser == "Safari" and event.os == "iOS"
    # The window ends: its counter expires (on Redis by its own clock, which the test's
    # travelling clock does not move, so it is expired here as the store would).
    session_counter = f"sessions_mgmt:pw:s:{throttle._digest(thief.cookies['sessionid'].value)}"
    caches[app_settings.PASSWORD_LIMITS_CACHE].delete(session_counter)
    with time_machine.travel(start + timedelta(minutes=16), tick=False):  # a new window
        thief.post("/me/reauthenticate", {"password": "again"}, content_type="application/json")
    assert len(wrong_password_events(user)) == 2


def test_a_wrong_old_password_at_the_password_change_is_recorded(user, thief):
    thief.post(
        "/accounts/password_change/",
        {"old_password": "guess", "new_password1": "x-Long-new-1", "new_password2": "x-Long-new-1"},
    )
    assert len(wrong_password_events(user)) == 1


def test_the_owner_reads_it_on_the_activity_page(user, thief, sign_in):
    with time_machine.travel(timezone.now() + LATER, tick=False):
        thief.post(f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": "guess"})
    owner = sign_in(user)
    page = owner.get(f"{DEVICES_URL}activity/").content.decode()
    assert "Wrong password typed on Safari on iPhone" in page


def test_right_passwords_and_sign_in_typos_record_nothing(user, sign_in):
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + LATER, tick=False):
        laptop.post(f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": PASSWORD})
    Client().post("/accounts/login/", {"username": user.username, "password": "typo"})
    assert wrong_password_events(user) == []
