"""The "Your devices" page in a real browser: Debian's Chromium, driven by Playwright,
against a live server. Also the accessibility check (axe-core) and the README screenshots.

Run by `make test` (E2E=1 in its first run); on their own: E2E=1 pytest -m browser.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from ..browser import axe_violations, launch, overflows_sideways
from ..conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX
from ..factories import PASSWORD, DeviceSessionFactory, UserFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PIXEL_7 = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


class Device:
    """One browser context: its own cookies, user agent and page."""

    def __init__(self, chromium, base_url: str, user_agent: str, **context) -> None:
        self.base_url = base_url
        self.context = chromium.new_context(user_agent=user_agent, base_url=base_url, **context)
        self.page = self.context.new_page()
        self.foreign_requests: list[str] = []
        self.console_errors: list[str] = []
        self.page.on(
            "request",
            lambda r: r.url.startswith(base_url) or self.foreign_requests.append(r.url),
        )
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def sign_in(self, user, password: str = PASSWORD) -> None:
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Username").fill(user.get_username())
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/accounts/devices/")

    def devices(self):
        self.page.goto("/accounts/devices/")
        return self.page

    def card_names(self) -> list[str]:
        return self.page.locator(".device__name").all_inner_texts()


@pytest.fixture
def open_device(chromium, live_server):
    opened = []

    def _open(user_agent: str = MAC_CHROME, **context) -> Device:
        device = Device(chromium, live_server.url, user_agent, **context)
        opened.append(device)
        return device

    yield _open
    for device in opened:
        assert device.foreign_requests == [], "the page must not load anything from elsewhere"
        assert device.console_errors == [], "no CSP violation or script error in the console"
        device.context.close()


def test_sign_out_a_phone_then_all_other_devices(open_device, live_server):
    user = UserFactory()
    laptop = open_device(MAC_CHROME)
    phone = open_device(IPHONE_SAFARI, viewport={"width": 390, "height": 844})
    laptop.sign_in(user)
    phone.sign_in(user)

    page = laptop.devices()
    assert laptop.card_names() == ["Chrome on macOS", "Safari on iPhone"]
    current = page.locator(".device--current")
    assert current.count() == 1
    assert "This device" in current.inner_text() and "Chrome on macOS" in current.inner_text()
    assert current.get_by_role("button").count() == 0

    page.get_by_role("button", name="Sign out Safari on iPhone").click()
    page.wait_for_url("**/accounts/devices/")
    assert page.get_by_role("status").inner_text() == "Signed out of Safari on iPhone."
    assert laptop.card_names() == ["Chrome on macOS"]
    assert page.get_by_text("This is the only device signed in to your account.").is_visible()

    phone.devices()
    assert "/accounts/login/" in phone.page.url

    # Three devices now; "Sign out of all other devices" goes through a confirmation step.
    phone.sign_in(user)
    tablet = open_device(WINDOWS_FIREFOX)
    tablet.sign_in(user)
    page = laptop.devices()
    page.get_by_role("link", name="Sign out of all other devices").click()
    page.wait_for_url("**/sign-out-others/confirm/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign out of all other devices?"
    assert sorted(page.locator(".device__name").all_inner_texts()) == [
        "Firefox on Windows",
        "Safari on iPhone",
    ]
    page.get_by_role("button", name="Sign out of all other devices").click()
    page.wait_for_url("**/accounts/devices/")
    assert page.get_by_role("status").inner_text() == "Signed out of 2 other devices."
    assert laptop.card_names() == ["Chrome on macOS"]

    for other in (phone, tablet):
        other.devices()
        assert "/accounts/login/" in other.page.url
    laptop.devices()
    assert laptop.page.url.endswith("/accounts/devices/")
    assert list(DeviceSession.objects.values_list("device_name", flat=True)) == ["Chrome on macOS"]


def test_revoking_a_device_already_signed_out_elsewhere_says_so(open_device):
    user = UserFactory()
    laptop, phone, tablet = (open_device(ua) for ua in (MAC_CHROME, IPHONE_SAFARI, PIXEL_7))
    for device in (laptop, phone, tablet):
        device.sign_in(user)

    stale = phone.devices()  # the phone's tab shows the tablet...
    laptop.devices().get_by_role("button", name="Sign out Chrome on Android").click()
    laptop.page.wait_for_url("**/accounts/devices/")

    stale.get_by_role("button", name="Sign out Chrome on Android").click()  # ...and is stale
    assert stale.get_by_role("heading", level=1).inner_text() == "That device is not signed in"
    assert stale.get_by_text("It may have been signed out already").is_visible()
    # The page answers 404 (the id is unknown now), which Chromium notes in the console.
    assert all("404" in error for error in phone.console_errors)
    phone.console_errors.clear()
    stale.get_by_role("link", name="Back to your devices").click()
    assert phone.card_names() == ["Safari on iPhone", "Chrome on macOS"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 360])
def test_pages_have_no_serious_accessibility_violations(open_device, scheme, width):
    user = UserFactory()
    # bypass_csp lets the test inject axe-core; the pages themselves never need it.
    viewport = {"width": width, "height": 900}
    laptop = open_device(MAC_CHROME, color_scheme=scheme, viewport=viewport, bypass_csp=True)
    phone = open_device(IPHONE_SAFARI, color_scheme=scheme, viewport=viewport)
    laptop.page.goto("/accounts/login/")
    assert axe_violations(laptop.page) == []
    phone.sign_in(user)
    laptop.sign_in(user)
    for path in ("/accounts/devices/", "/accounts/devices/sign-out-others/confirm/"):
        laptop.page.goto(path)
        violations = axe_violations(laptop.page)
        assert violations == [], json.dumps(violations, indent=1)[:3000]
    # Nothing overflows sideways at 360 px.
    assert not overflows_sideways(laptop.page)


def test_keyboard_focus_is_visible(open_device):
    user = UserFactory()
    laptop, phone = open_device(MAC_CHROME), open_device(IPHONE_SAFARI)
    phone.sign_in(user)
    laptop.sign_in(user)
    page = laptop.devices()
    button = page.get_by_role("button", name="Sign out Safari on iPhone")
    button.focus()
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none")


@pytest.mark.screenshots
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("name", "width"), [("desktop", 1100), ("mobile", 360)])
def test_take_readme_screenshots(open_device, scheme, name, width):
    user = UserFactory(username="alice")
    now = timezone.now()
    for user_agent, ip, active, signed_in in (
        (IPHONE_SAFARI, "198.51.100.23", timedelta(minutes=3), timedelta(days=12)),
        (WINDOWS_FIREFOX, "203.0.113.77", timedelta(days=2, hours=5), timedelta(days=40)),
    ):
        DeviceSessionFactory(
            user=user,
            user_agent=user_agent,
            ip=ip,
            last_active_at=now - active,
            created_at=now - signed_in,
            **_described(user_agent),
        )
    # Some history for the "Recent activity" section.
    from sessions_mgmt.models import SessionEvent

    mac = {"browser": "Chrome", "os": "macOS", "device_type": "desktop"}
    android = {"browser": "Chrome Mobile", "os": "Android", "device_type": "mobile"}
    for kind, ago, extra in (
        ("signed_in", timedelta(days=3), {**android, "ip": "192.0.2.44"}),
        ("alert_sent", timedelta(days=3), android),
        (
            "revoked",
            timedelta(days=2, hours=23),
            {
                **android,
                "reason": "user",
                "by_browser": "Chrome",
                "by_os": "macOS",
                "by_device_type": "desktop",
            },
        ),  # noqa: E501
        (
            "password_changed",
            timedelta(days=2, hours=22),
            {"by_browser": "Chrome", "by_os": "macOS", "by_device_type": "desktop"},
        ),  # noqa: E501
    ):
        SessionEvent.objects.create(user=user, type=kind, at=now - ago, **extra)
    SessionEvent.objects.create(user=user, type="signed_in", at=now - timedelta(days=4), **mac)
    laptop = open_device(
        MAC_CHROME,
        color_scheme=scheme,
        viewport={"width": width, "height": 760},
        device_scale_factor=1,
    )
    laptop.sign_in(user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    laptop.devices().screenshot(
        path=str(SCREENSHOTS / f"devices-{name}-{scheme}.png"), full_page=True
    )
    laptop.page.goto("/accounts/devices/activity/")
    laptop.page.screenshot(path=str(SCREENSHOTS / f"activity-{name}-{scheme}.png"), full_page=True)
    laptop.devices().get_by_role("link", name="Safari on iPhone").click()
    laptop.page.screenshot(path=str(SCREENSHOTS / f"detail-{name}-{scheme}.png"), full_page=True)


def _described(user_agent: str) -> dict:
    from sessions_mgmt.devices import describe

    device = describe(user_agent)
    return {
        "browser": device.browser,
        "os": device.os,
        "device_type": device.device_type,
        "device_name": device.name,
    }
