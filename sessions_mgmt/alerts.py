"""New-device sign-in alerts (ASVS 4.0.3 2.2.3, Google's "new sign-in" email).

When someone signs in from a kind of device (browser family, OS, device type) the account
has not used within ``SESSIONS_MGMT_NEW_DEVICE_WINDOW`` days, the user gets an email with
the device, IP, time and a "This wasn't me" link. The link carries the session's public id,
signed and expiring after ``NOT_ME_MAX_AGE``; it can only end that one session, so it holds
no secret, and it works once (the session is gone afterwards). The very first device of an
account gets no alert. ``SESSIONS_MGMT_NEW_DEVICE_ALERTS = False`` turns alerts off.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from . import history
from .conf import app_settings
from .models import DeviceSession, KnownDevice

logger = logging.getLogger(__name__)

NOT_ME_SALT = "sessions_mgmt.not-me"
NOT_ME_MAX_AGE = timedelta(days=7)


#: How long a kind of device counts as seen without asking the database again: its
#: ``last_seen_at`` is written at most once a day per kind, not at every sign-in.
SEEN_FOR = timedelta(days=1)


def _seen_marker(row: DeviceSession) -> str:
    """The cache key that says this user used this kind of device within ``SEEN_FOR``."""
    kind = f"{row.user_id}|{row.browser}|{row.os}|{row.device_type}"
    return "sessions_mgmt:seen:" + hashlib.sha256(kind.encode()).hexdigest()[:32]


def _cache():
    return caches[DEFAULT_CACHE_ALIAS]


def _seen_recently(row: DeviceSession) -> bool:
    try:
        return _cache().get(_seen_marker(row)) is not None
    except Exception as exc:  # a cache that is down costs a query, never the sign-in
        logger.warning("Could not read the known-device marker: %r", exc)
        return False


def _mark_seen(row: DeviceSession) -> None:
    try:
        _cache().set(_seen_marker(row), 1, timeout=int(SEEN_FOR.total_seconds()))
    except Exception as exc:
        logger.warning("Could not write the known-device marker: %r", exc)


def forget_device(row: DeviceSession) -> None:
    """Forget this kind of device for the row's user (the "This wasn't me" link), so that
    the next sign-in from it is new again."""
    KnownDevice.objects.filter(
        user_id=row.user_id, browser=row.browser, os=row.os, device_type=row.device_type
    ).delete()
    try:
        _cache().delete(_seen_marker(row))
    except Exception as exc:  # the session is ended all the same; the marker lasts a day
        logger.error("Could not clear the known-device marker: %r", exc)


def check_new_device(request: HttpRequest, row: DeviceSession) -> Callable[[], None] | None:
    """Remember this kind of device for the user, and say what to do once the sign-in has
    committed: remember it in the cache, and alert the user if it is new. Call it inside
    the sign-in's transaction and the returned function after it commits: a sign-in that
    rolls back sends nothing, and the database is not held while the mail server answers.

    A kind used within the last day costs one cache read and no query (the default cache
    remembers it); otherwise its ``last_seen_at`` is written, so at most once a day.
    """
    if not app_settings.NEW_DEVICE_ALERTS or _seen_recently(row):
        return None
    kind = {"user_id": row.user_id, "browser": row.browser, "os": row.os}
    kind["device_type"] = row.device_type
    cutoff = timezone.now() - timedelta(days=app_settings.NEW_DEVICE_WINDOW)
    if KnownDevice.objects.filter(**kind, last_seen_at__gte=cutoff).update(
        last_seen_at=timezone.now()
    ):
        return partial(_mark_seen, row)
    first_device = not KnownDevice.objects.filter(user_id=row.user_id).exists()
    KnownDevice.objects.update_or_create(**kind, defaults={"last_seen_at": timezone.now()})
    if first_device:
        return partial(_mark_seen, row)
    return partial(_alert, request, row)


def _within_cap(row: DeviceSession) -> tuple[bool, bool]:
    """(whether this account may be mailed another alert this hour, whether it is the last
    one the hour allows: ``SESSIONS_MGMT_NEW_DEVICE_ALERTS_PER_HOUR``). Counted in the
    cache, per account and clock hour; a cache that fails lets the alert through."""
    cap = app_settings.NEW_DEVICE_ALERTS_PER_HOUR
    if cap is None:
        return True, False
    key = f"sessions_mgmt:alerts:{row.user_id}:{int(time.time() // 3600)}"
    try:
        _cache().add(key, 0, 3600)
        count = _cache().incr(key)
    except Exception as exc:
        logger.warning("Could not count the new-device alerts of an account: %r", exc)
        return True, False
    return count <= cap, count == cap


def _alert(request: HttpRequest, row: DeviceSession) -> None:
    _mark_seen(row)
    allowed, last = _within_cap(row)
    if not allowed:  # held back: the sign-in is on Your devices and in the history
        logger.info("New-device alert for session %s held back (hourly cap)", row.public_id)
        return
    try:
        send_alert(request, row, held_back=last)
    except Exception:  # a mail server that is down must not stop the sign-in
        logger.exception("Could not send the new-device alert for session %s", row.public_id)
        return
    history.alert_sent(row)


def not_me_token(row: DeviceSession) -> str:
    return signing.dumps({"p": str(row.public_id), "u": str(row.user_id)}, salt=NOT_ME_SALT)


def session_for_token(token: str) -> DeviceSession | None:
    """The session a "This wasn't me" link names, if the link is genuine, fresh and unused."""
    try:
        data = signing.loads(token, salt=NOT_ME_SALT, max_age=NOT_ME_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    return DeviceSession.objects.filter(public_id=data.get("p"), user_id=data.get("u")).first()


def site_url(request: HttpRequest) -> str:
    """Where the mail's links point: ``SESSIONS_MGMT_SITE_URL`` (``"https://example.com"``).

    Without it, the signing-in request's own scheme and host, which is only safe when
    ``ALLOWED_HOSTS`` names a single host: with several, whoever signs in picks the host
    the owner's click goes to (``check --deploy`` warns, ``sessions_mgmt.W005``). The
    scheme follows ``request.is_secure()``, so ``SECURE_PROXY_SSL_HEADER`` behind a proxy.
    """
    if app_settings.SITE_URL:
        return app_settings.SITE_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"


def send_limit_alert(request: HttpRequest, device: DeviceSession, limit: int) -> None:
    """Tell the owner that a sign-in with their password was refused by the device limit
    (``device``: the row it would have had). Logged, never raised: the refusal stands."""
    try:
        user = get_user_model()._default_manager.get(pk=device.user_id)
        email = getattr(user, user.get_email_field_name(), "")
        if not email:
            return
        base = site_url(request)
        context = {"user": user, "device": device, "limit": limit, "site": urlsplit(base).netloc}
        context["devices_url"] = base + reverse("sessions_mgmt:device_list")
        with translation.override(getattr(user, "language", None) or settings.LANGUAGE_CODE):
            subject = render_to_string("sessions_mgmt/email/limit_refused_subject.txt", context)
            body = render_to_string("sessions_mgmt/email/limit_refused.txt", context)
        EmailMultiAlternatives(" ".join(subject.split()), body, to=[email]).send()
    except Exception:
        logger.exception("Could not send the refused-sign-in alert to user %s", device.user_id)


def send_alert(request: HttpRequest, row: DeviceSession, *, held_back: bool = False) -> None:
    user = get_user_model()._default_manager.get(pk=row.user_id)
    email = getattr(user, user.get_email_field_name(), "")
    if not email:
        return
    base = site_url(request)
    link = base + reverse("sessions_mgmt:not_me", args=[not_me_token(row)])
    context = {"user": user, "device": row, "not_me_url": link, "site": urlsplit(base).netloc}
    # The last mail this hour allows says that further ones are held back, and where to look.
    context["held_back"] = held_back
    context["devices_url"] = base + reverse("sessions_mgmt:device_list")
    # In the account owner's language (a ``language`` attribute of the user, when the
    # project keeps one), else the site's: never the language of whoever signed in.
    with translation.override(getattr(user, "language", None) or settings.LANGUAGE_CODE):
        # A subject is plain text: rendered without HTML escaping ("O'Brien's iPhone").
        subject = render_to_string("sessions_mgmt/email/new_device_subject.txt", context)
        message = EmailMultiAlternatives(
            " ".join(subject.split()),
            render_to_string("sessions_mgmt/email/new_device.txt", context),
            to=[email],
        )
        message.attach_alternative(
            render_to_string("sessions_mgmt/email/new_device.html", context), "text/html"
        )
    message.send()
