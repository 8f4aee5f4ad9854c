"""Issue 12: error reports (the debug page, the mail Django sends ADMINS on a 500) carry
neither the password a view was confirmed with nor the session keys the app was ending."""

import logging
import sys
from datetime import timedelta

import pytest
import time_machine
from django.core.signals import got_request_exception
from django.test import Client
from django.utils import timezone
from django.views.debug import ExceptionReporter

from sessions_mgmt.signals import session_revoked

from .conftest import DEVICES_URL, IPHONE_SAFARI, is_signed_in, session_key_of
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

LATER = timedelta(minutes=11)


@pytest.fixture
def reports():
    """The error reports of each 500: the debug page (the HTML report, with every frame's
    local variables, as ``AdminEmailHandler(include_html=True)`` mails it) and the text
    report, both through the project's exception reporter filter."""
    found = []

    def collect(sender, request, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info())
        found.append(reporter.get_traceback_html() + reporter.get_traceback_text())

    got_request_exception.connect(collect)
    yield found
    got_request_exception.disconnect(collect)


def report(found: list[str]) -> str:
    assert found, "the request failed with a report"
    return "\n".join(found)


def failing_client(client: Client) -> Client:
    client.raise_request_exception = False
    return client


def test_a_500_behind_confirm_its_you_does_not_report_the_password(user, sign_in, reports):
    laptop = failing_client(sign_in(user))
    with time_machine.travel(timezone.now() + LATER, tick=False):
        response = laptop.post("/sensitive-fails/", {"sessions_mgmt_password": PASSWORD})
    assert response.status_code == 500
    text = report(reports)
    assert "the sensitive action failed" in text
    assert PASSWORD not in text
    assert "sessions_mgmt_password" in text  # listed, with its value hidden


def test_a_failing_receiver_while_revoking_is_logged_without_session_keys(user, sign_in, caplog):
    """A project's own receiver of ``session_revoked`` fails: the sign-out is done all the
    same (issue 21 §3: no half a revoke), and the logged error names no session key (the
    revoked sessions' keys sit in the revocation code's local variables)."""
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = failing_client(sign_in(user))
    phone_key, laptop_key = session_key_of(phone), session_key_of(laptop)

    def failing_receiver(**kwargs):
        raise RuntimeError("the project's receiver failed")

    session_revoked.connect(failing_receiver)
    try:
        with caplog.at_level(logging.ERROR, logger="sessions_mgmt"):
            response = laptop.post(f"{DEVICES_URL}sign-out-others/")
    finally:
        session_revoked.disconnect(failing_receiver)
    assert response.status_code == 302
    assert not is_signed_in(phone)
    text = "\n".join(caplog.text.splitlines())
    assert "the project's receiver failed" in text
    assert phone_key not in text, "the revoked session's key is in the log"
    assert laptop_key not in text, "the current session's key is in the log"
