"""Issue 10 §7: edge paths that signed people out or answered 500 — a hash upgrade while
confirming the password, the session store down during a password change or a
deactivation, and errors inside the API that were not JSON."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import OperationalError
from django.utils import timezone

from sessions_mgmt import services, signals
from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, session_key_of, store_has
from .factories import PASSWORD
from .test_api import LIST, assert_json_error, csrf_client
from .test_reauth import reauthenticate

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

User = get_user_model()
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"


def whoami(client) -> str:
    return client.get("/whoami/").content.decode()


@pytest.fixture
def reasons():
    seen = []

    def record(sender, sessions, reason, **kwargs):
        seen.append(reason)

    signals.session_revoked.connect(record, dispatch_uid="test-reasons")
    yield seen
    signals.session_revoked.disconnect(dispatch_uid="test-reasons")


@pytest.mark.parametrize("how", ["page", "api"])
def test_confirming_while_django_upgrades_the_hash_keeps_this_session(
    engine, user, sign_in, settings, reasons, how
):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    old_hash = User.objects.get(pk=user.pk).password
    # A Django upgrade: a new preferred hasher; the stored MD5 hash gets re-encoded.
    settings.PASSWORD_HASHERS = [PBKDF2, MD5]
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        if how == "api":
            client, token = csrf_client(laptop)
            response = client.post(
                "/me/reauthenticate",
                {"password": PASSWORD},
                content_type="application/json",
                headers={"x-csrftoken": token},
            )
            assert response.status_code == 200
        else:
            response = laptop.post("/sensitive/", {"sessions_mgmt_password": PASSWORD})
            assert response.content.decode() == "sensitive"
        assert User.objects.get(pk=user.pk).password != old_hash, "the hash was not upgraded"
        assert whoami(laptop) == user.username, "the confirming session was signed out"
        assert whoami(laptop) == user.username
        listed = laptop.get(LIST).json()
        # Django's own check refuses the other session now (it is tied to the old hash):
        # it is not listed, and it does not work.
        assert [s["isCurrent"] for s in listed] == [True]
        assert whoami(phone) == ""
    assert services.PASSWORD_CHANGE not in reasons
    assert reasons == [services.PASSWORD_REHASHED]


def test_a_real_password_change_is_still_reported_as_one(engine, user, sign_in, reasons):
    sign_in(user, IPHONE_SAFARI)
    user.set_password("another-long-password")
    user.save()
    assert reasons == [services.PASSWORD_CHANGE]


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_a_password_change_with_the_store_down_is_saved_without_a_500(
    engine, user, sign_in, broken_cache, caplog
):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    with caplog.at_level(logging.ERROR, logger="sessions_mgmt.services"):
        response = laptop.post(
            "/accounts/password_change/",
            {
                "old_password": PASSWORD,
                "new_password1": "a-brand-new-long-password",
                "new_password2": "a-brand-new-long-password",
            },
        )
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).check_password("a-brand-new-long-password")
    assert "The session store failed" in caplog.text
    assert whoami(laptop) == user.username
    assert whoami(phone) == ""  # Django's hash check: the old password's session is dead
    assert [s["isCurrent"] for s in laptop.get(LIST).json()] == [True]


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_a_deactivation_with_the_store_down_is_saved_and_no_session_works(
    engine, user, sign_in, broken_cache, admin_client
):
    phone = sign_in(user, IPHONE_SAFARI)
    response = admin_client.post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": []}
    )  # a warm-up: the admin works with the store down
    assert response.status_code in (200, 302)
    user.is_active = False
    user.save()  # no exception escapes
    assert not DeviceSession.objects.filter(user=user).exists()
    assert whoami(phone) == ""


class SessionEndsMeanwhileBackend(ModelBackend):
    """Checks passwords as usual, but another device ends this session meanwhile, as a
    concurrent "sign out of all other devices" would."""

    def authenticate(self, request, **credentials):
        user = super().authenticate(request, **credentials)
        if request is not None and user is not None:
            services.end_sessions(
                DeviceSession.objects.filter(session_key=request.session.session_key),
                reason=services.OTHER_DEVICES,
            )
        return user


def test_a_session_ended_during_an_api_call_is_answered_in_json(user, sign_in, settings):
    laptop = sign_in(user)
    settings.AUTHENTICATION_BACKENDS = [
        f"{__name__}.SessionEndsMeanwhileBackend",
        "sessions_mgmt.backends.ThrottledModelBackend",
    ]
    key = session_key_of(laptop)
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        response = reauthenticate(laptop, PASSWORD)
    body = assert_json_error(response, 401)
    assert "ended" in body["error"]
    assert not store_has(key)
    assert laptop.get(LIST).status_code == 401


def test_a_locked_database_is_a_json_503_with_retry_after(user, sign_in, monkeypatch):
    laptop = sign_in(user)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "list_devices", locked)
    response = laptop.get(LIST)
    assert_json_error(response, 503)
    assert int(response["Retry-After"]) > 0


def test_loading_users_costs_nothing_and_only_saves_that_may_write_the_password_query(
    user, django_assert_num_queries
):
    """Every signed-in request loads its user: the app keeps no receiver on that (issue 14
    §2). A save that may write the password reads the stored hash first (one query); one
    that cannot (Django's sign-in saves ``last_login`` alone) reads nothing."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_init

    User = get_user_model()
    ours = [r for r in post_init._live_receivers(User)[0] if "sessions_mgmt" in r.__module__]
    assert ours == []
    with django_assert_num_queries(1):
        user.save(update_fields=["last_login"])
    with django_assert_num_queries(2):
        user.save()
