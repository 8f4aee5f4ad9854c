"""The steady request's shortcut (``flows.request._steady``, issue 14 §2) decides from the raw
state string what the full decision (``flows.request.pending``) would: whenever it says "nothing
to do", the full decision finds nothing to do either, in every combination of the things
that make work (a due touch, a changed expiry, a moved key, a session the view changed,
sliding expiry, an idle timeout, a sign-in in this request)."""

import itertools
from datetime import timedelta
from importlib import import_module

import pytest
import time_machine
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from sessions_mgmt.internal.flows import context
from sessions_mgmt.internal.flows import request as request_flow

from .conftest import session_key_of
from .test_expiry import sign_in_form

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

CASES = list(
    itertools.product(
        (10, 70),  # seconds since the last touch (the interval is 60)
        (False, True),  # "remember me" (an explicit expiry) or until the browser closes
        (False, True),  # the view changed the session
        (False, True),  # the expiry kind changed during the request
        (False, True),  # the cookie names another key (the key moved)
        (False, True),  # SESSION_SAVE_EVERY_REQUEST
        (False, True),  # an idle timeout is set
        (False, True),  # the session signed in during this request
    )
)


def request_for(key: str, *, cookie_key: str):
    request = RequestFactory().get("/whoami/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = cookie_key
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    request.session.load()
    request.session.accessed = True
    return request


@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(map(str, map(int, case))))
def test_the_shortcut_never_skips_work_the_full_decision_would_do(user, settings, case):
    elapsed, remember, modified, expiry_changed, moved, every_request, idle, signed_in = case
    laptop = sign_in_form(user, remember=remember)
    key = session_key_of(laptop)
    settings.SESSION_SAVE_EVERY_REQUEST = every_request
    if idle:
        settings.SESSIONS_MGMT_IDLE_TIMEOUT = 3600
    with time_machine.travel(timezone.now() + timedelta(seconds=elapsed), tick=False):
        request = request_for(key, cookie_key="another-key" if moved else key)
        if modified:
            request.session["cart"] = 1
        if expiry_changed:
            request.session[request_flow.codec.EXPIRY_KEY] = 7
            request.session.modified = modified  # the kind changed, as a stale copy would
        if signed_in:
            setattr(request, context.SIGNED_IN_ATTR, True)
        steady = request_flow._steady(request, request.session)
        original = request_flow._steady
        request_flow._steady = lambda request, session: False
        try:
            work = request_flow.pending(request, HttpResponse())
        finally:
            request_flow._steady = original
    if steady:
        assert work is None, "the shortcut skipped work the full decision would do"
    if not any((elapsed > 60, modified, expiry_changed, moved, every_request, idle, signed_in)):
        assert steady, "the ordinary request must take the shortcut"
