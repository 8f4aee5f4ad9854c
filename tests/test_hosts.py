"""Issue 11 §3: the app installed from the built wheel into projects that are not the demo.

Each host is a fresh ``django-admin startproject`` in a virtualenv of its own, with the
wheel installed and the app set up only as the README's "Adding it to your project" says
(plus, as any project has, its own sign-in). Real servers (gunicorn for WSGI, uvicorn for
ASGI) on 127.0.0.1 are driven over HTTP like a browser and a JSON client.

Runs when HOSTS=1 (``make test`` sets it for one run of the matrix); building the wheel and
the virtualenv takes about a minute, mostly pip.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX
from .http import Browser
from .servers import free_port

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parent.parent
LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"
PASSWORD = "a-long-host-password-1"

# What the README's "Adding it to your project" says, as a host's settings.py ends.
README_SETTINGS = """
# sessions_mgmt, as its README says
INSTALLED_APPS += ["sessions_mgmt"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "sessions_mgmt.middleware.DeviceSessionMiddleware",
)
"""
README_URLS = """
# sessions_mgmt, as its README says
from django.urls import include  # noqa: E402

urlpatterns += [
    path("accounts/devices/", include("sessions_mgmt.urls")),
    path("me/", include("sessions_mgmt.api_urls")),
]
"""
# The host's own sign-in: Django's auth views and the one template they need, with wrong
# passwords counted as the README says.
OWN_SIGN_IN_SETTINGS = """
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
AUTHENTICATION_BACKENDS = ["sessions_mgmt.backends.ThrottledModelBackend"]
"""
OWN_SIGN_IN_URLS = """
from django.contrib.auth.views import LoginView, PasswordChangeView  # noqa: E402
from sessions_mgmt.forms import (  # noqa: E402
    ThrottledAuthenticationForm,
    ThrottledPasswordChangeForm,
)

urlpatterns += [
    path(
        "accounts/login/",
        LoginView.as_view(form_class=ThrottledAuthenticationForm),
        name="login",
    ),
    path(
        "accounts/password_change/",
        PasswordChangeView.as_view(form_class=ThrottledPasswordChangeForm),
        name="password_change",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
]
"""
LOGIN_TEMPLATE = (
    """<form method="post">{% csrf_token %}{{ form.as_p }}<button>Sign in</button></form>"""
)
# The host's own test of its integration, with the app's helpers (from the wheel).
HOST_TESTS = """
from django.contrib.auth import get_user_model
from django.test import Client, TestCase

from sessions_mgmt import testing


class SignOutOtherDevicesTest(TestCase):
    def test_a_password_change_ends_the_other_devices(self):
        user = get_user_model().objects.create_user("carol", password="an-old-long-password")
        phone = testing.sign_in(Client(), user, user_agent=testing.IPHONE, ip="203.0.113.9")
        laptop = testing.sign_in(Client(), user)
        self.assertEqual(len(testing.sessions_of(user)), 2)
        response = laptop.post(
            "/accounts/password_change/",
            {
                "old_password": "an-old-long-password",
                "new_password1": "a-new-long-password-42",
                "new_password2": "a-new-long-password-42",
            },
        )
        self.assertEqual(response.status_code, 302)
        testing.assert_signed_out(phone)
        testing.assert_signed_in(laptop, user)
        testing.end_session(testing.session_of(laptop))
        testing.assert_signed_out(laptop)
"""
ASGI_VIEWS = '''
"""The ASGI host's own async views: sign in with aauthenticate/alogin, read auser()."""

from django.contrib.auth import aauthenticate, alogin
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token


async def sign_in(request):
    if request.method == "POST":
        user = await aauthenticate(
            request, username=request.POST["username"], password=request.POST["password"]
        )
        if user is None:
            return HttpResponse("wrong", status=400)
        await alogin(request, user)
        return HttpResponseRedirect("/whoami/")
    token = get_token(request)
    return HttpResponse(
        f'<form method="post"><input name="csrfmiddlewaretoken" value="{token}">'
        '<input name="username"><input name="password" type="password"></form>'
    )


async def whoami(request):
    user = await request.auser()
    return HttpResponse(user.get_username() if user.is_authenticated else "")
'''
ASGI_URLS = """
from host import views  # noqa: E402

urlpatterns += [
    path("accounts/login/", views.sign_in),
    path("whoami/", views.whoami),
]
"""


def run(*args, cwd=None, env=None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def manage(venv: Path, project: Path, *args) -> str:
    """``python manage.py ARGS`` in the host, with the host's own environment."""
    return run(venv / "bin" / "python", "manage.py", *args, cwd=project, env=host_env(venv))


@pytest.fixture(scope="session")
def host_venv(tmp_path_factory) -> Path:
    """A virtualenv with the wheel built from this tree, and the servers; not the tree."""
    return build_host_venv(tmp_path_factory)


_built: dict[str, Path] = {}


def build_host_venv(tmp_path_factory) -> Path:
    """Once per run, whichever module asks first (other modules import ``host_venv``)."""
    if "venv" not in _built:
        _built["venv"] = _build_host_venv(tmp_path_factory.mktemp("hosts"))
    return _built["venv"]


def _build_host_venv(base: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "dist", ROOT)
    (wheel,) = (base / "dist").glob("django_sessions_mgmt-*.whl")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(
        venv / "bin" / "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        wheel,
        "gunicorn",
        "uvicorn",
    )
    return venv


def make_host(
    venv: Path,
    where: Path,
    *,
    settings: str = "",
    urls: str = "",
    files: dict | None = None,
    users: tuple[str, ...] = ("alice", "bob"),
) -> Path:
    """``django-admin startproject host``, set up as the README says (plus extras)."""
    where.mkdir()
    run(venv / "bin" / "django-admin", "startproject", "host", where)
    package = where / "host"
    for name, text in (files or {}).items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    with open(package / "settings.py", "a") as f:
        f.write(README_SETTINGS + settings)
    with open(package / "urls.py", "a") as f:
        f.write(README_URLS + urls)
    (where / "templates" / "registration").mkdir(parents=True)
    (where / "templates" / "registration" / "login.html").write_text(LOGIN_TEMPLATE)
    if (where / "users").exists():
        manage(venv, where, "makemigrations", "users")
    manage(venv, where, "migrate", "-v0")
    for name in users:
        manage(
            venv,
            where,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({name!r}, password={PASSWORD!r})",
        )
    return where


def host_env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    env.update({"PATH": f"{venv / 'bin'}:{env.get('PATH', '')}", "PYTHONPATH": ""})
    env.pop("REDIS_URL", None)
    env.pop("SESSION_ENGINE", None)
    return env


class Server:
    def __init__(
        self,
        venv: Path,
        project: Path,
        asgi: bool = False,
        login_field: str = "username",
        first_user: str = "alice",
        runserver: bool = False,
    ) -> None:
        self.login_field, self.first_user = login_field, first_user
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if runserver:  # as the README says to try it
            command = [venv / "bin" / "python", "manage.py", "runserver", "--noreload"]
            command.append(f"127.0.0.1:{self.port}")
        elif asgi:
            command = [venv / "bin" / "uvicorn", "host.asgi:application", "--port", self.port]
        else:
            command = [venv / "bin" / "gunicorn", "host.wsgi", f"--bind=127.0.0.1:{self.port}"]
        self.log = open(project / "server.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [str(c) for c in command],
            cwd=project,
            env=host_env(venv),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (project / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the host's server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


def api(browser: Browser, method: str, path: str, csrf: bool = True) -> tuple[int, object]:
    headers = {"X-CSRFToken": browser.cookie("csrftoken") or ""} if csrf else {}
    response = browser.request(method, path, headers=headers)
    return response.status, json.loads(response.body)


def sign_in(server: Server, user_agent: str, username: str | None = None) -> Browser:
    browser = Browser(server.url, user_agent)
    field = server.login_field
    response = browser.post_form(
        "/accounts/login/",
        "/accounts/login/",
        {field: username or server.first_user, "password": PASSWORD},
    )
    assert response.status == 302, f"sign-in failed: {response.status} {response.body[:300]}"
    return browser


def guesses_are_limited(server: Server) -> None:
    """Wrong passwords are counted by the backend the README sets: after ten guesses at one
    account from one address, even the right password is refused there."""
    guesser = Browser(server.url, MAC_CHROME)
    for _ in range(10):
        guesser.post_form(
            "/accounts/login/", "/accounts/login/", {"username": "bob", "password": "guess"}
        )
    refused = guesser.post_form(
        "/accounts/login/", "/accounts/login/", {"username": "bob", "password": PASSWORD}
    )
    assert refused.status == 200 and "Too many wrong passwords" in refused.body


def exercise(server: Server) -> None:
    """Two devices, the list, revoke one, revoke all others; the API's statuses and JSON."""
    anonymous = Browser(server.url, MAC_CHROME)
    status, body = api(anonymous, "GET", "/me/sessions")
    assert status == 401 and body["error"]
    page = anonymous.get("/accounts/devices/")
    assert page.status == 302 and "/accounts/login/" in page.location

    laptop = sign_in(server, MAC_CHROME)
    phone = sign_in(server, IPHONE_SAFARI)
    page = laptop.get("/accounts/devices/")
    assert page.status == 200, page.body[:500]
    assert "<!doctype html>" in page.body.lower()
    assert "Safari on iPhone" in page.body and "This device" in page.body
    css = re.search(r'href="([^"]*sessions_mgmt\.css)"', page.body)
    assert css, "the layout links no stylesheet"

    status, listed = api(laptop, "GET", "/me/sessions")
    assert status == 200 and [s["isCurrent"] for s in listed] == [True, False]
    phone_id = listed[1]["id"]
    assert all(s["expiresAt"] for s in listed)

    response = laptop.post_form("/accounts/devices/", f"/accounts/devices/{phone_id}/sign-out/")
    assert response.status == 302 and response.location.endswith("/accounts/devices/"), (
        response.location
    )
    status, body = api(phone, "GET", "/me/sessions")
    assert status == 401, "the revoked cookie still works"

    tablet = sign_in(server, WINDOWS_FIREFOX)
    laptop.get("/accounts/devices/")  # the CSRF cookie
    status, body = api(laptop, "POST", "/me/sessions/revoke-all")
    assert status == 200 and body["revoked"] == 1
    assert api(tablet, "GET", "/me/sessions")[0] == 401
    status, listed = api(laptop, "GET", "/me/sessions")
    assert status == 200 and len(listed) == 1

    # The API's errors: JSON with an "error", whatever the host's middleware.
    assert api(laptop, "POST", "/me/sessions/revoke-all", csrf=False)[0] == 403
    status, body = api(laptop, "DELETE", "/me/sessions/not-an-id")
    assert status == 404 and body["error"]
    status, body = api(laptop, "DELETE", f"/me/sessions/{listed[0]['id']}")
    assert status == 400 and "sign out" in body["error"].lower()
    status, body = api(laptop, "GET", "/me/sessions/no/such-thing")
    assert status == 404 and body["error"]
    status, body = api(laptop, "PUT", "/me/sessions")
    assert status == 405 and body["error"]


@pytest.mark.parametrize("variant", ["bare", "login_required"])
def test_a_startproject_host_with_djangos_auth_views(host_venv, tmp_path, variant):
    settings = OWN_SIGN_IN_SETTINGS
    if variant == "login_required":
        settings += f"\nMIDDLEWARE.append({LOGIN_REQUIRED!r})\n"
    project = make_host(
        host_venv,
        tmp_path / "site",
        settings=settings,
        urls=OWN_SIGN_IN_URLS,
        files={"host/tests.py": HOST_TESTS},
    )
    # The host's own tests, written with sessions_mgmt.testing, pass on the installed wheel.
    output = subprocess.run(
        [host_venv / "bin" / "python", "manage.py", "test", "host", "-v", "2"],
        cwd=project,
        env=host_env(host_venv),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert output.returncode == 0, output.stderr
    assert "test_a_password_change_ends_the_other_devices" in output.stderr
    server = Server(host_venv, project)
    try:
        exercise(server)
        # The page links the stylesheet; the wheel carries it for collectstatic to find.
        manage(host_venv, project, "findstatic", "sessions_mgmt/sessions_mgmt.css")
        guesses_are_limited(server)
    finally:
        server.stop()


def test_an_asgi_host_signing_in_with_alogin(host_venv, tmp_path):
    # This host has no views named "logout" / "password_change": it says where its are,
    # or the app's system check (E004) stops it at start-up.
    settings = OWN_SIGN_IN_SETTINGS + (
        'SESSIONS_MGMT_LOGOUT_URL = "/signout/"\nSESSIONS_MGMT_PASSWORD_CHANGE_URL = "/password/"\n'
    )
    project = make_host(
        host_venv,
        tmp_path / "site",
        settings=settings,
        urls=ASGI_URLS,
        files={"host/views.py": ASGI_VIEWS},
    )
    server = Server(host_venv, project, asgi=True)
    try:
        exercise(server)
        browser = sign_in(server, MAC_CHROME, "bob")
        assert browser.get("/whoami/").body == "bob"
    finally:
        server.stop()


ALLAUTH_SETTINGS = """
INSTALLED_APPS += ["users", "allauth", "allauth.account"]
MIDDLEWARE.append("allauth.account.middleware.AccountMiddleware")
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
SESSIONS_MGMT_REAUTH_WINDOW = 6  # seconds since signing in: short, so the test outlives it
"""
ALLAUTH_URLS = """
urlpatterns += [path("accounts/", include("allauth.urls"))]
"""
EMAIL_USER_MODEL = '''
"""A user model that signs in by email and has no username at all."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = UserManager()
'''


def test_an_allauth_host_with_an_email_user_model(host_venv, tmp_path):
    """Signs in by email through allauth's own views; the user model has no username. The
    app finds allauth's URL names by itself (no setting)."""
    run(host_venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", "django-allauth")
    project = make_host(
        host_venv,
        tmp_path / "site",
        settings=ALLAUTH_SETTINGS,
        urls=ALLAUTH_URLS,
        files={"users/__init__.py": "", "users/models.py": EMAIL_USER_MODEL},
        users=("alice@example.com", "bob@example.com"),
    )
    server = Server(host_venv, project, login_field="login", first_user="alice@example.com")
    try:
        exercise(server)
        # The own-session refusal names allauth's sign-out, which exists here.
        laptop = sign_in(server, MAC_CHROME)
        laptop.get("/accounts/devices/")
        status, listed = api(laptop, "GET", "/me/sessions")
        status, body = api(laptop, "DELETE", f"/me/sessions/{listed[0]['id']}")
        assert status == 400 and "/accounts/logout/" in body["error"]
        # The command finds users by the model's USERNAME_FIELD (here the email).
        out = manage(
            host_venv, project, "revoke_sessions", "--user", "alice@example.com", "--dry-run"
        )
        assert re.search(r"Would revoke 2 sessions of 1 user\.", out), out
        # "Confirm it's you" is allauth's own reauthentication here: once its window has
        # passed, revoking goes through allauth's flow, and the API says it is needed.
        phone = sign_in(server, IPHONE_SAFARI)
        status, listed = api(laptop, "GET", "/me/sessions")
        phone_id = next(s["id"] for s in listed if not s["isCurrent"])
        time.sleep(6.5)
        response = laptop.post_form("/accounts/devices/", f"/accounts/devices/{phone_id}/sign-out/")
        assert response.status == 302 and "/accounts/reauthenticate/" in response.location
        assert api(laptop, "POST", "/me/sessions/revoke-all") == (
            403,
            {"error": "reauthentication_required"},
        )
        assert api(phone, "GET", "/me/sessions")[0] == 200  # nothing was revoked
    finally:
        server.stop()


def test_a_startproject_host_with_device_bound_sessions(host_venv, tmp_path):
    """Issue 15 in someone else's project: the setting alone, without the extra, stops the
    host at start-up with a clear error (E006); with the wheel's ``[device-bound]`` extra
    it starts, offers a binding at sign-in, and a client without DBSC works as before."""
    project = make_host(
        host_venv, tmp_path / "site", settings=OWN_SIGN_IN_SETTINGS, urls=OWN_SIGN_IN_URLS
    )
    with open(project / "host" / "settings.py", "a") as f:
        f.write("SESSIONS_MGMT_DEVICE_BOUND = True\n")
    check = subprocess.run(
        [host_venv / "bin" / "python", "manage.py", "check"],
        cwd=project,
        env=host_env(host_venv),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode != 0 and "sessions_mgmt.E006" in check.stderr, check.stderr
    (wheel,) = (host_venv.parent / "dist").glob("django_sessions_mgmt-*.whl")
    run(
        host_venv / "bin" / "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        f"{wheel}[device-bound]",
    )
    manage(host_venv, project, "check")
    server = Server(host_venv, project)
    try:
        browser = Browser(server.url, MAC_CHROME)
        response = browser.post_form(
            "/accounts/login/", "/accounts/login/", {"username": "bob", "password": PASSWORD}
        )
        assert response.status == 302
        offer = response.headers.get("Secure-Session-Registration", "")
        assert offer.startswith('(ES256 RS256);path="/accounts/devices/bound/register/"'), offer
        exercise(server)  # browsers without DBSC: everything as before
    finally:
        server.stop()
