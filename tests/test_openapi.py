"""The published OpenAPI description of the JSON API (docs/openapi.yaml) is a valid OpenAPI
3.1 document, describes every route and method of ``sessions_mgmt.api_urls``, and the
app's real answers — successes and every kind of error — conform to it (openapi-core).
A response that does not match it is caught, so the checks are known to bite."""

import copy
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
import yaml
from django.core.exceptions import RequestDataTooBig
from django.test import Client
from django.urls import URLPattern
from django.utils import timezone
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_spec_validator import validate as validate_document

from sessions_mgmt import api_urls, testing
from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, WINDOWS_FIREFOX, session_key_of
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
PREFIX = "/me/"  # where tests/urls.py mounts the API, as the document assumes
LIST = "/me/sessions"
EVENTS = "/me/sessions/events"
REVOKE_ALL = "/me/sessions/revoke-all"
REAUTH = "/me/reauthenticate"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
LATER = timedelta(minutes=11)  # past SESSIONS_MGMT_REAUTH_WINDOW
SAFE = {"get", "head", "options", "trace"}


def load() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(load())


class Request(DjangoOpenAPIRequest):
    """A Django request as openapi-core reads it, matched by its concrete path (Django's
    route names the id ``public_id``; the document calls it ``id``)."""

    def __init__(self, request, method: str | None = None):
        super().__init__(request)
        if "public_id" in self.parameters.path:
            self.parameters.path["id"] = self.parameters.path.pop("public_id")
        self._method = method

    @property
    def path_pattern(self):
        return None

    @property
    def method(self) -> str:
        return self._method or super().method

    @property
    def body(self) -> bytes:
        try:
            return super().body
        except RequestDataTooBig:  # the 413's request: its body is not what is checked
            return b""


def conforms(openapi: OpenAPI, response, *, as_method: str | None = None) -> None:
    """Raise unless ``response`` (a test client's answer) is one the document describes
    for its request. ``as_method``: validate it as the answer of that documented method of
    the same path (a 405 has no operation of its own: each operation lists it)."""
    openapi.validate_response(
        Request(response.wsgi_request, as_method), DjangoOpenAPIResponse(response)
    )


def request_conforms(openapi: OpenAPI, response) -> None:
    openapi.validate_request(Request(response.wsgi_request))


def csrf(client: Client) -> tuple[Client, str]:
    """Turn CSRF checks on, as for a real browser, and return the token to send."""
    client.handler.enforce_csrf_checks = True
    client.get("/accounts/login/")  # a page with a form sets the cookie
    return client, client.cookies["csrftoken"].value


@pytest.fixture
def devices(user, sign_in):
    """A laptop (CSRF enforced, with its token), a phone and a tablet of one account."""
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="198.51.100.7")
    tablet = sign_in(user, WINDOWS_FIREFOX)
    laptop, token = csrf(sign_in(user, REMOTE_ADDR="203.0.113.5"))
    return laptop, token, phone, tablet


def id_of(client: Client) -> str:
    return str(DeviceSession.objects.get(session_key=session_key_of(client)).public_id)


# The document itself.


def test_the_document_is_valid_openapi_3_1():
    document = load()
    assert document["openapi"] == "3.1.0"
    validate_document(document)


def route_template(pattern: URLPattern) -> str:
    """``sessions/<str:public_id>`` → ``/me/sessions/{}``: the path, parameter names aside."""
    route = str(pattern.pattern)
    parts = [("{}" if part.startswith("<") else part) for part in route.split("/")]
    return PREFIX + "/".join(parts)


def documented_template(path: str) -> str:
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))


def test_every_route_and_method_of_api_urls_is_documented_and_nothing_else():
    document = load()
    documented = {
        documented_template(path): {m for m in item if m not in ("parameters", "summary")}
        for path, item in document["paths"].items()
    }
    routed = {}
    for pattern in api_urls.urlpatterns:
        view = getattr(pattern.callback, "view_class", None)
        if view is None:
            continue  # the catch-all: any other path is a JSON 404 (in the description)
        routed[route_template(pattern)] = {
            method for method in view.http_method_names if method not in ("head", "options")
        }
    assert routed == documented


def test_every_operation_lists_the_errors_every_request_can_get():
    for path, item in load()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            assert {"200", "401", "405", "500", "503"} <= statuses, (method, path)
            if method not in SAFE:
                assert {"403", "413"} <= statuses, (method, path)
                assert {"sessionCookie", "csrfToken"} <= set(operation["security"][0])
            for status, answer in operation["responses"].items():
                if status != "200":
                    ref = answer.get("$ref") or answer["content"]["application/json"]["schema"]
                    assert "Error" in str(ref) or "responses" in str(ref), (method, path, status)


# Real answers: successes.


def test_the_list_conforms(openapi, devices):
    laptop, _, _, _ = devices
    response = laptop.get(LIST)
    assert response.status_code == 200 and len(response.json()) == 3
    request_conforms(openapi, response)
    conforms(openapi, response)


def test_one_session_with_its_events_conforms(openapi, devices):
    laptop, _, phone, _ = devices
    response = laptop.get(f"/me/sessions/{id_of(phone)}")
    assert response.status_code == 200 and response.json()["events"]
    request_conforms(openapi, response)
    conforms(openapi, response)


def test_the_history_and_its_next_page_conform(openapi, devices, user, sign_in):
    laptop, token, phone, _ = devices
    laptop.delete(f"/me/sessions/{id_of(phone)}", headers={"X-CSRFToken": token})
    for _ in range(50):  # more than a page
        sign_in(user)
    first = laptop.get(EVENTS)
    assert first.status_code == 200 and first.json()["next"]
    reasons = {event["reason"] for event in first.json()["events"]} | {
        event["reason"] for event in laptop.get(first.json()["next"]).json()["events"]
    }
    assert "user" in reasons  # a revocation, with its reason
    request_conforms(openapi, first)
    conforms(openapi, first)
    second = laptop.get(first.json()["next"])
    assert second.status_code == 200 and second.json()["next"] is None
    request_conforms(openapi, second)
    conforms(openapi, second)


def test_revoking_one_session_conforms(openapi, devices):
    laptop, token, phone, _ = devices
    response = laptop.delete(f"/me/sessions/{id_of(phone)}", headers={"X-CSRFToken": token})
    assert response.status_code == 200
    request_conforms(openapi, response)
    conforms(openapi, response)


def test_revoking_all_others_conforms(openapi, devices):
    laptop, token, _, _ = devices
    response = laptop.post(REVOKE_ALL, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json()["revoked"] == 2
    request_conforms(openapi, response)
    conforms(openapi, response)


def test_confirming_and_its_refusals_conform(openapi, devices):
    laptop, token, phone, _ = devices
    headers = {"X-CSRFToken": token}
    with time_machine.travel(timezone.now() + LATER, tick=False):
        refused = laptop.delete(f"/me/sessions/{id_of(phone)}", headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"error": "reauthentication_required"}
        conforms(openapi, refused)

        for body, content_type, status in [
            ({"password": "wrong"}, "application/json", 400),
            ("{", "application/json", 400),
            ({}, "application/json", 400),
            ({"password": PASSWORD}, "application/json", 200),
            ("password=" + PASSWORD, "application/x-www-form-urlencoded", 200),
        ]:
            response = laptop.post(REAUTH, body, content_type=content_type, headers=headers)
            assert response.status_code == status, response.content
            conforms(openapi, response)
            if status == 200:
                request_conforms(openapi, response)


def test_too_many_wrong_passwords_is_a_429_that_conforms(openapi, devices):
    laptop, token, _, _ = devices
    for _ in range(5):
        laptop.post(
            REAUTH,
            {"password": "wrong"},
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
    response = laptop.post(
        REAUTH,
        {"password": PASSWORD},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 429
    conforms(openapi, response)


def test_no_password_to_confirm_is_a_409_that_conforms(openapi, user):
    user.set_unusable_password()
    user.save()
    laptop, token = csrf(testing.sign_in(Client(), user))
    response = laptop.post(
        REAUTH, {"password": "x"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 409
    conforms(openapi, response)


# Real answers: errors.


@pytest.mark.parametrize("bad_id", [UNKNOWN_ID, "not-a-uuid"])
def test_unknown_ids_are_404s_that_conform(openapi, devices, bad_id):
    laptop, token, _, _ = devices
    for response in (
        laptop.get(f"/me/sessions/{bad_id}"),
        laptop.delete(f"/me/sessions/{bad_id}", headers={"X-CSRFToken": token}),
    ):
        assert response.status_code == 404
        conforms(openapi, response)


def test_an_ended_session_is_a_404_that_conforms(openapi, devices):
    laptop, token, phone, _ = devices
    phone_id = id_of(phone)
    laptop.delete(f"/me/sessions/{phone_id}", headers={"X-CSRFToken": token})
    response = laptop.get(f"/me/sessions/{phone_id}")
    assert response.status_code == 404
    conforms(openapi, response)


def test_signed_out_is_a_401_that_conforms_everywhere(openapi, devices):
    _, _, phone, _ = devices
    stranger = Client()
    for response in (
        stranger.get(LIST),
        stranger.get(EVENTS),
        stranger.get(f"/me/sessions/{id_of(phone)}"),
        stranger.delete(f"/me/sessions/{id_of(phone)}"),
        stranger.post(REVOKE_ALL),
        stranger.post(REAUTH, {"password": "x"}, content_type="application/json"),
    ):
        assert response.status_code == 401
        conforms(openapi, response)


def test_revoking_the_current_session_is_a_400_that_conforms(openapi, devices):
    laptop, token, _, _ = devices
    response = laptop.delete(f"/me/sessions/{id_of(laptop)}", headers={"X-CSRFToken": token})
    assert response.status_code == 400
    conforms(openapi, response)


def test_a_bad_history_cursor_is_a_400_that_conforms(openapi, devices):
    laptop, _, _, _ = devices
    for cursor in ("nonsense", UNKNOWN_ID):
        response = laptop.get(EVENTS, {"before": cursor})
        assert response.status_code == 400
        conforms(openapi, response)


def test_an_unreadable_body_is_a_400_that_conforms(openapi, devices):
    laptop, token, _, _ = devices
    fields = "&".join(f"f{i}=1" for i in range(1500))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = laptop.post(
        REVOKE_ALL,
        fields,
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    conforms(openapi, response)


def test_missing_csrf_token_is_a_403_that_conforms(openapi, devices):
    laptop, _, phone, _ = devices
    for response in (
        laptop.delete(f"/me/sessions/{id_of(phone)}"),
        laptop.post(REVOKE_ALL),
        laptop.post(REAUTH, {"password": PASSWORD}, content_type="application/json"),
    ):
        assert response.status_code == 403
        conforms(openapi, response)


@pytest.mark.parametrize(
    ("method", "path", "documented"),
    [
        ("post", LIST, "get"),
        ("delete", EVENTS, "get"),
        ("get", REVOKE_ALL, "post"),
        ("put", f"/me/sessions/{UNKNOWN_ID}", "delete"),
        ("get", REAUTH, "post"),
    ],
)
def test_a_wrong_method_is_a_405_that_conforms(openapi, devices, method, path, documented):
    laptop, token, _, _ = devices
    response = getattr(laptop, method)(path, headers={"X-CSRFToken": token})
    assert response.status_code == 405
    conforms(openapi, response, as_method=documented)


def test_a_body_too_large_is_a_413_that_conforms(openapi, devices):
    laptop, token, phone, _ = devices
    body = b"a" * (3 * 1024 * 1024)  # over DATA_UPLOAD_MAX_MEMORY_SIZE
    for method, path in (
        ("POST", REVOKE_ALL),
        ("POST", REAUTH),
        ("DELETE", f"/me/sessions/{id_of(phone)}"),
    ):
        response = laptop.generic(
            method, path, body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 413
        conforms(openapi, response)


def test_an_internal_error_is_a_500_that_conforms(openapi, devices, monkeypatch):
    laptop, _, _, _ = devices

    def fail(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("sessions_mgmt.services.list_devices", fail)
    response = laptop.get(LIST)
    assert response.status_code == 500
    conforms(openapi, response)


@pytest.mark.parametrize("engine", ["cache"], indirect=True)
def test_the_store_down_is_a_503_that_conforms(openapi, broken_cache, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop, token = csrf(sign_in(user))
    for response in (
        laptop.delete(f"/me/sessions/{id_of(phone)}", headers={"X-CSRFToken": token}),
        laptop.post(REVOKE_ALL, headers={"X-CSRFToken": token}),
    ):
        assert response.status_code == 503 and response["Retry-After"]
        conforms(openapi, response)


@pytest.mark.parametrize("path", ["/me/sessions/", "/me/sessions/x/y", "/me/reauthenticate/"])
def test_an_unknown_path_below_the_api_is_the_documented_404(devices, path):
    laptop, _, _, _ = devices
    response = laptop.get(path)
    assert response.status_code == 404
    described = load()["components"]["responses"]["NotFound"]["content"]["application/json"]
    assert response.json() == described["example"]


# The checks bite.


def test_an_answer_the_document_does_not_describe_is_caught(openapi, devices):
    """A real answer against a copy of the document with a wrong schema, and a doctored
    answer against the real document: both are refused."""
    laptop, token, _, _ = devices
    listed = laptop.get(LIST)
    document = load()
    wrong = copy.deepcopy(document)
    wrong["components"]["schemas"]["SessionFields"]["properties"]["isCurrent"] = {"type": "string"}
    with pytest.raises(Exception, match="(?i)invalid|fail"):
        conforms(OpenAPI.from_dict(wrong), listed)

    missing = copy.deepcopy(document)
    missing["components"]["schemas"]["SessionFields"]["required"].append("nickname")
    with pytest.raises(Exception, match="(?i)invalid|fail"):
        conforms(OpenAPI.from_dict(missing), listed)

    undocumented = copy.deepcopy(document)
    del undocumented["paths"]["/me/sessions/{id}"]["delete"]["responses"]["404"]
    gone = laptop.delete(f"/me/sessions/{UNKNOWN_ID}", headers={"X-CSRFToken": token})
    with pytest.raises(Exception, match="(?i)not found|response"):
        conforms(OpenAPI.from_dict(undocumented), gone)

    listed.content = listed.content.replace(b'"isCurrent": true', b'"isCurrent": "yes"')
    with pytest.raises(Exception, match="(?i)invalid|fail"):
        conforms(openapi, listed)
    error = laptop.get(f"/me/sessions/{UNKNOWN_ID}")
    error.content = b'{"detail": "Session not found"}'
    with pytest.raises(Exception, match="(?i)invalid|fail"):
        conforms(openapi, error)
