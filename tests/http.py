"""A small HTTP client for tests against a live server: its own cookies, no redirects
followed, and the CSRF token handled as a browser's form would."""

import copy
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    body: str
    location: str | None
    headers: dict = field(default_factory=dict)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, base_url: str, user_agent: str, cookie_name: str = "sessionid") -> None:
        self.base_url = base_url
        self.user_agent = user_agent
        self.cookie_name = cookie_name
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def with_headers(self, headers: dict) -> "Browser":
        """This browser, sending ``headers`` with every request (e.g. through a proxy)."""
        self.headers = {**getattr(self, "headers", {}), **headers}
        return self

    def at(self, base_url: str) -> "Browser":
        """The same browser (same cookies) talking to another server of the same site."""
        other = copy.copy(self)
        other.base_url = base_url
        return other

    def request(self, method: str, path: str, data: dict | None = None, headers=None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            method=method,
            headers={
                "User-Agent": self.user_agent,
                "Referer": self.base_url + "/",
                **getattr(self, "headers", {}),
                **(headers or {}),
            },
        )
        try:
            with self.opener.open(request, timeout=30) as raw:
                return Response(
                    raw.status, raw.read().decode(), raw.headers.get("Location"), dict(raw.headers)
                )
        except urllib.error.HTTPError as error:
            return Response(
                error.code,
                error.read().decode(),
                error.headers.get("Location"),
                dict(error.headers),
            )

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def set_cookie(self, name: str, value: str) -> None:
        host = urllib.parse.urlparse(self.base_url).hostname
        self.jar.set_cookie(
            http.cookiejar.Cookie(
                0,
                name,
                value,
                None,
                False,
                host,
                False,
                False,
                "/",
                True,
                False,
                None,
                False,
                None,
                None,
                {},
            )
        )

    @property
    def session_key(self) -> str | None:
        return self.cookie(self.cookie_name)

    def post_form(self, page: str, action: str, data: dict | None = None) -> Response:
        """POST as the form on ``page`` would, with the CSRF token that page renders."""
        html = self.get(page).body
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        return self.request("POST", action, {"csrfmiddlewaretoken": token, **(data or {})})

    def sign_in(self, username: str, password: str) -> None:
        response = self.post_form(
            "/accounts/login/", "/accounts/login/", {"username": username, "password": password}
        )
        assert response.status == 302, f"sign-in failed: {response.status}"

    def signed_in(self) -> bool:
        return self.get("/whoami/").body != ""
