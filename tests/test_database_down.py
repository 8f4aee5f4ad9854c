"""The database down during a view that handles it itself: the app keeps the view's own
answer, never a 500 of its own (issue 21 §10)."""

from importlib import import_module

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import OperationalError

from .conftest import IPHONE_SAFARI, is_signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    """Every load of a session from the database fails, as with the server gone."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore

    def down(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(store_class, "load", down)


@pytest.mark.parametrize("timeouts", [False, True], ids=["plain", "idle timeout"])
def test_a_view_that_handles_the_database_down_keeps_its_answer(
    user, sign_in, settings, database_down_later, timeouts
):
    if timeouts:
        settings.SESSIONS_MGMT_IDLE_TIMEOUT = 3600
    laptop = sign_in(user)
    database_down_later()
    response = laptop.get("/degrades-gracefully/")
    assert response.status_code == 503
    assert response.content == b"the database is down; try again"


@pytest.fixture
def database_down_later(request):
    return lambda: request.getfixturevalue("database_down")


@pytest.fixture
def store_refuses_deletes(monkeypatch, settings):
    """The session store refuses to delete (Redis out of memory, the database locked)."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore

    def refuse(self, *args, **kwargs):
        raise OperationalError("the store refuses to delete")

    monkeypatch.setattr(store_class, "delete", refuse)
    monkeypatch.setattr(type(caches["default"]), "delete_many", refuse)


def test_signing_out_with_the_store_failing_leaves_no_unlisted_working_session(
    engine, user, sign_in, request
):
    """Issue 21 §6: Django's logout() cannot end the session; it must stay listed."""
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    request.getfixturevalue("store_refuses_deletes")
    phone.raise_request_exception = False
    phone.post("/accounts/logout/")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.undo()  # the store is back: whatever works is listed
    if is_signed_in(phone):
        assert "Safari on iPhone" in [s["deviceName"] for s in laptop.get("/me/sessions").json()]
