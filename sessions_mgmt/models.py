"""One row per signed-in session, linked to Django's session store by its key."""

import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .devices import BOT, DESKTOP, MOBILE, OTHER, TABLET, USER_AGENT_MAX_LENGTH, compose_name
from .location import display as display_location

#: Sent by the ORM's delete paths of ``DeviceSession`` (``QuerySet.delete()``,
#: ``Model.delete()``) with the queryset to end: the app's one door that ends sessions
#: receives it (``receivers.py``), so that models import nothing above them and a deleted
#: row never leaves its session working. Internal: not part of the public API.
ending_requested = Signal()


def _end(queryset) -> int:
    """Have the door end the sessions of ``queryset``; refuse if nothing is wired to it
    (the app is not ready): deleting only rows would hide working sessions."""
    answers = ending_requested.send(sender=DeviceSession, queryset=queryset)
    if not answers:
        raise ImproperlyConfigured("sessions_mgmt is not ready: add it to INSTALLED_APPS.")
    return answers[0][1]


#: The longest session key a row holds.
KEY_MAX_LENGTH = 255


class DeviceSessionQuerySet(models.QuerySet):
    def live(self) -> "DeviceSessionQuerySet":
        """Rows whose copy of the expiry has not passed (the copy lags while the pruning
        job has not run: ``services.list_devices`` asks the store itself)."""
        return self.filter(expires_at__gt=timezone.now())

    def delete(self):
        """Delete the rows *and* end their sessions, so no deletion leaves a live cookie:
        the one door that ends sessions does it (wired to ``ending_requested``)."""
        count = _end(self)
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True

    def delete_rows(self):
        """Delete only the rows, for callers that have already ended the store sessions."""
        return super().delete()

    delete_rows.alters_data = True
    delete_rows.queryset_only = True


class DeviceSession(models.Model):
    class DeviceType(models.TextChoices):
        DESKTOP = DESKTOP, _("Desktop")
        MOBILE = MOBILE, _("Mobile")
        TABLET = TABLET, _("Tablet")
        BOT = BOT, _("Bot")
        OTHER = OTHER, _("Other")

    # Indexed by ``sessions_mg_user_active`` (user first), so no index of its own.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="device_sessions",
        verbose_name=_("user"),
        db_index=False,
    )
    # The key in the session store: a bearer credential, never shown anywhere. Unique by a
    # constraint, not ``unique=True``, which on PostgreSQL adds a second (LIKE) index that
    # nothing uses: every index is paid for at every sign-in.
    # 255, not Django's 40: engines a project writes may use longer keys (checks.E008 stops
    # start-up for a database engine whose own key column is longer still).
    session_key = models.CharField(_("session key"), max_length=KEY_MAX_LENGTH, editable=False)
    # What URLs, HTML and JSON show instead: random, so it reveals neither key nor count.
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user_agent = models.CharField(_("user agent"), max_length=USER_AGENT_MAX_LENGTH, blank=True)
    browser = models.CharField(_("browser"), max_length=100, blank=True)
    os = models.CharField(_("operating system"), max_length=100, blank=True)
    device_type = models.CharField(
        _("device type"), max_length=10, choices=DeviceType.choices, default=DeviceType.OTHER
    )
    device_name = models.CharField(_("device"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # Filled only with the geo extra (see location.py).
    location = models.CharField(_("location"), max_length=100, blank=True)
    # Where it signed in (``ip`` and ``location`` follow it as it moves).
    first_ip = models.GenericIPAddressField(_("IP address at sign-in"), null=True, blank=True)
    first_location = models.CharField(_("location at sign-in"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("signed in"), default=timezone.now)
    # False for a session adopted from before the app: ``created_at`` is then its adoption,
    # and it counts as signed in before any cutoff (``revoke_sessions --signed-in-before``).
    sign_in_known = models.BooleanField(_("sign-in time known"), default=True)
    last_active_at = models.DateTimeField(_("last active"), default=timezone.now)
    # A copy (the session's own expiry decides), so not indexed.
    expires_at = models.DateTimeField(_("expires"))
    # Device-bound sessions (binding.py): the public key (a JWK) the browser proved at
    # registration, which every refresh must be signed with, and when.
    bound_key = models.JSONField(_("device key"), null=True, blank=True, editable=False)
    bound_at = models.DateTimeField(_("bound to its device"), null=True, blank=True)

    objects = DeviceSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("device session")
        verbose_name_plural = _("device sessions")
        ordering = ["-last_active_at"]
        indexes = [models.Index(fields=["user", "-last_active_at"], name="sessions_mg_user_active")]
        constraints = [
            models.UniqueConstraint(fields=["session_key"], name="sessions_mgmt_session_key")
        ]

    def __str__(self) -> str:
        return self.device_name or str(self.public_id)

    def delete(self, using=None, keep_parents=False):
        """Delete the row and end its session in the store (see the queryset's delete)."""
        count = _end(type(self).objects.filter(pk=self.pk))
        return count, {self._meta.label: count}

    delete.alters_data = True

    @property
    def display_name(self) -> str:
        """The device's name in the reader's language ("Chrome auf macOS")."""
        return compose_name(self.browser, self.os, self.device_type) or self.device_name

    @property
    def display_location(self) -> str:
        return display_location(self.location)

    @property
    def display_first_location(self) -> str:
        return display_location(self.first_location)

    @property
    def device_bound(self) -> bool:
        """Whether this sign-in only works on its device: bound, and binding enforced."""
        return self.bound_at is not None and app_settings.DEVICE_BOUND

    @property
    def is_live(self) -> bool:
        return self.expires_at > timezone.now()


class KnownDevice(models.Model):
    """A kind of device (browser family, OS, device type) a user has signed in from, kept
    after its sessions end, so that a sign-in from a new kind can be told apart."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices"
    )
    browser = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=100, blank=True)
    device_type = models.CharField(max_length=10)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("known device")
        verbose_name_plural = _("known devices")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "browser", "os", "device_type"], name="sessions_mgmt_known_device"
            )
        ]

    def __str__(self) -> str:
        return f"{self.browser or '?'} / {self.os or '?'} / {self.device_type}"


class SessionEvent(models.Model):
    """What happened to an account's sessions: an append-only record (no session keys).

    The device is kept as its parts (browser, OS, type), so that its name is composed in
    the reader's language when shown; ``by_*`` is the device that did it (a sign-out from
    another device). IP, location and User-Agent are kept ``SESSIONS_MGMT_HISTORY_DAYS``,
    then blanked by ``revoke_sessions --expired``.
    """

    class Type(models.TextChoices):
        SIGNED_IN = "signed_in", _("signed in")
        SIGNED_OUT = "signed_out", _("signed out")
        REVOKED = "revoked", _("signed out remotely")
        PASSWORD_CHANGED = "password_changed", _("password changed")
        EXPIRED = "expired", _("expired")
        ALERT_SENT = "alert_sent", _("new-device alert sent")
        NOT_ME = "not_me", _("reported as not me")
        BOUND = "bound", _("bound to its device")
        PROOF_REFUSED = "proof_refused", _("device proof refused")
        WRONG_PASSWORD = "wrong_password", _("wrong password typed")
        SIGN_IN_REFUSED = "sign_in_refused", _("sign-in refused by the device limit")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    # Indexed by ``sessions_mg_event_user_at`` (user first), so no index of its own.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="session_events",
        verbose_name=_("user"),
        db_index=False,
    )
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    session_id = models.UUIDField(_("session"), null=True, blank=True)
    browser = models.CharField(_("browser"), max_length=100, blank=True)
    os = models.CharField(_("operating system"), max_length=100, blank=True)
    device_type = models.CharField(_("device type"), max_length=10, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    location = models.CharField(_("location"), max_length=100, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=USER_AGENT_MAX_LENGTH, blank=True)
    reason = models.CharField(_("reason"), max_length=30, blank=True)
    by_browser = models.CharField(_("by browser"), max_length=100, blank=True)
    by_os = models.CharField(_("by operating system"), max_length=100, blank=True)
    by_device_type = models.CharField(_("by device type"), max_length=10, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by staff member"),
        db_index=False,  # a partial index instead: most events have no actor
    )

    class Meta:
        verbose_name = _("session event")
        verbose_name_plural = _("session events")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-at", "-id"], name="sessions_mg_event_user_at"),
            models.Index(
                fields=["actor"],
                condition=models.Q(actor__isnull=False),
                name="sessions_mg_event_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.at:%Y-%m-%d %H:%M}"

    @property
    def device_name(self) -> str:
        if not (self.browser or self.os or self.device_type):
            return ""
        return compose_name(self.browser, self.os, self.device_type or OTHER)

    @property
    def by_device_name(self) -> str:
        if not (self.by_browser or self.by_os or self.by_device_type):
            return ""
        return compose_name(self.by_browser, self.by_os, self.by_device_type or OTHER)

    @property
    def display_location(self) -> str:
        return display_location(self.location)


class UnseenCutoff(models.Model):
    """A revocation that also ends the sessions the app has not seen yet (signed in before
    it was installed, with no row): such a session of ``user`` (of anyone's, without a
    user) is refused from now on. Its sign-in time is unknown, so it counts as signed in
    before any cutoff. Written only while such sessions can still exist (see ``unseen``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("cutoff for unseen sessions")
        verbose_name_plural = _("cutoffs for unseen sessions")

    def __str__(self) -> str:
        return f"{self.user_id or '*'} · {self.at:%Y-%m-%d %H:%M}"


class BackendsSeen(models.Model):
    """When a list of ``AUTHENTICATION_BACKENDS`` was first in force (by its digest): for
    ``SESSION_COOKIE_AGE`` after that, sessions signed in through a backend the list has
    since replaced by a subclass of it may still come back (see ``backend_paths``)."""

    digest = models.CharField(_("digest"), max_length=64, unique=True)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)

    class Meta:
        verbose_name = _("authentication backends seen")
        verbose_name_plural = _("authentication backends seen")

    def __str__(self) -> str:
        return f"{self.digest[:12]} ({self.first_seen:%Y-%m-%d})"
