"""Issue 12: every hostile body sent to the API gets a JSON 4xx, never a 500 and never an
HTML page: 413 for too large, 400 for malformed, too deep or too many fields. And nothing
is changed by it."""

import pytest
from django.test import Client

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, is_signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

TOO_LARGE = 3 * 1024 * 1024  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

BODIES = {
    "a 3 MB JSON body": (b'{"password": "' + b"a" * TOO_LARGE + b'"}', JSON, 413),
    "a 3 MB form": (b"password=" + b"a" * TOO_LARGE, FORM, 413),
    "a 100,000-deep JSON array": (b"[" * 100_000 + b"]" * 100_000, JSON, 400),
    "a 100,000-deep JSON object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, JSON, 400),
    "1,500 form fields": ("&".join(f"f{i}=1" for i in range(1500)).encode(), FORM, 400),
    "malformed JSON": (b'{"password": ', JSON, 400),
    "JSON that is not an object": (b'["password"]', JSON, 400),
    "invalid UTF-8": (b'{"password": "\xff\xfe"}', JSON, 400),
}
ENDPOINTS = [
    ("POST", "/me/reauthenticate"),
    ("POST", "/me/sessions/revoke-all"),
    ("DELETE", "/me/sessions/00000000-0000-0000-0000-000000000000"),
]


@pytest.fixture
def signed_in(user, sign_in):
    """A signed-in client that sends the CSRF token, as an SPA does, and another device."""
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    client = Client(enforce_csrf_checks=True, headers={"user-agent": MAC_CHROME})
    client.cookies = laptop.cookies
    client.get("/accounts/login/")  # the csrftoken cookie
    return client, phone


def send(client: Client, method: str, path: str, body: str):
    content, content_type, _ = BODIES[body]
    token = client.cookies["csrftoken"].value
    return client.generic(
        method, path, content, content_type=content_type, headers={"x-csrftoken": token}
    )


def assert_refused_in_json(response, status: int, phone, user) -> None:
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    assert is_signed_in(phone)
    assert DeviceSession.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("body", list(BODIES))
def test_the_endpoint_that_reads_a_body_refuses_every_hostile_one(signed_in, user, body):
    client, phone = signed_in
    response = send(client, "POST", "/me/reauthenticate", body)
    assert_refused_in_json(response, BODIES[body][2], phone, user)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
@pytest.mark.parametrize("body", ["a 3 MB JSON body", "a 3 MB form"])
def test_every_endpoint_refuses_a_body_that_is_too_large(signed_in, user, body, endpoint):
    client, phone = signed_in
    assert_refused_in_json(send(client, *endpoint, body), 413, phone, user)


@pytest.mark.parametrize("path", ["/me/reauthenticate", "/me/sessions/revoke-all"])
def test_posts_with_too_many_form_fields_are_refused(signed_in, user, path):
    client, phone = signed_in
    assert_refused_in_json(send(client, "POST", path, "1,500 form fields"), 400, phone, user)
