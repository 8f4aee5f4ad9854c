"""Issue 11 §6: under ASGI the middleware runs async — an async view's request stays on the
event loop in the steady state (no thread hop, no query) — and tracking still works."""

from datetime import datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_mgmt.internal import unseen
from sessions_mgmt.middleware import DeviceSessionMiddleware
from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, session_key_of

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def async_client_for(client) -> AsyncClient:
    browser = AsyncClient()
    browser.cookies = client.cookies
    return browser


def get(browser: AsyncClient, path: str) -> str:
    return async_to_sync(browser.get)(path).content.decode()


def test_under_asgi_the_middleware_is_async():
    handler = ASGIHandler()
    chain, found = handler._middleware_chain, []
    for _ in range(100):  # walk the chain: wrapped callables and each layer's get_response
        if chain is None or found:
            break
        if isinstance(chain, DeviceSessionMiddleware):
            found.append(chain)
        chain = getattr(chain, "__wrapped__", None) or getattr(chain, "get_response", None)
    assert found, "the middleware is not in the ASGI chain"
    assert found[0].is_async  # no adapter: it awaits the next layer itself


def test_an_async_view_costs_no_query_and_no_thread_in_the_steady_state(user, sign_in, monkeypatch):
    browser = async_client_for(sign_in(user))
    assert get(browser, "/awhoami/") == user.username
    hops = []
    import sessions_mgmt.middleware as middleware

    real = middleware.sync_to_async
    monkeypatch.setattr(middleware, "sync_to_async", lambda f, **k: hops.append(f) or real(f))
    with CaptureQueriesContext(connection) as baseline:
        assert get(browser, "/awhoami/") == user.username
    assert hops == []
    queries = [q["sql"] for q in baseline.captured_queries]
    assert not any("sessions_mgmt" in sql for sql in queries)


def test_async_requests_touch_and_revocation_ends_them(user, sign_in):
    phone_client = sign_in(user, IPHONE_SAFARI)
    phone = async_client_for(phone_client)
    laptop = sign_in(user)
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        assert get(phone, "/awhoami/") == user.username  # a due touch, from an async view
    row = DeviceSession.objects.get(session_key=session_key_of(phone_client))
    listed = {device["id"]: device for device in laptop.get("/me/sessions").json()}
    assert datetime.fromisoformat(listed[str(row.public_id)]["lastActiveAt"]) == later
    row_id = row.public_id
    assert laptop.post(f"/accounts/devices/{row_id}/sign-out/").status_code == 302
    assert get(phone, "/awhoami/") == ""


def test_the_first_async_request_of_a_process_answers(user, sign_in, settings):
    """Whether sessions from before the app may still exist is worked out once, with a
    query: on the event loop that must not run there (SynchronousOnlyOperation: a 500)."""
    browser = async_client_for(sign_in(user))
    settings.SESSIONS_MGMT_UNSEEN_SESSIONS_FOR = 3600  # a change of settings: worked out again
    unseen._installed.cache_clear()  # as in a new process
    response = async_to_sync(browser.get)("/awhoami/")
    assert response.status_code == 200
    assert response.content.decode() == user.username
