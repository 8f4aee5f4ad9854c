"""The cache that counts wrong passwords down: by default sign-in and every other password
check are refused (failing closed: uncounted guesses would be unlimited), with a clear
answer, never a 500: the page says checking passwords is briefly unavailable, with a 503
and Retry-After; the API answers the same in JSON; a line is logged. A project may choose
to fail open (``SESSIONS_MGMT_PASSWORD_LIMITS_CACHE_DOWN = "allow"``): the check then runs
uncounted, and the log says so. Through the real sign-in page, "Confirm it's you" and the
API, with the counting cache raising as an unreachable Redis does."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from .conftest import DEVICES_URL, LOGIN_URL, is_signed_in
from .factories import PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.urls"),
    # Sessions in the database: only the counting cache is down.
    pytest.mark.parametrize("engine", ["db"], indirect=True),
]


class Down(ConnectionError):
    pass


@pytest.fixture
def counting_cache_down(monkeypatch):
    """Every operation the counters use fails, as with Redis unreachable."""
    cache_class = type(caches["default"])

    def refuse(*args, **kwargs):
        raise Down("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def patch():
        for name in ("add", "incr", "decr", "get", "set", "touch", "delete"):
            monkeypatch.setattr(cache_class, name, refuse)

    return patch


def test_sign_in_is_a_503_that_says_why(engine, user, counting_cache_down, caplog):
    counting_cache_down()
    client = Client()
    with caplog.at_level(logging.ERROR, logger="sessions_mgmt.throttle"):
        response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "briefly unavailable" in response.content.decode()
    assert not is_signed_in(client)
    assert any("cannot count" in record.getMessage() for record in caplog.records)


def test_the_api_answers_json_503(engine, user, sign_in, counting_cache_down):
    laptop = sign_in(user)
    counting_cache_down()
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        response = laptop.post(
            "/me/reauthenticate", {"password": PASSWORD}, content_type="application/json"
        )
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "briefly unavailable" in response.json()["error"]


def test_confirm_its_you_says_why(engine, user, sign_in, counting_cache_down):
    laptop = sign_in(user)
    counting_cache_down()
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        response = laptop.post(
            f"{DEVICES_URL}sign-out-others/", {"sessions_mgmt_password": PASSWORD}
        )
    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()


def test_failing_open_is_a_choice_that_is_logged(
    engine, user, counting_cache_down, settings, caplog
):
    settings.SESSIONS_MGMT_PASSWORD_LIMITS_CACHE_DOWN = "allow"
    counting_cache_down()
    client = Client()
    with caplog.at_level(logging.WARNING, logger="sessions_mgmt.throttle"):
        response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert any("uncounted" in record.getMessage() for record in caplog.records)
