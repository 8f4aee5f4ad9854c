"""A session cookie named with the ``__Host-`` prefix (the browser then only accepts it
over HTTPS, for the whole site, from this exact host: no sibling subdomain can set or
overwrite it) works with the app end to end; ``check --deploy`` suggests it, and the demo
uses it once it is served over HTTPS."""

import os
import subprocess
import sys

import pytest
from django.test import Client

from sessions_mgmt.checks import check_deployment

from .conftest import DEVICES_URL, IPHONE_SAFARI, LOGIN_URL, MAC_CHROME
from .factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

NAME = "__Host-sessionid"


@pytest.fixture
def host_cookie(settings):
    settings.SESSION_COOKIE_NAME = NAME
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_PATH = "/"
    settings.SESSION_COOKIE_DOMAIN = None


def sign_in_over_https(user, user_agent: str) -> Client:
    client = Client(headers={"user-agent": user_agent})
    response = client.post(
        LOGIN_URL, {"username": user.username, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    cookie = response.cookies[NAME]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    return client


def test_the_app_works_with_a_host_prefixed_session_cookie(host_cookie, user):
    laptop = sign_in_over_https(user, MAC_CHROME)
    phone = sign_in_over_https(user, IPHONE_SAFARI)
    listed = laptop.get("/me/sessions", secure=True).json()
    assert [s["isCurrent"] for s in listed] == [True, False]
    page = laptop.get(DEVICES_URL, secure=True)
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    token = token or laptop.cookies["csrftoken"].value
    revoked = laptop.delete(
        f"/me/sessions/{listed[1]['id']}", headers={"X-CSRFToken": token}, secure=True
    )
    assert revoked.status_code == 200
    assert phone.get("/me/sessions", secure=True).status_code == 401
    assert laptop.get("/me/sessions", secure=True).status_code == 200


def test_check_deploy_suggests_the_prefix(settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME = "sessionid"
    [info] = [m for m in check_deployment(None) if m.id == "sessions_mgmt.I001"]
    assert NAME in info.hint
    settings.SESSION_COOKIE_NAME = NAME
    assert not [m for m in check_deployment(None) if m.id == "sessions_mgmt.I001"]


def test_the_demo_uses_it_over_https():
    code = "from django.conf import settings; print(settings.SESSION_COOKIE_NAME)"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 50,
    }
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == NAME
