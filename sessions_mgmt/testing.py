"""Helpers for your project's own tests: sign a test client in as a given device, list and
end a user's sessions, and assert who a client is signed in as.

No pytest needed (pytest fixtures are a thin layer in ``sessions_mgmt.pytest_plugin``)::

    from sessions_mgmt import testing

    phone = testing.sign_in(Client(), user, user_agent=testing.IPHONE, ip="203.0.113.9")
    laptop = testing.sign_in(Client(), user)
    laptop.post("/my/password/change/", {...})        # your own flow
    testing.assert_signed_out(phone)                    # it ended the other session
    testing.assert_signed_in(laptop, user)
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user, login
from django.http import HttpRequest, HttpResponse
from django.test import Client

from . import services
from .internal.flows import context
from .internal.flows.request import sync
from .models import DeviceSession

MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def sign_in(
    client: Client,
    user,
    *,
    user_agent: str = MAC_CHROME,
    ip: str = "127.0.0.1",
    backend: str | None = None,
) -> Client:
    """Sign ``client`` in as ``user`` from a device with this User-Agent and IP, the way a
    real sign-in does (``login()``, the app's tracking, the session saved and the cookie
    set), without going through a login form. Returns the client."""
    request = HttpRequest()
    request.META.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": ip})
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    backend = backend or settings.AUTHENTICATION_BACKENDS[0]
    token = context.handling(request)
    try:
        login(request, user, backend)
        response = HttpResponse()
        sync(request, response)
    finally:
        context.done(token)
    client.cookies.update(response.cookies)
    return client


def session_key_of(client: Client) -> str | None:
    morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


def signed_in_user(client: Client):
    """The user the client's session cookie authenticates as, as Django itself decides on
    its next request (store, expiry, password hash, active user), or None."""
    key = session_key_of(client)
    if key is None:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    if SESSION_KEY not in request.session.load():
        return None
    user = get_user(request)
    return user if user.is_authenticated else None


def assert_signed_in(client: Client, user=None) -> None:
    found = signed_in_user(client)
    assert found is not None, "the client is not signed in"
    if user is not None:
        assert found.pk == user.pk, f"the client is signed in as {found!r}, not {user!r}"


def assert_signed_out(client: Client) -> None:
    found = signed_in_user(client)
    assert found is None, f"the client is still signed in as {found!r}"


def sessions_of(user) -> list[DeviceSession]:
    """The user's sessions that work, as "Your devices" lists them (most recent first)."""
    return services.list_devices(user, None)


def session_of(client: Client) -> DeviceSession:
    """The row of the client's session."""
    return DeviceSession.objects.get(session_key=session_key_of(client))


def end_session(session: DeviceSession, *, reason: str = services.ADMIN) -> None:
    """End one session, as staff would in the admin."""
    services.end_sessions(DeviceSession.objects.filter(pk=session.pk), reason=reason)
