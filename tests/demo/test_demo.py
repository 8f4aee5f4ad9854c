"""The demo site (config/, accounts/): its layout around the app's pages, its "Remember me"
sign-in form, and its deploy settings. Run with the demo's settings (config.settings)."""

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


def test_the_demo_passes_check_deploy_when_debug_is_off():
    import os
    import subprocess
    import sys
    from pathlib import Path

    def check_deploy(debug: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--tag", "security"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": debug,
                "DJANGO_SECRET_KEY": "x" * 60,
            },
        )
        assert result.returncode == 0, result.stderr  # it ran, and found no error
        output = result.stdout + result.stderr
        assert "System check identified" in output
        return output

    assert "sessions_mgmt.W00" not in check_deploy("false")
    # The same command does report our warnings when there is something to report: the
    # demo sends its cookie over plain HTTP in DEBUG.
    assert "sessions_mgmt.W001" in check_deploy("true")
