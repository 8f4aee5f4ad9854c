"""One row per signed-in session, linked to Django's session store by its key."""

import json
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .devices import BOT, DESKTOP, MOBILE, OTHER, TABLET, USER_AGENT_MAX_LENGTH, compose_name
from .location import display as display_location

#: Session data key of a tracked session's state (see ``read_state``): the row's pk
#: (``id``), the unix times of the row's last update (``t``), of sign-in or adoption
#: (``s``) and of the last request (``a``), the IP then (``ip``), a crc32 of the
#: User-Agent then (``ua``), when the store ends the session (``x``) and the raw
#: ``set_expiry()`` value it followed (``e``). Kept by tracking, read by the timeouts.
STATE_KEY = "_smgmt"
#: Where versions before 0.2 kept the state, as a dict: still read, never written. A new
#: key, so that during a rolling upgrade an older server finds no state it cannot read
#: (it adopts the session again, as it would a session from before the app) instead of
#: failing on a string.
LEGACY_STATE_KEY = "_sessions_mgmt"
#: Session data key of a device-bound session's binding (see ``binding``): its DBSC
#: session identifier and the issue time of the last challenge it answered.
BOUND_KEY = "_smgmt_b"


def read_state(session) -> dict | None:
    """The tracking state of a session, or None if it has none.

    Stored as one short string (``"id|t|s|a|ip|ua|x|e"``), not a dict: every signed-in
    request decodes the session, and a nested dict of 8 keys cost it about 35,000 CPU
    instructions more (see docs/PERFORMANCE.md). Sessions that hold the older dict (under
    ``LEGACY_STATE_KEY``) still read.
    """
    raw = session.get(STATE_KEY)
    if raw is None:
        return session.get(LEGACY_STATE_KEY)
    if not isinstance(raw, str):
        return raw
    pk, t, s, a, ip, ua, x, e = raw.split("|", 7)
    state = {"id": int(pk), "t": int(t), "s": int(s), "a": float(a), "ip": ip or None}
    state["ua"] = int(ua)
    if x:
        state["x"] = float(x)
    state["e"] = json.loads(e) if e else None
    return state


def clear_state(session) -> None:
    """Remove the tracking state from a session (a new sign-in starts without one, and
    unbound: the browser's key was proved for the sign-in before)."""
    for key in (STATE_KEY, LEGACY_STATE_KEY, BOUND_KEY):
        if key in session:
            del session[key]


def write_state(session, state: dict) -> None:
    """Store ``state`` in the session (which marks it modified), as ``read_state`` reads;
    a legacy dict, if any, goes."""
    session.pop(LEGACY_STATE_KEY, None)
    e = state.get("e")
    expiry = "" if e is None else json.dumps(e)
    now = state.get("t", 0)
    x = repr(float(state["x"])) if state.get("x") is not None else ""
    session[STATE_KEY] = (
        f"{state['id']}|{int(now)}|{int(state.get('s', now))}|{float(state.get('a', now))!r}"
        f"|{state.get('ip') or ''}|{state.get('ua', 0)}|{x}|{expiry}"
    )


def live_values(data) -> dict:
    """A session's liveness, from its stored data (``store.session_data``): when it was
    last active (to the touch interval, or exactly with an idle timeout), its IP then and
    when the store ends it, as the ``DeviceSession`` fields they update. Empty when the
    data holds no state (a session being signed in right now: its row is up to date)."""
    state = read_state(data)
    if state is None:
        return {}
    values = {
        "last_active_at": datetime.fromtimestamp(max(state["t"], state.get("a", 0)), tz=UTC),
        "ip": state.get("ip"),
    }
    if state.get("x"):
        values["expires_at"] = datetime.fromtimestamp(state["x"], tz=UTC)
    return values


class DeviceSessionQuerySet(models.QuerySet):
    def live(self) -> "DeviceSessionQuerySet":
        """Rows whose copy of the expiry has not passed (the copy lags while the pruning
        job has not run: ``services.list_devices`` asks the store itself)."""
        return self.filter(expires_at__gt=timezone.now())

    def delete(self):
        """Delete the rows *and* end their sessions, so no deletion leaves a live cookie."""
        from . import services

        count = services.end_sessions(self)
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
    session_key = models.CharField(_("session key"), max_length=40, editable=False)
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
        """Delete the row and end its session in the store."""
        from . import services

        count = services.end_sessions(type(self).objects.filter(pk=self.pk))
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
