"""Sign-in, key cycles, sign-out and adoption each leave exactly the right rows."""

from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, is_signed_in, session_key_of, store_has
from .factories import PASSWORD, UserFactory, store_session

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def store_has_any(keys: list[str]) -> bool:
    return any(store_has(key) for key in keys)


def keys_of(user) -> list[str]:
    return list(DeviceSession.objects.filter(user=user).values_list("session_key", flat=True))


def test_sign_in_creates_one_row_describing_the_device(engine, user, sign_in):
    before = timezone.now()
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="2001:db8::1")
    row = DeviceSession.objects.get(user=user)
    assert row.session_key == session_key_of(phone)
    assert (row.device_name, row.browser, row.os, row.device_type) == (
        "Safari on iPhone",
        "Safari",
        "iOS",
        "mobile",
    )
    assert row.ip == "2001:db8::1"
    assert row.user_agent == IPHONE_SAFARI
    assert before <= row.created_at == row.last_active_at <= timezone.now()
    expected_expiry = before + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(row.expires_at - expected_expiry) < timedelta(seconds=5)
    assert row.public_id.hex not in row.session_key


def test_signing_in_again_in_the_same_browser_replaces_its_row(engine, user, sign_in):
    laptop = sign_in(user)
    first = DeviceSession.objects.get(user=user)
    laptop.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert keys_of(user) == [session_key_of(laptop)]
    assert DeviceSession.objects.get(user=user).public_id != first.public_id
    assert is_signed_in(laptop)


def test_another_user_signing_in_in_the_same_browser_drops_the_first_row(engine, user, sign_in):
    laptop = sign_in(user)
    other = UserFactory()
    laptop.post("/accounts/login/", {"username": other.username, "password": PASSWORD})
    assert keys_of(user) == []
    assert keys_of(other) == [session_key_of(laptop)]


@pytest.mark.parametrize("how", ["password_change", "cycle_key"])
def test_the_row_follows_a_cycled_key(engine, user, sign_in, how):
    laptop = sign_in(user)
    row = DeviceSession.objects.get(user=user)
    if how == "password_change":
        new = "n3w-Passw0rd!"
        response = laptop.post(
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302
    else:
        assert laptop.get("/cycle/").status_code == 200
    new_key = session_key_of(laptop)
    assert new_key != row.session_key
    assert keys_of(user) == [new_key]
    assert DeviceSession.objects.get(user=user).public_id == row.public_id
    assert is_signed_in(laptop)


def test_sign_out_removes_the_row_and_the_session(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    laptop.post("/accounts/logout/")
    assert keys_of(user) == [session_key_of(phone)]
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)


def test_a_session_from_before_the_app_is_adopted(engine, user):
    client = Client(headers={"user-agent": MAC_CHROME})
    key = store_session(user)  # signed in, but no row and no tracking state
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get("/whoami/").content.decode() == user.username
    row = DeviceSession.objects.get(user=user)
    assert (row.session_key, row.device_name) == (key, "Chrome on macOS")
    # Adopted once: further requests add no row.
    client.get("/whoami/")
    assert keys_of(user) == [key]


def test_adopted_session_is_this_device_on_its_first_visit(engine, user):
    client = Client(headers={"user-agent": MAC_CHROME})
    client.cookies[settings.SESSION_COOKIE_NAME] = store_session(user)
    html = client.get("/accounts/devices/").content.decode()
    assert html.count("This device") == 1
    assert "Chrome on macOS" in html


def test_a_session_whose_row_vanished_is_ended_at_the_next_touch(engine, user, sign_in):
    laptop = sign_in(user)
    DeviceSession.objects.filter(user=user).delete_rows()  # row gone, store session not
    assert laptop.get("/whoami/").content.decode() == user.username  # inside the interval
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        laptop.get("/whoami/")  # the touch finds no row and ends the session
        assert laptop.get("/whoami/").content.decode() == ""
    assert keys_of(user) == []


def test_a_touch_is_listed_from_the_session_and_written_to_the_row_only_in_bulk(
    engine, user, sign_in
):
    laptop = sign_in(user, REMOTE_ADDR="192.0.2.1")
    row = DeviceSession.objects.get(user=user)
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        laptop.get("/whoami/", REMOTE_ADDR="192.0.2.99")
        (listed,) = laptop.get("/me/sessions", REMOTE_ADDR="192.0.2.99").json()
    # The page, API and admin read the session: the touch's time and IP are shown...
    assert datetime.fromisoformat(listed["lastActiveAt"]) == later
    assert listed["ip"] == "192.0.2.99"
    # ... and a touch is the app's bookkeeping: the session still ends when it would have.
    expected_expiry = row.created_at + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(datetime.fromisoformat(listed["expiresAt"]) - expected_expiry) < timedelta(seconds=1)
    # The touch wrote nothing to the row: its copy is as at sign-in...
    copy = DeviceSession.objects.get(pk=row.pk)
    assert (copy.last_active_at, copy.ip, copy.expires_at) == (
        row.last_active_at,
        "192.0.2.1",
        row.expires_at,
    )
    # ... until the pruning job brings the copies up to date, in bulk.
    call_command("revoke_sessions", "--expired", stdout=StringIO())
    copy.refresh_from_db()
    assert (copy.last_active_at, copy.ip) == (later, "192.0.2.99")
    assert abs(copy.expires_at - expected_expiry) < timedelta(seconds=1)


def test_password_changed_elsewhere_drops_the_stale_row(engine, user, sign_in, settings):
    settings.SESSIONS_MGMT_SIGN_OUT_ON_PASSWORD_CHANGE = False
    phone = sign_in(user, IPHONE_SAFARI)
    user.set_password("changed-elsewhere-1")
    user.save()
    # Django's hash check flushes the phone's session on its next request; the row goes too.
    assert phone.get("/whoami/").content.decode() == ""
    assert keys_of(user) == []


def test_changing_the_password_signs_out_every_other_session(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    tablet = sign_in(user, MAC_CHROME)
    bystander = sign_in(UserFactory(), MAC_CHROME)
    laptop = sign_in(user)
    new = "n3w-Passw0rd!"
    response = laptop.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert keys_of(user) == [session_key_of(laptop)]
    assert not store_has_any([session_key_of(phone), session_key_of(tablet)])
    assert is_signed_in(laptop) and is_signed_in(bystander)
    assert not is_signed_in(phone) and not is_signed_in(tablet)


def test_a_password_set_outside_any_session_signs_out_everything(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    user.set_password("reset-by-email-1")
    user.save()
    assert keys_of(user) == []
    assert not store_has_any([session_key_of(phone), session_key_of(laptop)])


def test_a_password_reset_by_email_signs_out_every_session(engine, user, sign_in):
    import re

    from django.core import mail

    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    mail.outbox.clear()
    visitor = Client()
    visitor.post("/accounts/password_reset/", {"email": user.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form = visitor.get(link, follow=True)
    new = "Reset-Passw0rd-9"
    done = visitor.post(
        form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True
    )
    assert done.status_code == 200 and "Password reset complete" in done.content.decode()
    assert keys_of(user) == []
    assert not is_signed_in(phone) and not is_signed_in(laptop)


def test_a_session_tracked_by_the_previous_version_keeps_working(engine, user, settings):
    """Upgrading: a session whose state is the old dict (under the old key) is still
    tracked, and moves to the new form at its next touch."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from sessions_mgmt.internal.state import LEGACY_STATE_KEY, STATE_KEY
    from sessions_mgmt.models import DeviceSession

    row = DeviceSession.objects.create(
        user=user, session_key="k" * 32, expires_at=timezone.now() + timedelta(days=14)
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    then = timezone.now().timestamp() - 120
    store[LEGACY_STATE_KEY] = {"id": row.pk, "t": then, "s": then, "ip": "192.0.2.1", "ua": 0}
    store.save()
    DeviceSession.objects.filter(pk=row.pk).update(session_key=store.session_key)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    assert client.get("/whoami/").content.decode() == user.get_username()
    data = import_module(settings.SESSION_ENGINE).SessionStore(store.session_key).load()
    assert LEGACY_STATE_KEY not in data and isinstance(data[STATE_KEY], str)
    assert DeviceSession.objects.get(pk=row.pk).last_active_at > timezone.now() - timedelta(
        seconds=5
    )
