"""Issue 11 §2: the pages work in a project that has no layout of its own."""

import pytest

from .conftest import DEVICES_URL, IPHONE_SAFARI

pytestmark = pytest.mark.django_db


def test_a_project_without_base_html_gets_a_complete_styled_page(user, sign_in, settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": []}  # no base.html, no override: the app's own
    ]
    sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    response = laptop.get(DEVICES_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<!doctype html>")
    assert 'href="/static/sessions_mgmt/sessions_mgmt.css"' in html
    assert "Safari on iPhone" in html and "This device" in html
    response = laptop.post(DEVICES_URL + "sign-out-others/", follow=True)
    assert "Signed out of 1 other device" in response.content.decode()
