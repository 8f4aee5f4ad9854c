"""The Django admin: read-only, key-free, and every revoke goes through the service."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, MAC_CHROME, WINDOWS_FIREFOX, is_signed_in, session_key_of
from .factories import DeviceSessionFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/sessions_mgmt/devicesession/"


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def staff_with(*codenames: str) -> Client:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def test_changelist_shows_sessions_without_keys(admin_client, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI, REMOTE_ADDR="198.51.100.7")
    response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Safari on iPhone" in html and "198.51.100.7" in html and user.username in html
    assert session_key_of(phone) not in html
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    detail = admin_client.get(f"{CHANGELIST}{row.pk}/change/")
    assert detail.status_code == 200
    assert "Safari on iPhone" in detail.content.decode()
    assert session_key_of(phone) not in detail.content.decode()
    assert 'name="session_key"' not in detail.content.decode()


def test_changelist_is_read_only(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    row = DeviceSessionFactory()
    before = DeviceSession.objects.values().get(pk=row.pk)
    admin_client.post(f"{CHANGELIST}{row.pk}/change/", {"device_name": "hacked", "ip": "1.2.3.4"})
    assert DeviceSession.objects.values().get(pk=row.pk) == before


def test_changelist_queries_do_not_grow_with_the_page(admin_client):
    DeviceSessionFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    DeviceSessionFactory.create_batch(30)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(CHANGELIST)
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "query", ["device_type__exact=mobile", "browser=Safari", "os=iOS", "live=yes", "live=no"]
)
def test_filters(admin_client, user, sign_in, query):
    sign_in(user, IPHONE_SAFARI)
    sign_in(user, WINDOWS_FIREFOX)
    html = admin_client.get(f"{CHANGELIST}?{query}").content.decode()
    if query == "live=no":
        assert "Safari on iPhone" not in html and "Firefox on Windows" not in html
    elif query == "live=yes":
        assert "Safari on iPhone" in html and "Firefox on Windows" in html
    else:
        assert "Safari on iPhone" in html and "Firefox on Windows" not in html


@pytest.mark.parametrize("term", ["findme", "findme@example.com", "198.51.100.77"])
def test_search_by_username_email_and_ip(admin_client, sign_in, term):
    sign_in(
        UserFactory(username="findme", email="findme@example.com"),
        IPHONE_SAFARI,
        REMOTE_ADDR="198.51.100.77",
    )
    sign_in(UserFactory(), WINDOWS_FIREFOX, REMOTE_ADDR="192.0.2.1")
    html = admin_client.get(CHANGELIST, {"q": term}).content.decode()
    assert "Safari on iPhone" in html and "Firefox on Windows" not in html


def test_revoke_action_ends_the_real_sessions(admin_client, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    response = admin_client.post(
        CHANGELIST, {"action": "revoke_selected", "_selected_action": [row.pk]}, follow=True
    )
    assert "Revoked 1 session." in response.content.decode()
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)


@pytest.mark.django_db(transaction=True)  # the admin deletes in a transaction: ended at its commit
def test_admin_delete_ends_the_real_sessions(admin_client, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    tablet = sign_in(user, WINDOWS_FIREFOX)
    laptop = sign_in(user, MAC_CHROME)
    phone_row = DeviceSession.objects.get(session_key=session_key_of(phone))
    tablet_row = DeviceSession.objects.get(session_key=session_key_of(tablet))

    response = admin_client.post(
        f"{CHANGELIST}{phone_row.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not is_signed_in(phone)

    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [tablet_row.pk], "post": "yes"},
        follow=True,
    )
    assert "Successfully deleted 1" in response.content.decode()
    assert not is_signed_in(tablet)
    assert is_signed_in(laptop)


def test_staff_without_delete_permission_cannot_revoke(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    viewer = staff_with("view_devicesession")
    page = viewer.get(CHANGELIST)
    assert page.status_code == 200
    assert "revoke_selected" not in page.content.decode()
    for action in ("revoke_selected", "delete_selected"):
        viewer.post(CHANGELIST, {"action": action, "_selected_action": [row.pk], "post": "yes"})
    assert viewer.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert is_signed_in(phone)


def test_user_admin_lists_devices_and_signs_users_out(admin_client, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    other = UserFactory()
    other_laptop = sign_in(other, MAC_CHROME)
    bystander = sign_in(UserFactory(), WINDOWS_FIREFOX)

    html = admin_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert "Safari on iPhone" in html
    assert session_key_of(phone) not in html

    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "sign_out_all_devices", "_selected_action": [user.pk, other.pk]},
        follow=True,
    )
    assert "Revoked 2 sessions." in response.content.decode()
    assert not is_signed_in(phone)
    assert not is_signed_in(other_laptop)
    assert is_signed_in(bystander)


def test_user_admin_action_needs_the_delete_permission(user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    editor = staff_with("view_user", "change_user")
    response = editor.post(
        "/admin/auth/user/",
        {"action": "sign_out_all_devices", "_selected_action": [user.pk]},
        follow=True,
    )
    assert "You do not have permission to sign users out." in response.content.decode()
    assert is_signed_in(phone)


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_store_failure_in_the_admin_is_a_message_not_a_500(
    broken_cache, admin_client, user, sign_in
):
    phone = sign_in(user, IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    for response in (
        admin_client.post(
            CHANGELIST, {"action": "revoke_selected", "_selected_action": [row.pk]}, follow=True
        ),
        admin_client.post(
            CHANGELIST,
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
            follow=True,
        ),
        admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}, follow=True),
    ):
        assert response.status_code == 200
        assert "The session store could not be reached." in response.content.decode()
    assert is_signed_in(phone)
    assert DeviceSession.objects.filter(pk=row.pk).exists()
