from django.core.checks import Error

from sessions_mgmt.checks import MIDDLEWARE_PATH, check_middleware, check_session_engine

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
