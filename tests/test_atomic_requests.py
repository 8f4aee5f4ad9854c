"""``ATOMIC_REQUESTS = True`` and transactions that roll back: nothing is ended that the
rollback keeps, and nothing is kept that no browser holds (issue 21 §2)."""

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from sessions_mgmt import services
from sessions_mgmt.models import DeviceSession, SessionEvent
from sessions_mgmt.signals import session_revoked

from .conftest import IPHONE_SAFARI, is_signed_in, session_key_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=[False, True], ids=["autocommit", "ATOMIC_REQUESTS"])
def atomic_requests(request, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", request.param)
    return request.param


def listed(client: Client) -> list[str]:
    return [row["deviceName"] for row in client.get("/me/sessions").json()]


def test_a_view_that_cycles_the_key_and_fails_leaves_the_browser_listed(
    engine, atomic_requests, user, sign_in
):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    phone.raise_request_exception = False
    assert phone.get("/cycle-then-fail/").status_code == 500
    # Whatever the engine kept of the browser's session, the list says the same.
    works = is_signed_in(phone)
    assert ("Safari on iPhone" in listed(laptop)) == works
    if works:  # and it can still be ended from elsewhere
        row = DeviceSession.objects.get(session_key=session_key_of(phone))
        assert laptop.delete(f"/me/sessions/{row.public_id}").status_code == 200
        assert not is_signed_in(phone)


class Abort(Exception):
    pass


def test_a_revoke_that_rolls_back_changes_nothing(engine, user, sign_in):
    phone = sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user)
    heard = []

    def hear(sender, sessions, **kwargs):
        heard.extend(sessions)

    session_revoked.connect(hear, weak=False)
    events = SessionEvent.objects.count()
    try:
        with pytest.raises(Abort), transaction.atomic():
            assert services.revoke_others(user, session_key_of(laptop)) == 1
            raise Abort
    finally:
        session_revoked.disconnect(hear)
    assert heard == [], "a receiver heard of an ending that rolled back"
    assert SessionEvent.objects.count() == events
    assert is_signed_in(phone) and "Safari on iPhone" in listed(laptop)
    # No tombstone or ended cache entry that shows up later.
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=6)):
        assert is_signed_in(phone) and "Safari on iPhone" in listed(laptop)
