"""Sessions from before the app was installed, not seen since: every revocation ends them
too, on every engine, without a per-request cost once they can no longer exist; a session
whose sign-in time is unknown counts as signed in before any cutoff (issue 21 §1)."""

from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.test import Client

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, is_signed_in
from .factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_before_the_app(user) -> Client:
    """A browser whose session Django made before sessions_mgmt was installed: signed in,
    with no row and no state of the app's."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    client = Client(headers={"user-agent": IPHONE_SAFARI})
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return client


def revoke_others_on_the_page(user, laptop) -> None:
    laptop.post(f"{DEVICES_URL}sign-out-others/")


def revoke_users_as_the_admin_does(user, laptop) -> None:
    services.revoke_users([user.pk])


def command_user(user, laptop) -> None:
    call_command("revoke_sessions", "--user", user.username)


def command_all(user, laptop) -> None:
    call_command("revoke_sessions", "--all", "--no-input")


def command_signed_in_before(user, laptop) -> None:
    call_command("revoke_sessions", "--signed-in-before", "1h", "--no-input")


@pytest.mark.parametrize(
    "revoke",
    [
        revoke_others_on_the_page,
        revoke_users_as_the_admin_does,
        command_user,
        command_all,
        command_signed_in_before,
    ],
)
def test_every_revocation_ends_sessions_the_app_has_not_seen(engine, user, sign_in, revoke):
    idle = signed_in_before_the_app(user)  # a stolen cookie nobody has used yet
    bystander = signed_in_before_the_app(UserFactory())
    laptop = sign_in(user)
    revoke(user, laptop)
    assert not is_signed_in(idle), "an unseen session survived the revocation"
    whole_site = revoke in (command_all, command_signed_in_before)
    assert is_signed_in(bystander) != whole_site
    assert not DeviceSession.objects.filter(user=user, device_name__contains="iPhone").exists()


def test_an_unseen_session_nobody_revoked_keeps_working_and_is_adopted(engine, user, sign_in):
    old = signed_in_before_the_app(user)
    laptop = sign_in(user)
    other = UserFactory()
    services.revoke_users([other.pk])  # someone else's revocation
    assert is_signed_in(old)
    assert len(laptop.get("/me/sessions").json()) == 2


def test_an_adopted_session_counts_as_signed_in_before_any_cutoff(engine, user, sign_in):
    """Adopted on its first request after the app came, its sign-in time is still unknown:
    an incident cutoff earlier than the adoption covers it too."""
    old = signed_in_before_the_app(user)
    assert is_signed_in(old)  # seen: adopted, listed
    laptop = sign_in(user)
    assert len(laptop.get("/me/sessions").json()) == 2
    call_command("revoke_sessions", "--signed-in-before", "1h", "--no-input")
    assert not is_signed_in(old)
    assert is_signed_in(laptop)
