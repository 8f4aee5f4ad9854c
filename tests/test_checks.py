import pytest
from django.core.checks import Error

from sessions_mgmt.checks import (
    MIDDLEWARE_PATH,
    check_deployment,
    check_middleware,
    check_session_engine,
    check_settings,
)

AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def ids(errors: list[Error]) -> list[str]:
    return [e.id for e in errors]


def test_supported_engines_pass_and_others_do_not(settings):
    for engine in ("db", "cache", "cached_db", "file"):
        settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
        assert check_session_engine(None) == []
    settings.SESSION_ENGINE = "tests.custom_engines.tenant"  # a subclass of Django's cache
    assert check_session_engine(None) == []
    settings.SESSION_ENGINE = "tests.unknown_engine"  # not Django's: the same check warns
    assert ids(check_session_engine(None)) == ["sessions_mgmt.W004"]


def test_signed_cookies_is_an_error_that_says_why(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    [error] = check_session_engine(None)
    assert error.id == "sessions_mgmt.E001"
    assert "cannot end such a session" in error.msg
    assert "db, cache, cached_db or file" in error.hint


def test_demo_middleware_passes():
    assert check_middleware(None) == []


def test_missing_middleware_is_an_error(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    assert ids(check_middleware(None)) == ["sessions_mgmt.E002"]


def test_middleware_before_authentication_is_an_error(settings):
    rest = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    settings.MIDDLEWARE = [MIDDLEWARE_PATH, *rest]
    assert ids(check_middleware(None)) == ["sessions_mgmt.E003"]


def test_deploy_checks_warn_about_unsafe_session_cookies(settings):
    from sessions_mgmt.checks import check_session_cookie

    settings.SESSION_COOKIE_SECURE = False
    settings.SESSION_COOKIE_HTTPONLY = False
    settings.SESSION_COOKIE_SAMESITE = None
    assert ids(check_session_cookie(None)) == [
        "sessions_mgmt.W001",
        "sessions_mgmt.W002",
        "sessions_mgmt.W003",
    ]
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_HTTPONLY = True
    settings.SESSION_COOKIE_SAMESITE = "Lax"
    assert check_session_cookie(None) == []


def test_url_settings_that_do_not_reverse_are_errors(settings):
    from sessions_mgmt.checks import check_url_settings

    assert check_url_settings(None) == []  # the defaults exist in the demo
    settings.SESSIONS_MGMT_LOGOUT_URL = "account_logout"  # allauth's name, not installed
    settings.SESSIONS_MGMT_PASSWORD_CHANGE_URL = "/accounts/password_change/"  # a path: fine
    [error] = check_url_settings(None)
    assert error.id == "sessions_mgmt.E004"
    assert "SESSIONS_MGMT_LOGOUT_URL" in error.msg


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEOUT_PRESET", "aal2"),  # used to turn timeouts off without a word
        ("TIMEOUT_PRESET", "AAL3"),
        ("IDLE_TIMEOUT", "30m"),  # used to make every request a 500
        ("IDLE_TIMEOUT", -60),
        ("ABSOLUTE_TIMEOUT", 0),
        ("ABSOLUTE_TIMEOUT", 3.5),
        ("REAUTH_WINDOW", True),
        ("TOUCH_INTERVAL", -1),
        ("REVOKE_BATCH_SIZE", 0),
        ("NEW_DEVICE_WINDOW", "90"),
        ("NEW_DEVICE_ALERTS", "no"),
        ("PASSWORD_LIMITS", {"session": 0}),
        ("PASSWORD_LIMITS", {"sesion": 5}),
        ("PASSWORD_LIMITS", 5),
        ("PASSWORD_LIMITS_CACHE", "nowhere"),
        ("SITE_URL", "accounts.example.com"),
        ("SITE_URL", "https://accounts.example.com/app/"),
        ("CLIENT_IP", "X-Forwarded-For"),
        ("DEVICE_BOUND", "true"),
        ("DEVICE_BOUND_COOKIE_AGE", 60),  # Chrome would run out of refreshes
        ("DEVICE_BOUND_COOKIE_NAME", "sessionid"),
        ("DEVICE_BOUND_COOKIE_NAME", "bound; Path=/"),
        ("DEVICE_BOUND_REFUSED", "login"),
    ],
)
def test_settings_the_app_cannot_use_are_errors_at_start_up(settings, name, value):
    setattr(settings, f"SESSIONS_MGMT_{name}", value)
    [error] = check_settings(None)
    assert error.id == "sessions_mgmt.E005"
    assert f"SESSIONS_MGMT_{name}" in error.msg and repr(value) in error.msg


def test_the_lower_case_preset_gets_a_hint(settings):
    settings.SESSIONS_MGMT_TIMEOUT_PRESET = "aal2"
    [error] = check_settings(None)
    assert "Did you mean 'AAL2'?" in error.hint


def test_good_settings_pass(settings):
    settings.SESSIONS_MGMT_TIMEOUT_PRESET = "AAL2"
    settings.SESSIONS_MGMT_IDLE_TIMEOUT = 15 * 60
    settings.SESSIONS_MGMT_REAUTH_WINDOW = None
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = {"session": 3, "window": 600}
    settings.SESSIONS_MGMT_SITE_URL = "https://accounts.example.com"
    settings.SESSIONS_MGMT_CLIENT_IP = {"proxy_count": 1}
    settings.SESSIONS_MGMT_DEVICE_BOUND = True
    settings.SESSIONS_MGMT_DEVICE_BOUND_REFUSED = "sign_in"
    settings.SESSIONS_MGMT_DEVICE_BOUND_COOKIE_AGE = 900
    assert check_settings(None) == []
    settings.SESSIONS_MGMT_PASSWORD_LIMITS = None
    assert check_settings(None) == []


def test_check_deploy_warns_when_wrong_passwords_are_counted_per_process(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert "sessions_mgmt.W005" in ids(check_deployment(None))
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    assert "sessions_mgmt.W005" not in ids(check_deployment(None))


def test_device_bound_sessions_need_their_extra_and_their_urls(settings, monkeypatch):
    import sys

    from sessions_mgmt.checks import check_device_bound

    assert check_device_bound(None) == []  # off: nothing to need
    settings.SESSIONS_MGMT_DEVICE_BOUND = True
    assert check_device_bound(None) == []
    monkeypatch.setitem(sys.modules, "jwt", None)  # not installed
    [error] = check_device_bound(None)
    assert error.id == "sessions_mgmt.E006" and "[device-bound]" in error.hint
    monkeypatch.undo()
    settings.SESSIONS_MGMT_DEVICE_BOUND = True
    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": []})
    [error] = check_device_bound(None)
    assert error.id == "sessions_mgmt.E007"


def test_check_deploy_warns_when_device_bound_sessions_run_without_https(settings):
    from sessions_mgmt.checks import check_deployment

    settings.SESSIONS_MGMT_DEVICE_BOUND = True
    settings.SESSION_COOKIE_SECURE = False
    assert "sessions_mgmt.W007" in [w.id for w in check_deployment(None)]
    settings.SESSION_COOKIE_SECURE = True
    assert "sessions_mgmt.W007" not in [w.id for w in check_deployment(None)]


def test_an_engine_with_keys_longer_than_a_row_holds_stops_start_up(settings):
    settings.SESSION_ENGINE = "tests.custom_engines.wide_keys"
    [error] = check_session_engine(None)
    assert isinstance(error, Error) and error.id == "sessions_mgmt.E008"
    assert "300" in error.msg and "255" in error.msg


def test_check_deploy_warns_behind_a_proxy_without_the_client_address_setting(settings):
    """Behind a TLS-ending proxy every request's address is the proxy's: every person
    shares one wrong-password count per address, and the devices page shows the proxy."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    [warning] = [w for w in check_deployment(None) if w.id == "sessions_mgmt.W008"]
    assert "SESSIONS_MGMT_CLIENT_IP" in warning.hint
    settings.SESSIONS_MGMT_CLIENT_IP = {"proxy_count": 1}
    assert "sessions_mgmt.W008" not in ids(check_deployment(None))
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SESSIONS_MGMT_CLIENT_IP = None
    assert "sessions_mgmt.W008" not in ids(check_deployment(None))
