"""A backend that signs in an account of another model than AUTH_USER_MODEL: the sign-in
goes on, untracked, with a warning in the log; never a 500 (issue 21 §9)."""

import logging

import pytest
from django.test import Client

from tests.testapp.models import Partner

from .conftest import LOGIN_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "tests.partner_backend.PartnerBackend",
        *settings.AUTHENTICATION_BACKENDS,
    ]
    partner = Partner(username="kiosk-7")
    partner.set_password("a-partner-password")
    partner.save()
    return partner


def test_a_partner_signs_in_untracked_with_a_warning(engine, partner, caplog):
    client = Client()
    with caplog.at_level(logging.WARNING, logger="sessions_mgmt"):
        response = client.post(LOGIN_URL, {"username": "kiosk-7", "password": "a-partner-password"})
    assert response.status_code == 302
    assert any("Partner" in record.getMessage() for record in caplog.records)
    response = client.get("/whoami/")  # the next requests work too
    assert response.status_code == 200
    assert response.content == b"kiosk-7"
