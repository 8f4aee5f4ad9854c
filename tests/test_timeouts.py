"""Server-side idle and absolute timeouts, on a controlled clock (time-machine)."""

from datetime import timedelta
from importlib import import_module

import pytest
import time_machine
from django.utils import timezone

from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, LOGIN_URL, session_key_of, store_has

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def visit(client, url=DEVICES_URL):
    return client.get(url, follow=True)


def test_off_by_default(engine, user, sign_in):
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(days=13), tick=False):
        assert visit(laptop).redirect_chain == []


def test_idle_timeout_ends_the_session_with_a_message(engine, user, sign_in, settings):
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 30 * 60
    laptop = sign_in(user)
    phone = sign_in(user, IPHONE_SAFARI)
    key = session_key_of(laptop)
    start = timezone.now()
    # Active every 20 minutes for two hours: never idle long enough.
    for step in range(1, 7):
        with time_machine.travel(start + timedelta(minutes=20 * step), tick=False):
            assert visit(laptop).redirect_chain == []
            if step == 6:
                assert visit(phone).redirect_chain[-1][0].startswith(LOGIN_URL)
    with time_machine.travel(start + timedelta(minutes=120 + 31), tick=False):
        response = visit(laptop)
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert "You were signed out after 30\xa0minutes without activity." in response.content.decode()
    assert not store_has(key)
    assert not DeviceSession.objects.filter(session_key=key).exists()
    assert visit(laptop).redirect_chain[-1][0].startswith(LOGIN_URL)


def test_absolute_timeout_ends_even_a_busy_session(engine, user, sign_in, settings):
    settings.SESSIONS_MGMT_ABSOLUTE_TIMEOUT = 12 * 3600
    laptop = sign_in(user)
    start = timezone.now()
    for hour in range(1, 12):
        with time_machine.travel(start + timedelta(hours=hour), tick=False):
            assert visit(laptop).redirect_chain == []
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        response = visit(laptop)
        api = laptop.get("/me/sessions")
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert "sessions end 12\xa0hours after signing in" in response.content.decode()
    assert api.status_code == 401


@pytest.mark.parametrize(
    ("preset", "idle", "absolute"),
    [("AAL1", None, timedelta(days=30)), ("AAL2", timedelta(minutes=30), timedelta(hours=12))],
)
def test_presets(settings, preset, idle, absolute):
    from sessions_mgmt.conf import app_settings

    settings.SESSIONS_MGMT_TIMEOUT_PRESET = preset
    expected = tuple(None if d is None else int(d.total_seconds()) for d in (idle, absolute))
    assert app_settings.timeouts() == expected
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 60
    assert app_settings.timeouts()[0] == 60


def test_aal2_preset_signs_out_after_30_idle_minutes(user, sign_in, settings):
    settings.SESSIONS_MGMT_TIMEOUT_PRESET = "AAL2"
    laptop = sign_in(user)
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert visit(laptop).redirect_chain == []
    with time_machine.travel(timezone.now() + timedelta(minutes=29 + 31), tick=False):
        assert visit(laptop).redirect_chain[-1][0].startswith(LOGIN_URL)


def test_timeouts_keep_the_steady_state_free(engine, user, sign_in, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    laptop = sign_in(user)
    laptop.get("/whoami/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert laptop.get("/whoami/").content.decode() == user.username
        return len(ctx.captured_queries)

    without_timeouts = queries()
    settings.SESSIONS_MGMT_ABSOLUTE_TIMEOUT = 12 * 3600
    assert queries() == without_timeouts


def test_an_exact_idle_timeout_costs_one_session_save_and_no_row_write(
    engine, user, sign_in, settings
):
    """Exact idle time needs each request's time: the documented price is the session save
    that SESSION_SAVE_EVERY_REQUEST would make, never a write to the device row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 30 * 60
    laptop = sign_in(user)
    laptop.get("/whoami/")
    with CaptureQueriesContext(connection) as ctx:
        assert laptop.get("/whoami/").content.decode() == user.username
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SELECT")]
    assert not any("sessions_mgmt_devicesession" in sql for sql in writes)
    if engine in ("db", "cached_db"):
        assert any("django_session" in sql and "UPDATE" in sql for sql in writes)


def test_async_views_get_the_same_guard(user, sign_in, settings):
    from asgiref.sync import async_to_sync
    from django.test import RequestFactory

    from sessions_mgmt.timeouts import guard_user

    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 60 * 10
    laptop = sign_in(user)
    request = RequestFactory().get("/")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    request.session = store(laptop.cookies[settings.SESSION_COOKIE_NAME].value)
    guard_user(request)
    assert async_to_sync(request.auser)() == user
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        request.session = store(request.session.session_key)
        guard_user(request)
        assert not async_to_sync(request.auser)().is_authenticated
    assert not DeviceSession.objects.filter(user=user).exists()
