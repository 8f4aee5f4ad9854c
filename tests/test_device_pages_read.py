"""Issue 22 §4: the pages read like GitHub's and Google's device pages.

Each device leads with what people recognise (the device, where when known, when last
active); the IP address and the expiry are on the device's own page; dates and times are
written one way (the language's ``DATETIME_FORMAT``, with the time zone); a session without
"Remember me" ends when the browser closes, and says so; labels don't repeat their values;
"Change your password" is the next step (primary), not a danger; and the command counts in
the singular when it should ("1 user").
"""

import re
from datetime import timedelta
from html import unescape
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django.utils.formats import date_format

from sessions_mgmt.alerts import not_me_token
from sessions_mgmt.models import DeviceSession

from .conftest import DEVICES_URL, IPHONE_SAFARI, MAC_CHROME, session_key_of
from .factories import DeviceSessionFactory, UserFactory
from .test_expiry import sign_in_form

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def card_of(html: str, name: str) -> str:
    """The ``<li class="device">`` of the device called ``name``."""
    cards = re.findall(r'<li class="device[ "].*?</li>', html, re.S)
    (card,) = [card for card in cards if f">{name}</a>" in card]
    return card


def details(html: str) -> dict[str, str]:
    """The device page's labels and their values, as text."""
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", html, re.S)
    return {text(label): text(value) for label, value in pairs}


def test_each_device_leads_with_device_place_and_last_active_ip_and_expiry_on_its_page(user):
    sign_in_form(user, remember=True, user_agent=IPHONE_SAFARI)
    laptop = sign_in_form(user, remember=True)
    phone = DeviceSession.objects.get(device_name="Safari on iPhone")
    DeviceSession.objects.filter(pk=phone.pk).update(location="Lyon, France")
    html = laptop.get(DEVICES_URL).content.decode()

    card = text(card_of(html, "Safari on iPhone"))
    assert card.startswith("Safari on iPhone Lyon")
    assert "Active now" in card
    assert "127.0.0.1" not in card, "the IP address is the device page's detail"
    assert "Expires" not in card and "Ends" not in card, "so is the expiry"
    assert "Signed in" not in card

    page = laptop.get(f"{DEVICES_URL}{phone.public_id}/").content.decode()
    shown = details(page)
    assert shown["Last seen from"].startswith("127.0.0.1")
    assert shown["Expiry"].startswith("Ends in 4 weeks")


def test_another_devices_session_without_remember_me_says_so_too(user):
    """Seen from another device, the state the session keeps says how it ends."""
    phone = sign_in_form(user, remember=False, user_agent=IPHONE_SAFARI)
    laptop = sign_in_form(user, remember=True)
    row = DeviceSession.objects.get(session_key=session_key_of(phone))
    shown = details(laptop.get(f"{DEVICES_URL}{row.public_id}/").content.decode())
    assert shown["Expiry"] == "Ends when its browser closes"


def test_labels_do_not_repeat_their_values(user):
    sign_in_form(user, remember=True, user_agent=IPHONE_SAFARI)
    laptop = sign_in_form(user, remember=True)
    for row in DeviceSession.objects.all():
        shown = details(laptop.get(f"{DEVICES_URL}{row.public_id}/").content.decode())
        assert len(shown) >= 6 and "Last active" in shown
        for label, value in shown.items():
            words = {w for w in re.findall(r"\w{4,}", label.lower())}
            repeated = words & set(re.findall(r"\w+", value.lower()))
            assert not repeated, f"{label}: {value}"


def test_a_session_without_remember_me_ends_when_the_browser_closes(user):
    laptop = sign_in_form(user, remember=False)
    row = DeviceSession.objects.get(session_key=session_key_of(laptop))
    shown = details(laptop.get(f"{DEVICES_URL}{row.public_id}/").content.decode())
    assert shown["Expiry"] == "Ends when you close the browser"

    remembered = sign_in_form(user, remember=True, user_agent=IPHONE_SAFARI)
    row = DeviceSession.objects.get(session_key=session_key_of(remembered))
    shown = details(remembered.get(f"{DEVICES_URL}{row.public_id}/").content.decode())
    assert shown["Expiry"].startswith("Ends in 4 weeks")


@pytest.mark.parametrize(
    ("time_zone", "zone_names"), [("UTC", {"UTC"}), ("Europe/Paris", {"CET", "CEST"})]
)
def test_dates_are_written_one_way_localised_and_with_the_time_zone(
    user, settings, time_zone, zone_names
):
    settings.TIME_ZONE = time_zone
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        laptop = sign_in_form(user, remember=True)
    row = DeviceSession.objects.get(session_key=session_key_of(laptop))
    page = laptop.get(f"{DEVICES_URL}{row.public_id}/").content.decode()
    local = timezone.localtime(row.created_at)
    written = date_format(local, "DATETIME_FORMAT")
    signed_in = details(page)["Signed in"]
    assert signed_in.startswith(written), signed_in
    assert signed_in.removeprefix(written).strip() in zone_names
    # Every date the pages write in full (a <time>'s text or its title) is written so.
    for where in (DEVICES_URL, f"{DEVICES_URL}{row.public_id}/", f"{DEVICES_URL}activity/"):
        html = laptop.get(where).content.decode()
        titles = re.findall(r'<time [^>]*title="([^"]+)"', html)
        assert titles, where
        for title in titles:
            assert unescape(title).split()[-1] in zone_names, (where, title)
        assert not re.search(r">\d{1,2} \w{3} \d{4}<", html), "a second date format"


def test_change_your_password_is_the_next_step_not_a_danger(user, sign_in):
    phone = DeviceSessionFactory(user=user, user_agent=IPHONE_SAFARI)
    html = sign_in(user).post(f"{DEVICES_URL}not-me/{not_me_token(phone)}/").content.decode()
    (link,) = re.findall(r'<a class="([^"]*)"[^>]*>Change your password</a>', html)
    assert "button--primary" in link.split() and "button--danger" not in link.split()


def test_the_confirmation_form_uses_the_apps_form_styles(user, sign_in, settings):
    settings.SESSIONS_MGMT_REAUTH_WINDOW = 60
    phone = DeviceSessionFactory(user=user, user_agent=IPHONE_SAFARI)
    laptop = sign_in(user, MAC_CHROME)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        html = laptop.post(
            f"{DEVICES_URL}{phone.public_id}/sign-out/", {"sessions_mgmt_password": "wrong"}
        ).content.decode()
    assert 'class="form__field"' in html and 'class="errorlist"' in html
    assert re.search(r'<button type="submit" class="button button--primary">\s*Confirm', html)
    css = (
        Path(__file__).parent.parent / "sessions_mgmt/static/sessions_mgmt/sessions_mgmt.css"
    ).read_text()
    for selector in (".sessions-mgmt .form__field", ".sessions-mgmt .errorlist"):
        assert selector in css, f"{selector} is styled only by the demo"


def test_the_command_counts_one_user_in_the_singular():
    alice = UserFactory(username="alice")
    DeviceSessionFactory.create_batch(2, user=alice)
    out = StringIO()
    call_command("revoke_sessions", "--user", "alice", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Would revoke 2 sessions of 1 user. (dry run)"
    out = StringIO()
    call_command("revoke_sessions", "--user", "alice", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "Revoked 2 sessions of 1 user."
    DeviceSessionFactory(user=alice)
    out = StringIO()
    call_command("revoke_sessions", "--user", "alice", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "Revoked 1 session of 1 user."
