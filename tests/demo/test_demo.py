"""The demo site (config/, accounts/): its layout around the app's pages, its "Remember me"
sign-in form, and its deploy settings. Run with the demo's settings (config.settings)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from ..conftest import DEVICES_URL, LOGIN_URL
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_demo_plugs_in_its_layout_with_the_documented_override(user, sign_in):
    html = sign_in(user).get(DEVICES_URL).content.decode()
    assert "sessions_mgmt demo" in html  # the demo's header, around the app's page
    assert html.count("<html") == 1


def test_the_sign_in_form_offers_remember_me(user):
    page = Client().get(LOGIN_URL).content.decode()
    assert 'name="remember_me"' in page
    remembered = Client()
    remembered.post(
        LOGIN_URL, {"username": user.username, "password": PASSWORD, "remember_me": "on"}
    )
    cookie = remembered.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == 30 * 24 * 3600
    for_now = Client()
    for_now.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert for_now.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""


ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = {  # what the README tells a deployment to set
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k9-" * 20 + "Zq#",
    "DJANGO_ALLOWED_HOSTS": "accounts.example.com",
    "DJANGO_SITE_URL": "https://accounts.example.com",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SESSIONS_MGMT_PROXY_COUNT": "1",  # the one proxy in front: client addresses from it
    "REDIS_URL": "redis://127.0.0.1:6379/14",  # wrong passwords counted in a shared cache
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO", "REDIS", "SESSIONS_MGMT"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        timeout=120,
    )


def test_check_deploy_is_clean_when_the_deployment_settings_are_set():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **DEPLOYMENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_each_missing_deployment_setting_is_reported():
    for name, warning in [
        ("DJANGO_SECURE_HSTS_SECONDS", "security.W004"),
        ("DJANGO_SITE_URL", None),  # one allowed host: the link is pinned anyway
        ("REDIS_URL", "sessions_mgmt.W005"),
        ("SESSIONS_MGMT_PROXY_COUNT", "sessions_mgmt.W008"),
    ]:
        env = {k: v for k, v in DEPLOYMENT.items() if k != name}
        result = manage("check", "--deploy", **env)
        output = result.stdout + result.stderr
        if warning is None:
            assert "no issues" in output, output
        else:
            assert warning in output, (name, output)
    env = {**DEPLOYMENT, "DJANGO_ALLOWED_HOSTS": "accounts.example.com,www.example.com"}
    env.pop("DJANGO_SITE_URL")
    assert "sessions_mgmt.W006" in manage("check", "--deploy", **env).stderr
    # In DEBUG, the same command does report the cookie sent over plain HTTP.
    assert "sessions_mgmt.W001" in manage("check", "--deploy", DJANGO_DEBUG="true").stderr


def test_with_debug_off_the_demo_refuses_to_start_on_a_known_key():
    env = {k: v for k, v in DEPLOYMENT.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


def test_the_password_change_pages_are_never_cached(user, sign_in):
    client = sign_in(user)
    for url in ("/accounts/password_change/", "/accounts/password_change/done/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


def test_the_demo_sign_in_and_password_change_count_wrong_passwords(user, sign_in):
    """A thief with a stolen cookie guesses on the demo's own pages."""
    thief = sign_in(user, REMOTE_ADDR="203.0.113.66")
    new = "a-brand-new-long-password-42"
    for n in range(5):
        thief.post(
            "/accounts/password_change/",
            {"old_password": f"guess{n}", "new_password1": new, "new_password2": new},
        )
    refused = thief.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert "Too many wrong passwords" in refused.content.decode()
    for _ in range(20):
        Client(REMOTE_ADDR="203.0.113.67").post(
            LOGIN_URL, {"username": user.username, "password": "guess"}
        )
    page = Client(REMOTE_ADDR="203.0.113.67").post(
        LOGIN_URL, {"username": user.username, "password": PASSWORD}
    )
    assert "Too many wrong passwords" in page.content.decode()
