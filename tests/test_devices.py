import pytest

from sessions_mgmt.devices import USER_AGENT_MAX_LENGTH, describe

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX

IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("user_agent", "name", "browser", "os", "device_type"),
    [
        (MAC_CHROME, "Chrome on macOS", "Chrome", "macOS", "desktop"),
        (IPHONE_SAFARI, "Safari on iPhone", "Safari", "iOS", "mobile"),
        (IPAD, "Safari on iPad", "Safari", "iOS", "tablet"),
        (ANDROID_CHROME, "Chrome on Android", "Chrome", "Android", "mobile"),
        (WINDOWS_FIREFOX, "Firefox on Windows", "Firefox", "Windows", "desktop"),
        (GOOGLEBOT, "Googlebot", "Googlebot", "", "bot"),
        ("curl/8.4.0", "curl", "curl", "", "other"),
        ("", "Unknown device", "", "", "other"),
        (None, "Unknown device", "", "", "other"),
    ],
)
def test_describe_names_the_device(user_agent, name, browser, os, device_type):
    device = describe(user_agent)
    assert (device.name, device.browser, device.os, device.device_type) == (
        name,
        browser,
        os,
        device_type,
    )


def test_describe_truncates_a_huge_header():
    device = describe(MAC_CHROME + "x" * 8192)
    assert len(device.user_agent) == USER_AGENT_MAX_LENGTH
    assert device.user_agent.startswith(MAC_CHROME)
    assert device.name == "Chrome on macOS"


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ("Mozilla/5.0 \x00(X11)\x07", "Mozilla/5.0 (X11)"),
        ("Bad\ud800Surrogate", "BadSurrogate"),
        # A UTF-8 header as WSGI hands it over (Latin-1) is decoded back.
        ("Appli 😀 ünïcode/1.0".encode().decode("latin-1"), "Appli 😀 ünïcode/1.0"),
        ("مرحبا 世界 Ω/2.0", "مرحبا 世界 Ω/2.0"),
    ],
)
def test_describe_stores_clean_text(header, stored):
    assert describe(header).user_agent == stored
