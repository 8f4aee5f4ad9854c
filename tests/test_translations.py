"""Issue 11 §7: every string a person reads is translatable; device names and "Local
network" are composed in the reader's language; the alert mail is in the owner's."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation

from sessions_mgmt import location
from sessions_mgmt.devices import describe
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, LOGIN_URL, MAC_CHROME, WINDOWS_FIREFOX
from .factories import PASSWORD

pytestmark = pytest.mark.django_db

PAGES = {
    "de": (
        "Ihre Geräte",
        "Dieses Gerät",
        "Safari auf iPhone",
        "Von allen anderen Geräten abmelden",
    ),
    "fr": (
        "Vos appareils",
        "Cet appareil",
        "Safari sur iPhone",
        "Se déconnecter de tous les autres",
    ),
    "es": (
        "Tus dispositivos",
        "Este dispositivo",
        "Safari en iPhone",
        "Cerrar sesión en todos los",
    ),
}


@pytest.fixture
def locale_middleware(settings):
    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    middleware.insert(at, "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware
    settings.LANGUAGES = [
        ("en", "English"),
        ("de", "Deutsch"),
        ("fr", "Français"),
        ("es", "Español"),
    ]


def sign_in(user, user_agent: str, language: str = "en") -> Client:
    client = Client(headers={"user-agent": user_agent, "accept-language": language})
    response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("language", list(PAGES))
def test_the_page_and_the_api_in_each_language(locale_middleware, user, language):
    sign_in(user, IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME, language)
    html = laptop.get(DEVICES_URL).content.decode()
    for text in PAGES[language]:
        assert text in html, f"{text!r} missing from the {language} page"
    (phone,) = [s for s in laptop.get("/me/sessions").json() if not s["isCurrent"]]
    assert phone["deviceName"] == PAGES[language][2]
    error = Client(headers={"accept-language": language}).get("/me/sessions").json()["error"]
    assert error != "Authentication required: sign in first."


def test_names_are_stored_in_english_and_shown_in_the_readers_language(user, locale_middleware):
    with translation.override("de"):  # whatever language the sign-in request had
        device = describe(WINDOWS_FIREFOX)
    assert device.name == "Firefox on Windows"
    row = DeviceSession(browser="Firefox", os="Windows", device_type="desktop")
    with translation.override("fr"):
        assert row.display_name == "Firefox sur Windows"
    with translation.override("es"):
        assert DeviceSession(browser="", os="", device_type="other").display_name == (
            "Dispositivo desconocido"
        )
        assert location.display(location.LOCAL_NETWORK) == "Red local"
        assert location.display("Berlin, Germany") == "Berlin, Germany"


def test_the_alert_is_in_the_sites_language_not_the_sign_in_requests(
    locale_middleware, user, settings
):
    settings.LANGUAGE_CODE = "fr"
    sign_in(user, MAC_CHROME, "fr")
    mail.outbox.clear()
    sign_in(user, WINDOWS_FIREFOX, "de")  # the intruder's browser asks for German
    (message,) = mail.outbox
    assert message.subject == "Nouvelle connexion à votre compte depuis Firefox sur Windows"
    assert "Si ce n’était pas vous" in message.body


def test_the_alert_follows_the_owners_own_language(locale_middleware, user, settings, monkeypatch):
    """A project that keeps each person's language on the user (a ``language`` attribute)."""
    settings.LANGUAGE_CODE = "en"
    monkeypatch.setattr(type(user), "language", "es", raising=False)
    sign_in(user, MAC_CHROME)
    mail.outbox.clear()
    sign_in(user, WINDOWS_FIREFOX, "de")
    (message,) = mail.outbox
    assert message.subject == "Nuevo inicio de sesión en tu cuenta desde Firefox en Windows"


@pytest.mark.parametrize("language", list(PAGES))
def test_the_catalogues_are_complete_and_compiled(language):
    """Every message has a translation, none is fuzzy, and the shipped .mo is the .po."""
    from pathlib import Path

    import polib

    import sessions_mgmt

    folder = Path(sessions_mgmt.__file__).parent / "locale" / language / "LC_MESSAGES"
    po = polib.pofile(str(folder / "django.po"))
    assert [e.msgid for e in po if not e.translated() and not e.obsolete] == []
    mo = polib.mofile(str(folder / "django.mo"))
    compiled = {(e.msgid, e.msgstr or str(e.msgstr_plural)) for e in mo if e.msgid}
    source = {(e.msgid, e.msgstr or str(e.msgstr_plural)) for e in po.translated_entries()}
    assert compiled == source, "run compilemessages"
