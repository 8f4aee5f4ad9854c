"""Issue 10 §1: staff who may only *view* device sessions must not be able to rebuild a
session key from the admin's answers (blind extraction through query-string lookups)."""

import re
import string

import pytest
from django.conf import settings

from .conftest import session_key_of
from .factories import UserFactory
from .test_admin import CHANGELIST, staff_with

ALPHABET = string.ascii_lowercase + string.digits  # what Django's session keys are made of
USER_CHANGELIST = "/admin/auth/user/"

pytestmark = pytest.mark.django_db


def answer(client, url: str, params: dict) -> tuple[int, int]:
    """What an attacker can observe: the status and how many rows the page reports."""
    response = client.get(url, params)
    counted = re.search(r"(\d+) (?:device session|user)s?\b", response.content.decode())
    return response.status_code, int(counted[1]) if counted else 0


def extract_first_characters(client, url: str, lookup: str, known: str = "") -> str:
    """The blind attack: for each next character, the one whose answer differs."""
    for _ in range(2):
        answers = {c: answer(client, url, {lookup: known + c}) for c in ALPHABET}
        distinct = {a for a in answers.values()}
        if len(distinct) == 1:
            return known
        hits = [c for c, a in answers.items() if a[1] > 0 and a[0] == 200]
        if not hits:
            return known
        known += hits[0]  # with several sessions, follow one branch: enough to show a leak
        continue
    return known


@pytest.mark.parametrize(
    "lookup",
    [
        "session_key__startswith",
        "session_key__istartswith",
        "session_key__contains",
        "session_key__regex",
    ],
)
def test_view_only_staff_cannot_extract_a_superuser_key(sign_in, lookup):
    boss = UserFactory(is_staff=True, is_superuser=True)
    key = session_key_of(sign_in(boss))
    viewer = staff_with("view_devicesession")
    prefix = "^" if lookup.endswith("regex") else ""
    guessed = extract_first_characters(viewer, CHANGELIST, lookup, prefix)
    assert guessed == prefix, f"the admin leaked {guessed!r} of {key[:2]!r}…"
    # The right prefix and a wrong one get the same refusal, before any query.
    right = answer(viewer, CHANGELIST, {lookup: prefix + key[:3]})
    wrong = answer(viewer, CHANGELIST, {lookup: prefix + "zzz"})
    assert right == wrong
    assert right[0] == 400


@pytest.mark.parametrize(
    "lookup",
    [
        "session_key",
        "session_key__gte",
        "session_key__lt",
        "session_key__in",
        "user__device_sessions__session_key__startswith",
    ],
)
def test_every_lookup_on_the_key_is_refused_whatever_the_value(sign_in, lookup):
    key = session_key_of(sign_in(UserFactory()))
    viewer = staff_with("view_devicesession")
    answers = {answer(viewer, CHANGELIST, {lookup: value}) for value in (key, key[:5], "0", "z")}
    assert answers == {(400, 0)}


def test_the_user_admin_cannot_filter_on_a_related_key(admin_client, sign_in):
    key = session_key_of(sign_in(UserFactory()))
    for value in (key[:4], "zzzz"):
        response = admin_client.get(
            USER_CHANGELIST, {"device_sessions__session_key__startswith": value}
        )
        assert response.status_code == 400


def test_ordinary_filters_still_work(sign_in):
    sign_in(UserFactory())
    viewer = staff_with("view_devicesession")
    assert answer(viewer, CHANGELIST, {"device_type__exact": "desktop"}) == (200, 1)
    assert settings.SESSION_COOKIE_NAME not in viewer.get(CHANGELIST).content.decode()
