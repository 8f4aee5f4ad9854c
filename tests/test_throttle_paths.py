"""Counting that cannot be sidestepped: the per-account ceiling holds whoever is signed in
in the browser that guesses, and an async sign-in (``aauthenticate()`` / ``alogin()``
under ASGI) is counted exactly like ``authenticate()``. Through the real views: Django's
login view and the admin's, and an async sign-in view served by Django's ASGI handler."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, alogin
from django.http import HttpResponse, JsonResponse
from django.test import AsyncClient, Client
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from .conftest import LOGIN_URL, MAC_CHROME, is_signed_in
from .factories import PASSWORD, UserFactory
from .urls import urlpatterns as test_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

CEILING = 3  # the account's ceiling in these tests; the others are out of the way


@csrf_exempt
async def async_sign_in(request):
    """A project's own async sign-in, as an ASGI project writes it."""
    body = json.loads(request.body)
    user = await aauthenticate(request, username=body["username"], password=body["password"])
    if user is None:
        return JsonResponse({"error": "no"}, status=400)
    await alogin(request, user)
    return HttpResponse("signed in")


urlpatterns = [path("async-sign-in/", async_sign_in), path("", include(test_urlpatterns))]


@pytest.fixture(autouse=True)
def limits(settings):
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = {"account": CEILING, "address": 1000, "session": 1000}


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bobs_browser(sign_in):
    return sign_in(UserFactory(username="bob"), MAC_CHROME, REMOTE_ADDR="203.0.113.9")


def signed_in_as(client: Client) -> str:
    return client.get("/whoami/").content.decode()


@pytest.mark.parametrize("page", [LOGIN_URL, "/admin/login/"])
def test_the_account_ceiling_holds_from_another_accounts_session(alice, bobs_browser, page):
    alice.is_staff = True  # so the admin's sign-in would let her in
    alice.save()
    for n in range(CEILING):
        bobs_browser.post(
            page, {"username": "alice", "password": f"guess-{n}"}, REMOTE_ADDR=f"198.51.100.{n}"
        )
    right = bobs_browser.post(
        page, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="198.51.100.99"
    )
    assert right.status_code == 200  # the form again, not a redirect into alice's account
    if page == LOGIN_URL:  # the admin's own form says only that it was refused
        assert "Too many wrong passwords" in right.content.decode()
    assert signed_in_as(bobs_browser) == "bob"
    # Alice herself, from anywhere, is refused too until the window passes.
    fresh = Client(REMOTE_ADDR="192.0.2.1")
    fresh.post(LOGIN_URL, {"username": "alice", "password": PASSWORD})
    assert not is_signed_in(fresh)


def test_signing_in_again_as_oneself_does_not_count_against_ones_own_ceiling(sign_in):
    """The one exemption: a check made inside one of the account's own sessions."""
    carol = UserFactory(username="carol")
    browser = sign_in(carol, REMOTE_ADDR="192.0.2.7")
    for n in range(CEILING + 2):
        browser.post(LOGIN_URL, {"username": "carol", "password": f"typo-{n}"})
    browser.post(LOGIN_URL, {"username": "carol", "password": PASSWORD})
    assert signed_in_as(browser) == "carol"


def async_post(client: AsyncClient, username: str, password: str):
    """One request through Django's ASGI handler (AsyncClient), from this sync test."""
    return async_to_sync(client.post)(
        "/async-sign-in/",
        {"username": username, "password": password},
        content_type="application/json",
    )


def test_an_async_sign_in_is_counted_like_a_sync_one(alice):
    client = AsyncClient(REMOTE_ADDR="198.51.100.50")
    for n in range(CEILING):
        assert async_post(client, "alice", f"guess-{n}").status_code == 400
    right = async_post(client, "alice", PASSWORD)
    assert right.status_code == 400, "the right password got past the account's ceiling"
    # And the sync sign-in page sees the same count.
    sync_client = Client(REMOTE_ADDR="192.0.2.2")
    sync_client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD})
    assert not is_signed_in(sync_client)


def test_an_async_sign_in_with_the_right_password_signs_in(alice):
    right = async_post(AsyncClient(REMOTE_ADDR="198.51.100.51"), "alice", PASSWORD)
    assert right.status_code == 200 and right.content == b"signed in"
