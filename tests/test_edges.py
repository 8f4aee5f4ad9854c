"""Issue 10 §5–6: timeouts mean what they say, and rows never outlive their session after
an error."""

from datetime import timedelta
from importlib import import_module

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import session_key_of, store_has

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def whoami(client: Client) -> str:
    return client.get("/whoami/").content.decode()


def test_a_view_that_reads_only_the_session_does_not_revive_an_idle_session(
    engine, user, sign_in, settings
):
    """An idle-expired stolen cookie sent to a page that uses only request.session (a cart)
    must not count as activity: the session is over, whichever view it reaches first."""
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 120
    laptop = sign_in(user)
    key = session_key_of(laptop)
    start = timezone.now()
    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        assert laptop.get("/session-only/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=125), tick=False):
        assert whoami(laptop) == ""
    assert not DeviceSession.objects.filter(session_key=key).exists()
    if engine != "file":  # the file engine's own expiry follows the real clock
        assert not store_has(key)


def test_the_idle_clock_counts_from_the_last_request_to_the_fraction_of_a_second(
    engine, user, sign_in, settings
):
    """A 2 s idle limit with the default 60 s touch interval: requests 1.5 s apart keep the
    session, however long they go on; 2.5 s of silence ends it."""
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        laptop = sign_in(user)
    for step in range(1, 6):
        with time_machine.travel(start + timedelta(seconds=1.5 * step), tick=False):
            assert whoami(laptop) == user.username, f"ended early, at {1.5 * step} s"
    with time_machine.travel(start + timedelta(seconds=1.5 * 5 + 2.5), tick=False):
        assert whoami(laptop) == ""


def test_an_idle_limit_does_not_fire_just_after_a_whole_second(engine, user, sign_in, settings):
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 2
    start = timezone.now().replace(microsecond=900_000)
    with time_machine.travel(start, tick=False):
        laptop = sign_in(user)
    with time_machine.travel(start + timedelta(seconds=1.95), tick=False):
        assert whoami(laptop) == user.username


@pytest.mark.parametrize("view", ["/cycle-then-fail/", "/rehash-then-fail/"])
def test_a_key_change_that_fails_leaves_no_row_and_no_orphan_session(engine, user, view):
    """A view changes the key, then answers 500: Django saves nothing and sends no cookie,
    and the key change already deleted the browser's key. No device may stay listed (and no
    signed-in session with a key nobody holds may stay in the store)."""
    from .factories import PASSWORD

    laptop = Client(raise_request_exception=False)
    laptop.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    old_key = session_key_of(laptop)
    assert laptop.get(view).status_code == 500
    assert session_key_of(laptop) == old_key  # no new cookie came
    assert whoami(laptop) == ""
    assert not DeviceSession.objects.filter(user=user).exists()
    if engine in ("db", "cached_db"):
        model = import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()
        assert not model.objects.exists()


def test_a_failed_sign_in_leaves_no_row(engine, user, settings):
    """The same for a sign-in whose response fails after login()."""
    from django.contrib.auth.signals import user_logged_in

    from .factories import PASSWORD

    def explode(**kwargs):
        raise RuntimeError("a receiver of the project's fails")

    user_logged_in.connect(explode, dispatch_uid="test-explode")
    try:
        client = Client(raise_request_exception=False)
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
    finally:
        user_logged_in.disconnect(dispatch_uid="test-explode")
    assert response.status_code == 500
    assert not DeviceSession.objects.filter(user=user).exists()
    assert whoami(client) == ""
