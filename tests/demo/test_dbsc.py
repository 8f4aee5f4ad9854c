"""Issue 15: device-bound sessions in a real browser. Debian's Chromium, driven by
Playwright, with DBSC on (software keys: these machines have no TPM), against the demo
site under uvicorn (ASGI) over HTTPS on 127.0.0.1, with a self-signed P-256 certificate made
by openssl here. Chromium only speaks DBSC over HTTPS, and only when it trusts the
certificate the proper way (``--ignore-certificate-errors-spki-list``, not
``--ignore-certificate-errors``).

Run by `make test` (E2E=1, with the other browser tests).
"""

import base64
import hashlib
import os
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..conftest import CHROMIUM, IPHONE_SAFARI, MAC_CHROME
from ..servers import ROOT, free_port, prepare_database

pytestmark = pytest.mark.browser

BOUND = "sessions_mgmt_bound"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]
DBSC = (
    "--enable-features=DeviceBoundSessions,"
    "EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
)
TIMEOUT = 15  # seconds for anything the browser does on its own (registration, refresh)


class Site:
    def __init__(self, url: str, database: Path, spki: str, log: Path) -> None:
        self.url, self.database, self.spki, self.log = url, database, spki, log

    def refreshes(self) -> list[str]:
        """The status of each refresh the browsers have asked for, from the access log."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [
            line.rsplit('" ', 1)[-1]
            for line in lines
            if "POST /accounts/devices/bound/refresh/" in line
        ]

    def rows(self, username: str) -> list[tuple]:
        """(bound_key, bound_at) of the user's sessions, straight from the database."""
        with sqlite3.connect(self.database) as db:
            return db.execute(
                "SELECT d.bound_key, d.bound_at FROM sessions_mgmt_devicesession d "
                "JOIN auth_user u ON u.id = d.user_id WHERE u.username = ? ORDER BY d.id",
                [username],
            ).fetchall()

    def events(self, username: str) -> list[str]:
        with sqlite3.connect(self.database) as db:
            return [
                kind
                for (kind,) in db.execute(
                    "SELECT e.type FROM sessions_mgmt_sessionevent e "
                    "JOIN auth_user u ON u.id = e.user_id WHERE u.username = ? ORDER BY e.id",
                    [username],
                )
            ]


def _certificate(where: Path) -> tuple[Path, Path, str]:
    """A self-signed P-256 certificate for 127.0.0.1 (openssl), and the base64 SHA-256 of
    its public key, which is what Chromium's SPKI allow-list takes."""
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    public = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key, cert, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", context=context, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("uvicorn did not answer in 30 s")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    where = tmp_path_factory.mktemp("dbsc")
    key, cert, spki = _certificate(where)
    database = where / "db.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "dbsc-browser-test-" + "x" * 40,
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "SESSIONS_MGMT_DEVICE_BOUND": "true",
    }
    env.pop("REDIS_URL", None)
    prepare_database(env)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    process = subprocess.Popen(
        [
            uvicorn, "config.asgi:application", "--host", "127.0.0.1", f"--port={port}",
            f"--ssl-keyfile={key}", f"--ssl-certfile={cert}", "--log-level=info",
        ],
        cwd=ROOT,
        env=env,
        stdout=(where / "access.log").open("wb"),
        stderr=(where / "uvicorn.log").open("wb"),
    )  # fmt: skip
    try:
        _wait_until_up(url, process)
        yield Site(url, database, spki, where / "access.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


def _launch(playwright, site: Site, *, dbsc: bool):
    flags = [*FLAGS, f"--ignore-certificate-errors-spki-list={site.spki}"]
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*flags, DBSC] if dbsc else flags
    )


@pytest.fixture(scope="module")
def chromium(playwright, site):
    browser = _launch(playwright, site, dbsc=True)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def chromium_without_dbsc(playwright, site):
    browser = _launch(playwright, site, dbsc=False)
    yield browser
    browser.close()


class Device:
    def __init__(self, browser, site: Site, user_agent: str = MAC_CHROME) -> None:
        self.context = browser.new_context(base_url=site.url, user_agent=user_agent)
        self.page = self.context.new_page()

    def sign_in(self, username: str) -> None:
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(f"{username}-demo-password")
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/accounts/devices/")

    def cookie(self, name: str) -> str | None:
        return next((c["value"] for c in self.context.cookies() if c["name"] == name), None)

    def wait_for_bound_cookie(self, other_than: str | None = None) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = self.cookie(BOUND)
            if value and value != other_than:
                return value
            time.sleep(0.1)
        raise AssertionError("the browser got no (new) bound cookie")

    def sessions(self):
        """The JSON API, as this browser: (status, body)."""
        response = self.page.goto("/me/sessions")
        return response.status, response.json()


@pytest.fixture
def open_device():
    opened = []

    def _open(browser, site: Site, user_agent: str = MAC_CHROME) -> Device:
        device = Device(browser, site, user_agent)
        opened.append(device)
        return device

    yield _open
    for device in opened:
        device.context.close()


def test_chromium_binds_refreshes_and_a_copied_cookie_is_a_stranger(open_device, chromium, site):
    laptop = open_device(chromium, site)
    laptop.sign_in("bob")
    first = laptop.wait_for_bound_cookie()
    ((key, bound_at),) = site.rows("bob")
    assert '"kty": "EC"' in key and '"crv": "P-256"' in key and bound_at, "the key is stored"
    assert "bound" in site.events("bob")
    status, sessions = laptop.sessions()
    assert status == 200 and sessions[0]["deviceBound"] is True
    assert (
        "Protected: this sign-in only works on this device"
        in laptop.page.goto("/accounts/devices/").text()
    )

    # The bound cookie is gone (as when it runs out): the browser holds the next request,
    # proves its key to the refresh endpoint and gets a new one.
    time.sleep(1.1)  # a new cookie differs from the first once a second has passed
    before = len(site.refreshes())
    laptop.context.clear_cookies(name=BOUND)
    status, _ = laptop.sessions()
    assert status == 200, "the request waited for the refresh"
    assert laptop.wait_for_bound_cookie(other_than=first)
    assert site.refreshes()[before:] == ["403 Forbidden", "200 OK"], "challenge, then proof"

    # The session cookie, copied into another browser that has no key: a stranger there.
    thief = open_device(chromium, site)
    thief.context.add_cookies(
        [c for c in laptop.context.cookies() if c["name"] in ("sessionid", "__Host-sessionid")]
    )
    status, body = thief.sessions()
    assert status == 401 and "error" in body
    thief.page.goto("/accounts/devices/")
    assert "/accounts/login/" in thief.page.url
    # ... and the laptop is still signed in.
    assert laptop.sessions()[0] == 200


def test_revoking_from_another_device_makes_the_next_refresh_fail(open_device, chromium, site):
    laptop = open_device(chromium, site)
    laptop.sign_in("alice")
    laptop.wait_for_bound_cookie()
    phone = open_device(chromium, site, IPHONE_SAFARI)
    phone.sign_in("alice")
    phone.wait_for_bound_cookie()

    page = phone.page
    page.goto("/accounts/devices/")
    page.get_by_role("button", name="Sign out Chrome on macOS").click()
    page.wait_for_url("**/accounts/devices/")

    before = len(site.refreshes())
    laptop.context.clear_cookies(name=BOUND)
    laptop.page.goto("/accounts/devices/")
    assert "/accounts/login/" in laptop.page.url
    time.sleep(1)  # whatever the browser does next, it gets no bound cookie
    assert laptop.cookie(BOUND) is None
    assert site.refreshes()[before:] == ["403 Forbidden"], "one refresh, refused"
    # The browser gives the binding up: later page loads are not held for refreshes.
    laptop.page.goto("/accounts/login/")
    laptop.page.goto("/accounts/login/")
    assert site.refreshes()[before:] == ["403 Forbidden"]
    assert phone.sessions()[0] == 200


def test_a_browser_without_dbsc_keeps_working_unbound(open_device, chromium_without_dbsc, site):
    old = open_device(chromium_without_dbsc, site)
    old.sign_in("bob")
    old.page.goto("/accounts/devices/")
    status, sessions = old.sessions()
    current = next(s for s in sessions if s["isCurrent"])
    assert status == 200 and current["deviceBound"] is False
    assert old.cookie(BOUND) is None
    assert old.page.goto("/accounts/devices/").status == 200
