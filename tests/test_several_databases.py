"""Several databases: an account change saved to one database ends the sessions of that
database's user only (issue 21 §8; Django's MultiDBChangepasswordManagementCommandTestCase)."""

import pytest
from django.contrib.auth import get_user_model

from sessions_mgmt.models import SessionEvent

from .conftest import is_signed_in

pytestmark = pytest.mark.django_db(databases=["default", "replica"])

OTHER = "replica"  # a second database holding users of its own (no router involved)


@pytest.fixture
def namesake(user):
    """A user in the other database with the same primary key as ``user``."""
    other = get_user_model()(pk=user.pk, username="namesake", email="n@example.com")
    other.set_password("another-password-entirely")
    other.save(using=OTHER)
    return other


def test_a_password_change_in_another_database_signs_no_one_out_here(user, namesake, sign_in):
    laptop = sign_in(user)
    namesake.set_password("yet-another-password-here")
    namesake.save(using=OTHER)
    assert is_signed_in(laptop)
    assert not SessionEvent.objects.filter(type="password_changed").exists()


def test_deactivating_or_deleting_there_signs_no_one_out_here(user, namesake, sign_in):
    laptop = sign_in(user)
    namesake.is_active = False
    namesake.save(using=OTHER)
    assert is_signed_in(laptop)
    namesake.delete(using=OTHER)
    assert is_signed_in(laptop)


def test_the_same_change_here_still_signs_out(user, namesake, sign_in):
    laptop = sign_in(user)
    user.is_active = False
    user.save()
    assert not is_signed_in(laptop)
