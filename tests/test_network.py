"""Which IP address is recorded: REMOTE_ADDR by default; behind proxies, what ipware finds."""

import pytest
from django.test import RequestFactory

from sessions_mgmt.network import client_ip

rf = RequestFactory()


def request(remote: str, forwarded: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return rf.get("/", REMOTE_ADDR=remote, **extra)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("198.51.100.9", None, "198.51.100.9"),
        ("198.51.100.9", "203.0.113.66", "198.51.100.9"),  # forged header: ignored
        ("2001:db8::9", "203.0.113.66", "2001:db8::9"),
        ("fe80::1%eth0", None, "fe80::1"),
        ("not an ip", None, None),
        ("", None, None),
    ],
)
def test_default_trusts_only_the_socket_peer(remote, forwarded, expected):
    assert client_ip(request(remote, forwarded)) == expected


@pytest.mark.parametrize(
    ("options", "remote", "forwarded", "expected"),
    [
        ({"proxy_count": 1}, "10.0.0.1", "203.0.113.5, 10.0.0.2", "203.0.113.5"),
        ({"proxy_count": 1}, "10.0.0.1", "2001:db8::5, 10.0.0.2", "2001:db8::5"),
        # A client that prepends a forged address is not believed: the peer is recorded.
        ({"proxy_count": 1}, "10.0.0.1", "6.6.6.6, 203.0.113.5, 10.0.0.2", "10.0.0.1"),
        ({"proxy_trusted_ips": ["10.0.0.2"]}, "10.0.0.1", "203.0.113.5, 10.0.0.2", "203.0.113.5"),
        # Nothing usable in the header: the peer's address, never nothing.
        ({"proxy_count": 1}, "10.0.0.1", "garbage", "10.0.0.1"),
    ],
)
def test_behind_proxies_uses_ipware(settings, options, remote, forwarded, expected):
    settings.SESSIONS_MGMT_CLIENT_IP = options
    assert client_ip(request(remote, forwarded)) == expected


@pytest.mark.django_db
def test_a_forged_header_changes_nothing_at_sign_in(user, sign_in):
    from sessions_mgmt.models import DeviceSession

    sign_in(user, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert DeviceSession.objects.get(user=user).ip == "198.51.100.9"


def test_a_proxy_the_app_was_not_told_about_is_logged_once(rf, caplog, settings):
    """X-Forwarded-For reaching the app without SESSIONS_MGMT_CLIENT_IP: the address is the
    proxy's (the header is not believed), and the log says why, once."""
    import logging

    from sessions_mgmt import network

    settings.SESSIONS_MGMT_CLIENT_IP = None
    network._forwarded_but_not_configured.cache_clear()
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    with caplog.at_level(logging.WARNING, logger="sessions_mgmt.network"):
        assert network.client_ip(request) == "10.0.0.2"
        assert network.client_ip(request) == "10.0.0.2"
    warned = [r for r in caplog.records if "SESSIONS_MGMT_CLIENT_IP" in r.getMessage()]
    assert len(warned) == 1
