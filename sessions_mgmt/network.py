"""The client's IP address as we record it."""

import ipaddress

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR`` when it is a valid address, else ``None``.

    Only the socket peer is trusted by default, so a forged ``X-Forwarded-For`` changes
    nothing. An IPv6 zone (``fe80::1%eth0``) is dropped: it means nothing off the host and
    databases such as PostgreSQL refuse it.
    """
    raw = (request.META.get("REMOTE_ADDR") or "").split("%", 1)[0].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None
