"""The client's IP address as we record it."""

import functools
import ipaddress
import logging

from django.http import HttpRequest
from ipware import get_client_ip

from .conf import app_settings

logger = logging.getLogger(__name__)


def _valid(raw: str | None) -> str | None:
    raw = (raw or "").split("%", 1)[0].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


@functools.cache
def _forwarded_but_not_configured() -> None:
    """Once per process: requests come through a proxy the app was not told about."""
    logger.warning(
        "Requests carry X-Forwarded-For, but SESSIONS_MGMT_CLIENT_IP is not set: the "
        "proxy's address is recorded for everyone, and the wrong-password limits count "
        "everyone behind it as one client. See sessions_mgmt.W008."
    )


def client_ip(request: HttpRequest) -> str | None:
    """The address to record for this request, or ``None`` when there is no valid one.

    By default only the socket peer (``REMOTE_ADDR``) is trusted, so a forged
    ``X-Forwarded-For`` changes nothing. Behind proxies, ``SESSIONS_MGMT_CLIENT_IP`` holds
    django-ipware's options, e.g. ``{"proxy_count": 1}`` or ``{"proxy_trusted_ips":
    ["10.0.0.1"]}`` (the header lists the client, then the proxies). ``strict`` defaults to
    true: a header whose chain does not match (a client prepending forged addresses) is not
    believed, and the peer's address is recorded instead. An IPv6 zone
    (``fe80::1%eth0``) is dropped: it means nothing off the host and PostgreSQL refuses it.
    """
    options = app_settings.CLIENT_IP
    if not options and "HTTP_X_FORWARDED_FOR" in request.META:
        _forwarded_but_not_configured()
    if options:
        found, _routable = get_client_ip(
            request,
            **{
                "strict": True,
                "request_header_order": ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"],
                **options,
            },
        )
        if _valid(found):
            return _valid(found)
    return _valid(request.META.get("REMOTE_ADDR"))
