"""Where an IP address is, for the device list: "Berlin, Germany", "Germany", or "Local
network". Optional: only with the ``sessions_mgmt[geo]`` extra (geoip2fast), which ships
its own data, so nothing is downloaded at run time and no address is sent anywhere.
Resolved when a row is created (and stored), and when a list shows a session whose IP has
changed since (the session keeps its current IP; see ``services.list_devices``)."""

import ipaddress
from functools import lru_cache

from django.utils.translation import gettext, gettext_noop

#: Stored untranslated; ``display()`` translates it for the reader.
LOCAL_NETWORK = gettext_noop("Local network")

DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6


@lru_cache(maxsize=1)
def _reader():
    try:
        from geoip2fast import GeoIP2Fast
    except ImportError:
        return None
    return GeoIP2Fast(geoip2fast_data_file=DATA_FILE)


def available() -> bool:
    """Whether locations can be resolved (the geo extra is installed)."""
    return _reader() is not None


def locate(ip: str | None) -> str:
    """The place of ``ip`` as people read it, or "" when unknown or when geo is off."""
    if not ip or not available():
        return ""
    address = ipaddress.ip_address(ip)
    if address.is_private or address.is_loopback or address.is_link_local:
        return LOCAL_NETWORK
    found = _reader().lookup(ip)
    if not found.country_code or found.country_code == "--":
        return ""
    city = getattr(found.city, "name", "") if found.city else ""
    return (f"{city}, {found.country_name}" if city else found.country_name)[:100]


def display(stored: str) -> str:
    """A stored location as the reader reads it ("Local network" in their language; place
    names as the geo data gives them)."""
    return gettext(LOCAL_NETWORK) if stored == LOCAL_NETWORK else stored
