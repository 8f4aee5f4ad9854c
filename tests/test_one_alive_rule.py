"""One rule for "this session works", the one Django's auth applies (a user id, a backend,
a matching session auth hash, an active user), for the list, the API, the details page,
revoking and the session limit: a session Django would refuse is neither listed nor counted
(issue 21 §5)."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, LOGIN_URL, WINDOWS_FIREFOX, is_signed_in, session_key_of
from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def listed(client: Client) -> list[str]:
    return [row["deviceName"] for row in client.get("/me/sessions").json()]


def clear(client: Client) -> None:
    """The session is cleared (``session.clear()``) and saved: signed out, in the store."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(client))
    store.load()
    store.clear()
    store.save()


def refuse_by_clearing(user, phone, settings) -> None:
    clear(phone)


def refuse_by_a_quiet_password_change(user, phone, settings) -> None:
    User.objects.filter(pk=user.pk).update(password="md5$x$0123456789abcdef")


def refuse_by_deactivating_quietly(user, phone, settings) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def refuse_by_a_password_change_that_keeps_sessions(user, phone, settings) -> None:
    settings.SESSIONS_MGMT_SIGN_OUT_ON_PASSWORD_CHANGE = False
    user.set_password("a-new-and-long-password")
    user.save()


@pytest.mark.parametrize(
    "refuse",
    [
        refuse_by_clearing,
        refuse_by_a_quiet_password_change,
        refuse_by_deactivating_quietly,
        refuse_by_a_password_change_that_keeps_sessions,
    ],
)
def test_a_session_django_refuses_is_not_listed(engine, user, sign_in, refuse, settings):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    watcher = sign_in(user, WINDOWS_FIREFOX)  # keeps working through every change below
    refuse(user, phone, settings)
    assert not is_signed_in(phone)
    if refuse is refuse_by_clearing:
        assert "Safari on iPhone" not in listed(laptop)
        row = DeviceSession.objects.get(session_key=session_key_of(phone))
        assert laptop.get(f"/me/sessions/{row.public_id}").status_code == 404
        assert laptop.delete(f"/me/sessions/{row.public_id}").status_code == 404
    else:  # every session of the user is refused now; a fresh sign-in lists only itself
        user.refresh_from_db()
        user.is_active = True
        user.set_password(PASSWORD)
        User.objects.filter(pk=user.pk).update(is_active=True, password=user.password)
        fresh = sign_in(user)
        assert listed(fresh) == ["Chrome on macOS"]
    del watcher


def test_deny_new_counts_only_working_sessions(engine, user, sign_in, settings):
    settings.SESSIONS_MGMT_MAX_SESSIONS = 2
    settings.SESSIONS_MGMT_LIMIT_POLICY = "deny_new"
    phone = sign_in(user, IPHONE_SAFARI)
    sign_in(user)
    clear(phone)  # no longer signed in: it must not hold a place
    # (past the minute in which a new row's session may still be empty: signing in)
    DeviceSession.objects.filter(session_key=session_key_of(phone)).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    client = Client(headers={"user-agent": WINDOWS_FIREFOX})
    response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and is_signed_in(client)


def test_pruning_ends_the_rows_of_sessions_django_refuses(engine, user, sign_in):
    from django.core.management import call_command

    phone = sign_in(user, IPHONE_SAFARI)
    bystander = sign_in(UserFactory())
    User.objects.filter(pk=user.pk).update(password="md5$x$0123456789abcdef")
    call_command("revoke_sessions", "--expired")
    assert not DeviceSession.objects.filter(session_key=session_key_of(phone)).exists()
    assert is_signed_in(bystander)
    assert DeviceSession.objects.filter(session_key=session_key_of(bystander)).exists()


@pytest.mark.parametrize("engine", ["file"], indirect=True)
def test_on_the_file_engine_a_session_past_the_apps_expiry_is_not_listed(engine, user, sign_in):
    """The file engine dates a session by its file's mtime, which every save moves; the app
    keeps the real expiry in the session's state ("x") and ends it then. Past it, the
    session is not listed, whatever the file's date says."""
    import time

    from sessions_mgmt.internal.state import read as read_state
    from sessions_mgmt.internal.state import write as write_state

    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(phone))
    state = read_state(store.load())
    write_state(store, {**state, "x": time.time() - 1})  # the app's expiry has passed
    store.save()  # and the file was written just now
    assert listed(laptop) == ["Chrome on macOS"]
    assert not is_signed_in(phone)
