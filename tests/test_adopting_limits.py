"""Turning the wrong-password limits on keeps everyone signed in. Sessions signed in before
carry Django's ``ModelBackend`` as their backend; the README then swaps it for the app's
``ThrottledModelBackend`` (a ``ModelBackend``), and Django's ``get_user`` refuses a session
whose backend is no longer listed: deploying the app as the README says would sign out the
whole user base. Such a session goes on under the configured backend that extends its own,
is listed, and can be revoked. Through the real sign-in page, the pages and the API."""

from importlib import import_module

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.test import Client

from .conftest import IPHONE_SAFARI, MAC_CHROME, is_signed_in, session_key_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.urls")]

DJANGO = "django.contrib.auth.backends.ModelBackend"
THROTTLED = "sessions_mgmt.backends.ThrottledModelBackend"


@pytest.fixture
def signed_in_with_djangos_backend(settings, user, sign_in):
    settings.AUTHENTICATION_BACKENDS = [DJANGO]
    browsers = [sign_in(user, MAC_CHROME), sign_in(user, IPHONE_SAFARI)]
    settings.AUTHENTICATION_BACKENDS = [THROTTLED]  # the README's settings, deployed
    return browsers


def whoami(client: Client) -> str:
    return client.get("/whoami/").content.decode()


def test_sessions_signed_in_before_stay_signed_in(signed_in_with_djangos_backend, user):
    laptop, phone = signed_in_with_djangos_backend
    assert whoami(laptop) == user.username
    assert whoami(phone) == user.username
    assert whoami(laptop) == user.username  # and on the requests after


def test_they_are_listed_and_can_be_revoked(signed_in_with_djangos_backend, user):
    laptop, phone = signed_in_with_djangos_backend
    listed = laptop.get("/me/sessions").json()
    assert [s["isCurrent"] for s in listed] == [True, False]
    token = laptop.get("/accounts/devices/").cookies["csrftoken"].value
    revoked = laptop.delete(f"/me/sessions/{listed[1]['id']}", headers={"X-CSRFToken": token})
    assert revoked.status_code == 200
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)


def test_a_session_of_a_backend_the_project_removed_is_still_refused(settings, user, sign_in):
    """Only a configured backend that *extends* the session's own goes on with it: a session
    of a backend the project dropped, which none of its backends extends (here Django's
    ``RemoteUserBackend``, a sibling), is refused, as Django refuses it, and not listed."""
    laptop, phone = sign_in(user, MAC_CHROME), sign_in(user, IPHONE_SAFARI)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(phone))
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.RemoteUserBackend"
    store.save()
    assert whoami(phone) == ""
    assert [s["isCurrent"] for s in laptop.get("/me/sessions").json()] == [True]
