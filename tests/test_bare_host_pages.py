"""Issue 22 §3: the app's own layout, in a real browser, on a bare host.

The host is a fresh ``django-admin startproject`` with the wheel installed in a virtualenv
of its own (``test_hosts``), and no ``base.html`` or stylesheet of its own: every page the
app renders is shown in the app's layout and styled by the app's CSS alone. Chromium
(Playwright) opens each page in light and dark, at 1280 and 360 px wide, and axe-core
checks WCAG 2.1 A/AA (colour contrast included); nothing may scroll sideways at 360 px.

Needs HOSTS=1 (the host) and E2E=1 (the browser): HOSTS=1 E2E=1 pytest -m "browser and hosts".
"""

import json
import re
import time
import uuid
from pathlib import Path

import pytest

from .browser import WCAG21AA, axe_violations, launch, overflows_sideways
from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX
from .test_hosts import (  # noqa: F401  (host_venv: the fixture, built once per run)
    OWN_SIGN_IN_SETTINGS,
    OWN_SIGN_IN_URLS,
    PASSWORD,
    Server,
    host_venv,
    make_host,
    manage,
)

pytestmark = [pytest.mark.hosts, pytest.mark.browser]

DEVICES = "/accounts/devices/"
SCHEMES = ("light", "dark")
WIDTHS = (1280, 360)
# Static files as in development (startproject's DEBUG = True), under gunicorn.
BARE_URLS = (
    OWN_SIGN_IN_URLS
    + """
from django.contrib.staticfiles.urls import staticfiles_urlpatterns  # noqa: E402

urlpatterns += staticfiles_urlpatterns()
"""
)
# "Confirm it's you" on signing out: a sign-in a second old is not recent enough.
BARE_SETTINGS = OWN_SIGN_IN_SETTINGS + "SESSIONS_MGMT_REAUTH_WINDOW = 1\n"


@pytest.fixture(scope="module")
def bare_host(host_venv, tmp_path_factory):  # noqa: F811
    project = make_host(
        host_venv,
        tmp_path_factory.mktemp("bare") / "site",
        settings=BARE_SETTINGS,
        urls=BARE_URLS,
    )
    assert not list(project.rglob("base.html")), "a bare host has no layout of its own"
    server = Server(host_venv, project)
    yield server, host_venv, project
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def open_browser(chromium, base_url: str, user_agent: str, **context):
    """A page of its own (cookies, user agent); axe-core may be injected (bypass_csp)."""
    context = chromium.new_context(
        user_agent=user_agent, base_url=base_url, bypass_csp=True, **context
    )
    return context.new_page()


def sign_in(page, username: str = "alice") -> None:
    page.goto(f"/accounts/login/?next={DEVICES}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{DEVICES}")


def check_every_way(page, name: str, found: dict) -> None:
    """axe-core (WCAG 2.1 AA, every impact) on the page as loaded, in light and dark, at
    1280 and 360 px, and no sideways scroll at 360 px: what fails goes into ``found``."""
    for scheme in SCHEMES:
        for width in WIDTHS:
            page.emulate_media(color_scheme=scheme)
            page.set_viewport_size({"width": width, "height": 800})
            problems = [
                f"{v['id']}: " + "; ".join(n["failureSummary"][:200] for n in v["nodes"][:3])
                for v in axe_violations(page, tags=WCAG21AA, impacts=None)
            ]
            if width == 360 and overflows_sideways(page):
                problems.append("scrolls sideways at 360 px")
            if problems:
                found[f"{name}, {scheme}, {width} px"] = problems


def shoot(page, name: str, directory: Path | None) -> None:
    """Screenshots of the page (light, dark, 360 px), when asked for (see ``main``)."""
    if directory is None:
        return
    for label, scheme, width in (
        ("light", "light", 1280),
        ("dark", "dark", 1280),
        ("360-light", "light", 360),
        ("360-dark", "dark", 360),
    ):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(directory / f"{name}-{label}.png"), full_page=True)


def not_me_link(venv: Path, project: Path, device_name: str) -> str:
    """The "This wasn't me" link a new-device alert would carry for that session."""
    token = manage(
        venv,
        project,
        "shell",
        "-c",
        "from sessions_mgmt.alerts import not_me_token; "
        "from sessions_mgmt.models import DeviceSession; "
        f"print(not_me_token(DeviceSession.objects.get(device_name={device_name!r})))",
    ).split()[-1]  # after what Django's shell says it imported
    return f"{DEVICES}not-me/{token}/"


def visit_every_page(chromium, server, venv, project, shots: Path | None = None) -> dict:
    """Every page the app renders, with ``check_every_way``; what failed, by page."""
    found: dict = {}
    laptop = open_browser(chromium, server.url, MAC_CHROME)
    for user_agent in (IPHONE_SAFARI, WINDOWS_FIREFOX):
        sign_in(open_browser(chromium, server.url, user_agent))
    sign_in(laptop)

    laptop.goto(DEVICES)
    css = laptop.evaluate("document.querySelector('link[rel=stylesheet]').href")
    assert laptop.request.get(css).ok, "the app's stylesheet is not served"
    shoot(laptop, "devices", shots)
    check_every_way(laptop, "devices", found)
    laptop.get_by_role("link", name="Safari on iPhone").click()
    laptop.wait_for_url(re.compile(r".*/accounts/devices/[0-9a-f-]{36}/$"))
    shoot(laptop, "detail", shots)
    check_every_way(laptop, "one device", found)
    for name, path in (
        ("activity", f"{DEVICES}activity/"),
        ("sign out all others", f"{DEVICES}sign-out-others/confirm/"),
        ("device not found", f"{DEVICES}{uuid.uuid4()}/"),
        ("this wasn't me, invalid", f"{DEVICES}not-me/not-a-token/"),
    ):
        laptop.goto(path)
        check_every_way(laptop, name, found)

    # Signing the phone out asks "Confirm it's you" (no sign-in is recent enough here).
    laptop.goto(DEVICES)
    laptop.get_by_role("button", name="Sign out Safari on iPhone").click()
    laptop.get_by_role("heading", name="Confirm it's you").wait_for()
    shoot(laptop, "confirm", shots)
    check_every_way(laptop, "confirm it's you", found)
    laptop.get_by_label("Password").fill("not-the-password")
    laptop.get_by_role("button", name="Confirm").click()
    laptop.get_by_role("alert").wait_for()
    shoot(laptop, "confirm-error", shots)
    check_every_way(laptop, "confirm it's you, wrong password", found)
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_role("button", name="Confirm").click()
    laptop.wait_for_url(f"**{DEVICES}")
    check_every_way(laptop, "devices, after signing one out", found)

    # "This wasn't me", from the new-device alert's link, for the Windows laptop.
    laptop.goto(not_me_link(venv, project, "Firefox on Windows"))
    shoot(laptop, "not-me", shots)
    check_every_way(laptop, "this wasn't me", found)
    laptop.get_by_role("button", name="Sign out Firefox on Windows").click()
    laptop.get_by_role("heading", name="Firefox on Windows is signed out").wait_for()
    shoot(laptop, "not-me-done", shots)
    check_every_way(laptop, "this wasn't me, done", found)

    laptop.goto(DEVICES)  # only this device is left: the empty state
    assert laptop.get_by_text("This is the only device signed in to your account.").is_visible()
    shoot(laptop, "devices-alone", shots)
    check_every_way(laptop, "devices, only this one", found)
    laptop.context.close()
    return found


def test_every_page_meets_wcag_21_aa_in_light_and_dark_at_1280_and_360_px(bare_host, chromium):
    server, venv, project = bare_host
    found = visit_every_page(chromium, server, venv, project)
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)[:6000]


WORDS_SPLIT_ACROSS_LINES = """el => {
    const node = el.firstChild, text = node.textContent, split = [];
    for (const match of text.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) split.push(match[0]);
    }
    return split;
}"""


def box(locator) -> dict:
    return locator.bounding_box()


def test_the_layout_at_360_px_and_the_forms_in_dark(bare_host, chromium):
    """What axe-core does not measure: the "This device" badge lines up with the device's
    name, the User-Agent breaks between words, and the "Confirm it's you" form and its
    error are styled by the app (not left to the browser's defaults)."""
    server, venv, project = bare_host
    phone = open_browser(chromium, server.url, IPHONE_SAFARI)
    sign_in(phone, "bob")
    laptop = open_browser(chromium, server.url, MAC_CHROME, viewport={"width": 360, "height": 800})
    sign_in(laptop, "bob")
    signed_in = time.monotonic()

    current = laptop.locator(".device--current")
    name, badge = box(current.locator(".device__name")), box(current.locator(".badge"))
    if badge["y"] >= name["y"] + name["height"] - 1:  # wrapped: under the name, flush left
        assert abs(badge["x"] - name["x"]) < 1, (name, badge)
    else:  # beside the name, centred on its line
        middle = name["y"] + name["height"] / 2
        assert abs(badge["y"] + badge["height"] / 2 - middle) <= 2, (name, badge)

    laptop.get_by_role("link", name="Safari on iPhone").click()
    agent = laptop.locator(".device-detail__agent")
    assert agent.inner_text() == IPHONE_SAFARI
    assert agent.evaluate(WORDS_SPLIT_ACROSS_LINES) == []

    laptop.emulate_media(color_scheme="dark")
    laptop.go_back()
    # Signing out asks "Confirm it's you" once the sign-in is older than the 1 s window.
    time.sleep(max(0.0, signed_in + 1.5 - time.monotonic()))
    laptop.get_by_role("button", name="Sign out Safari on iPhone").click()
    laptop.get_by_label("Password").fill("not-the-password")
    laptop.get_by_role("button", name="Confirm").click()
    error = laptop.get_by_role("alert")
    assert error.inner_text() == "That password is not right."
    style = "(el, name) => getComputedStyle(el).getPropertyValue(name)"
    body_colour = laptop.locator("body").evaluate(style, "color")
    assert error.evaluate(style, "color") not in (body_colour, "rgb(0, 0, 0)")
    field = laptop.get_by_label("Password")
    assert field.evaluate(style, "border-top-left-radius") == "8px"
    assert field.evaluate(style, "padding-top") != "1px"  # Chromium's own default
    assert field.evaluate(style, "background-color") == "rgb(21, 27, 35)"  # the dark card
    confirm = laptop.get_by_role("button", name="Confirm")
    assert confirm.evaluate(style, "color") == "rgb(255, 255, 255)"
    assert confirm.evaluate(style, "background-color") != "rgba(0, 0, 0, 0)"
    laptop.context.close()
    phone.context.close()
