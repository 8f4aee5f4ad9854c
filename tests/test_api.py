"""The JSON API: the seed's walkthrough, every status code, and JSON for every error."""

import re
from datetime import datetime

import pytest
from django.test import Client

from sessions_mgmt import location
from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX, session_key_of

pytestmark = pytest.mark.django_db

LIST = "/me/sessions"
REVOKE_ALL = "/me/sessions/revoke-all"


def detail(public_id) -> str:
    return f"/me/sessions/{public_id}"


def csrf_client(client: Client) -> tuple[Client, str]:
    """Turn CSRF checks on, as for a real browser, and return the token to send."""
    client.handler.enforce_csrf_checks = True
    client.get("/accounts/devices/")  # any page that renders a form sets the cookie
    return client, client.cookies["csrftoken"].value


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    return body


def test_list_is_current_first_with_the_documented_fields(engine, user, sign_in):
    sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="198.51.100.7")
    laptop = sign_in(user, MAC_CHROME, REMOTE_ADDR="203.0.113.5")
    response = laptop.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert [s["deviceName"] for s in body] == ["Chrome on macOS", "Safari on iPhone"]
    assert [s["isCurrent"] for s in body] == [True, False]
    fields = {"id", "deviceName", "ip", "lastActiveAt", "createdAt", "expiresAt", "isCurrent"}
    fields.add("deviceBound")
    assert set(body[0]) == fields | ({"location"} if location.available() else set())
    assert body[0]["ip"] == "203.0.113.5"
    for field in ("lastActiveAt", "createdAt", "expiresAt"):
        assert datetime.fromisoformat(body[0][field]).tzinfo is not None
    row = DeviceSession.objects.get(session_key=session_key_of(laptop))
    assert body[0]["id"] == str(row.public_id)
    assert session_key_of(laptop) not in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_seed_walkthrough_revoke_one_then_all_others(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    tablet = sign_in(user, WINDOWS_FIREFOX)
    laptop, token = csrf_client(sign_in(user, MAC_CHROME))

    phone_id = next(
        s["id"] for s in laptop.get(LIST).json() if s["deviceName"] == "Safari on iPhone"
    )
    response = laptop.delete(detail(phone_id), headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.json() == {"message": "Session revoked."}
    assert_json_error(phone.get(LIST), 401)

    response = laptop.post(REVOKE_ALL, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.json()["message"] == "All other sessions have been revoked."
    assert_json_error(tablet.get(LIST), 401)
    remaining = laptop.get(LIST)
    assert remaining.status_code == 200
    assert [s["isCurrent"] for s in remaining.json()] == [True]


def test_revoking_the_current_session_is_400_naming_logout(user, sign_in):
    laptop, token = csrf_client(sign_in(user))
    own_id = laptop.get(LIST).json()[0]["id"]
    body = assert_json_error(laptop.delete(detail(own_id), headers={"X-CSRFToken": token}), 400)
    assert "/accounts/logout/" in body["error"]
    assert laptop.get(LIST).status_code == 200


@pytest.mark.parametrize("bad_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "1"])
def test_unknown_or_malformed_id_is_404(user, sign_in, bad_id):
    laptop, token = csrf_client(sign_in(user))
    body = assert_json_error(laptop.delete(detail(bad_id), headers={"X-CSRFToken": token}), 404)
    assert body == {"error": "Session not found"}


def test_not_signed_in_is_401_json_not_a_redirect(client):
    for response in (client.get(LIST), client.post(REVOKE_ALL), client.delete(detail("x"))):
        assert_json_error(response, 401)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", LIST, "GET"),
        ("delete", LIST, "GET"),
        ("get", REVOKE_ALL, "POST"),
        ("delete", REVOKE_ALL, "POST"),
        ("post", detail("00000000-0000-4000-8000-000000000000"), "DELETE"),
        ("put", detail("00000000-0000-4000-8000-000000000000"), "DELETE"),
    ],
)
def test_wrong_method_is_405_json(user, sign_in, method, path, allowed):
    laptop, token = csrf_client(sign_in(user))
    response = getattr(laptop, method)(path, headers={"X-CSRFToken": token})
    assert_json_error(response, 405)
    assert allowed in response["Allow"]


def test_missing_or_wrong_csrf_token_is_403_json(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop, _ = csrf_client(sign_in(user))
    phone_id = next(s["id"] for s in laptop.get(LIST).json() if not s["isCurrent"])
    assert_json_error(laptop.delete(detail(phone_id)), 403)
    assert_json_error(laptop.post(REVOKE_ALL), 403)
    assert_json_error(laptop.post(REVOKE_ALL, headers={"X-CSRFToken": "x" * 32}), 403)
    assert phone.get(LIST).status_code == 200


def test_unknown_api_path_is_json_404(user, sign_in):
    """Below the API's own routes; what is beside them is the host's (test_api_routes)."""
    laptop = sign_in(user)
    assert_json_error(laptop.get("/me/sessions/"), 404)
    assert_json_error(laptop.get("/me/sessions/x/y"), 404)
    assert_json_error(laptop.get("/me/reauthenticate/x"), 404)


def test_errors_never_render_html(user, sign_in, monkeypatch):
    laptop = sign_in(user)
    monkeypatch.setattr(
        "sessions_mgmt.services.list_devices", lambda *a: (_ for _ in ()).throw(RuntimeError)
    )
    response = laptop.get(LIST)
    body = assert_json_error(response, 500)
    assert not re.search(r"<html", response.content.decode(), re.I)
    assert body == {"error": "Internal error."}


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_store_failure_is_503_json_and_hides_nothing(broken_cache, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop, token = csrf_client(sign_in(user))
    phone_id = next(s["id"] for s in laptop.get(LIST).json() if not s["isCurrent"])
    assert_json_error(laptop.delete(detail(phone_id), headers={"X-CSRFToken": token}), 503)
    assert_json_error(laptop.post(REVOKE_ALL, headers={"X-CSRFToken": token}), 503)
    assert phone_id in [s["id"] for s in laptop.get(LIST).json()]
    assert phone.get(LIST).status_code == 200
