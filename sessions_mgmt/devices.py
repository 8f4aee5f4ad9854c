"""Turn a User-Agent header into the device description people see ("Chrome on macOS").

Parsing uses django-user-agents, which keeps parsed results in the cache named by its
``USER_AGENTS_CACHE`` setting, so a User-Agent seen before costs no regex work. We parse
once, at sign-in, and store the result; pages never parse.
"""

import contextlib
import functools
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from django_user_agents.utils import get_user_agent
from user_agents import parse

#: Longest User-Agent we store or parse; longer headers are cut to this many characters.
USER_AGENT_MAX_LENGTH = 512

DESKTOP, MOBILE, TABLET, BOT, OTHER = "desktop", "mobile", "tablet", "bot", "other"

_BROWSER_SUFFIXES = (" Mobile iOS", " Mobile", " iOS")
_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
_APPLE_DEVICES = {"iPhone", "iPad", "iPod"}
_UNKNOWN = {"", "Other", "Generic Smartphone", "Generic Feature Phone", "Generic Tablet"}


@dataclass(frozen=True)
class Device:
    user_agent: str
    browser: str
    os: str
    device_type: str
    name: str


def _clean_browser(family: str) -> str:
    if family in _UNKNOWN:
        return ""
    if family.startswith("Mobile "):
        family = family.removeprefix("Mobile ")
    for suffix in _BROWSER_SUFFIXES:
        if family.endswith(suffix):
            return family.removesuffix(suffix)
    return family


def _parse(user_agent: str):
    probe = HttpRequest()
    probe.META["HTTP_USER_AGENT"] = user_agent
    try:
        return get_user_agent(probe)
    except Exception:
        # The parse cache is an optimisation: an unreachable cache must not stop a sign-in.
        return parse(user_agent)


def clean_header(value: str | None) -> str:
    """The header as text a database stores and a page shows, cut to the stored maximum.

    WSGI hands headers over as Latin-1; a UTF-8 header is decoded back to what the client
    sent. Control characters (NUL among them, which PostgreSQL refuses) and lone surrogates
    are dropped.
    """
    text = value or ""
    with contextlib.suppress(UnicodeError):
        text = text.encode("latin-1").decode("utf-8")
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:USER_AGENT_MAX_LENGTH]


def describe(user_agent: str | None) -> Device:
    """Describe a raw User-Agent header; never raises, whatever the header holds.

    Kept per process for the last ``DESCRIBED`` distinct headers (a sign-in with a usual
    browser then costs a dictionary lookup, not a cache round trip and an unpickled
    parse: issue 14 §3); the result does not depend on the request or the language.
    """
    return _describe(user_agent or "")


#: How many distinct User-Agent headers ``describe`` keeps, per process (about 1 KB each).
DESCRIBED = 1024


@functools.lru_cache(maxsize=DESCRIBED)
def _describe(user_agent: str) -> Device:
    raw = clean_header(user_agent)
    parsed = _parse(raw)
    browser = _clean_browser(parsed.browser.family)[:100]
    os_family = parsed.os.family
    os_name = "" if os_family in _UNKNOWN else _OS_NAMES.get(os_family, os_family)[:100]

    if parsed.is_bot:
        device_type = BOT
    elif parsed.is_tablet:
        device_type = TABLET
    elif parsed.is_mobile:
        device_type = MOBILE
    elif parsed.is_pc:
        device_type = DESKTOP
    else:
        device_type = OTHER

    with translation.override(None):  # stored in English; shown in the reader's language
        name = compose_name(browser, os_name, device_type, parsed.device.family)
    return Device(raw, browser, os_name, device_type, name[:200])


def compose_name(browser: str, os_name: str, device_type: str, family: str = "") -> str:
    """ "Chrome on macOS", "Safari on iPhone", "Unknown device", in the active language.

    Composed when shown (``DeviceSession.display_name``), not stored translated, so each
    reader sees it in their own language. Apple's handhelds are named by device: the
    parsed device family at sign-in, or from the stored OS and type when shown.
    """
    if family not in _APPLE_DEVICES and os_name == "iOS":
        family = "iPad" if device_type == TABLET else "iPhone"
    place = family if family in _APPLE_DEVICES else os_name
    if device_type == BOT or (browser and not place):
        return browser or _("Unknown device")
    if browser:
        return _("%(browser)s on %(place)s") % {"browser": browser, "place": place}
    if place:
        return _("Unknown browser on %(place)s") % {"place": place}
    return _("Unknown device")
