"""A request in flight when its session is revoked must not write it back (issue 21 §13).

Django's cache engine saves by checking that the entry exists, then writing it; a revoke
that lands between the two used to be undone by the write. Here the revoke is made to land
exactly there, deterministically, instead of by sleeping past it."""

import pytest
from django.core.cache import caches

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession

from .conftest import IPHONE_SAFARI, is_signed_in, session_key_of, store_has

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("engine", ["cache", "cached_db"], indirect=True)
def test_a_revoke_between_the_touchs_check_and_its_write_stays_revoked(
    engine, user, sign_in, settings, monkeypatch
):
    settings.SESSIONS_MGMT_TOUCH_INTERVAL = 0  # every request touches (and saves) it
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    phone_key, laptop_key = session_key_of(phone), session_key_of(laptop)
    row = DeviceSession.objects.get(session_key=phone_key)
    cache_class = type(caches["default"])
    real_set = cache_class.set
    landed = []

    def revoke_then_set(self, key, *args, **kwargs):
        if key.endswith(phone_key) and not landed:
            landed.append(key)  # the save checked the entry: now the revoke lands
            services.revoke(user, row.public_id, current_session_key=laptop_key)
        return real_set(self, key, *args, **kwargs)

    monkeypatch.setattr(cache_class, "set", revoke_then_set)
    phone.get("/whoami/")
    monkeypatch.undo()
    assert landed, "the touch did not save the session"
    assert not store_has(phone_key), "the in-flight save wrote the revoked session back"
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
