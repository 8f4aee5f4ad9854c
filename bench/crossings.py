"""How many times one sign-in crosses a module boundary inside sessions_mgmt (issue 21):
calls from a function of one of the app's modules into a function of another, counted
with ``sys.setprofile`` during the login form POST of a known device, without and with a
session limit. Not a cost (see sign_in.py and instructions.py for that), a measure of how
spread out the rules of a flow are: the lower, the more of the flow's order one module
holds. Prints the count and the busiest module pairs."""

import sys
from collections import Counter
from pathlib import Path

from harness import setup_django

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

import sessions_mgmt  # noqa: E402

APP = str(Path(sessions_mgmt.__file__).resolve().parent)
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
User = get_user_model()
WRAPPER = "/django/views/decorators/debug.py"


def module_of(filename: str) -> str | None:
    """The app's module a code object belongs to (``flows/sign_in``), or None."""
    path = str(Path(filename).resolve())
    if not path.startswith(APP + "/"):
        return None
    return path[len(APP) + 1 : -3]


def sign_in(username: str) -> None:
    client = Client(headers={"user-agent": UA})
    response = client.post("/accounts/login/", {"username": username, "password": "crossings"})
    assert response.status_code == 302, response.status_code


def crossings(username: str) -> Counter:
    """One known-device sign-in of a new account that has one other session (no ending)."""
    User.objects.create_user(username, password="crossings")
    pairs: Counter = Counter()

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = module_of(frame.f_code.co_filename)
        back = frame.f_back
        while back is not None and back.f_code.co_filename.endswith(WRAPPER):
            back = back.f_back  # a call through @sensitive_variables() is still direct
        caller = back and module_of(back.f_code.co_filename)
        if callee and caller and callee != caller:
            pairs[(caller, callee)] += 1

    sign_in(username)  # the device is known from now on (and every import has happened)
    sys.setprofile(profile)
    try:
        sign_in(username)
    finally:
        sys.setprofile(None)
    return pairs


CASES = [
    ("no session limit", {}),
    ("SESSIONS_MGMT_MAX_SESSIONS=3", {"SESSIONS_MGMT_MAX_SESSIONS": 3}),
]


def main() -> None:
    print("## Module crossings inside sessions_mgmt during one sign-in (known device)")
    for n, (label, overrides) in enumerate(CASES):
        with override_settings(**overrides):
            pairs = crossings(f"crossings{n}")
        busiest = ", ".join(f"{a}→{b} {count}" for (a, b), count in pairs.most_common(4))
        print(f"  {label}: {sum(pairs.values())} crossings (busiest: {busiest})")


main()
