"""Issue 22 §8: ``manage.py create_demo_users`` (run by every ``make run``) creates the
demo users who are missing and leaves the others alone: a re-run does not reset alice's
password, so her sessions survive it, and a new account's history does not begin with
"Password changed". Run with the demo's settings (config.settings)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.management.commands.create_demo_users import DEMO_USERS
from sessions_mgmt.history import events_of
from sessions_mgmt.models import DeviceSession, SessionEvent

from ..conftest import DEVICES_URL, LOGIN_URL, is_signed_in, session_key_of

pytestmark = pytest.mark.django_db

PASSWORDS = {username: password for username, password, _ in DEMO_USERS}


def create_demo_users() -> str:
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    return out.getvalue()


def sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post(LOGIN_URL, {"username": username, "password": password})
    assert response.status_code == 302, "sign-in failed"
    return client


def test_a_re_run_keeps_alice_signed_in_and_listed():
    create_demo_users()
    laptop = sign_in("alice", PASSWORDS["alice"])
    key = session_key_of(laptop)

    create_demo_users()  # make run, again

    assert is_signed_in(laptop)
    assert session_key_of(laptop) == key
    alice = get_user_model().objects.get(username="alice")
    assert DeviceSession.objects.filter(user=alice, session_key=key).exists()
    page = laptop.get(DEVICES_URL).content.decode()
    assert page.count("device--current") == 1  # listed, as this device
    # Nothing in her history says she was signed out or her password changed.
    types = {event.type for event in events_of(alice)}
    assert SessionEvent.Type.PASSWORD_CHANGED not in types


def test_a_re_run_leaves_a_changed_password_and_the_flags_alone():
    create_demo_users()
    alice = get_user_model().objects.get(username="alice")
    alice.set_password("alice-chose-her-own")
    alice.save()

    output = create_demo_users()

    alice.refresh_from_db()
    assert alice.check_password("alice-chose-her-own")
    assert alice.is_staff and alice.is_superuser
    assert "alice" in output and "already exists" in output


def test_a_fresh_demo_account_history_does_not_begin_with_password_changed():
    create_demo_users()
    for username, password, staff in DEMO_USERS:
        user = get_user_model().objects.get(username=username)
        assert user.check_password(password)
        assert user.is_staff is staff and user.is_superuser is staff
        assert user.email == f"{username}@example.com"
        assert not events_of(user).filter(type=SessionEvent.Type.PASSWORD_CHANGED).exists()
    # Her first sign-in is the first thing her history says.
    sign_in("alice", PASSWORDS["alice"])
    alice = get_user_model().objects.get(username="alice")
    assert [event.type for event in events_of(alice)] == [SessionEvent.Type.SIGNED_IN]


def test_a_missing_demo_user_is_created_beside_an_existing_one():
    create_demo_users()
    get_user_model().objects.filter(username="bob").delete()
    laptop = sign_in("alice", PASSWORDS["alice"])

    output = create_demo_users()

    assert is_signed_in(laptop)
    bob = get_user_model().objects.get(username="bob")
    assert bob.check_password(PASSWORDS["bob"])
    assert f"password: {PASSWORDS['bob']}" in output
