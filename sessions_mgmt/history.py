"""The security history: writes ``SessionEvent`` rows where the app already writes (sign-in,
sign-out, ending sessions, a password change, an alert), never on an ordinary request.

Events name sessions by their public id, never by key. IP, location and User-Agent are kept
``SESSIONS_MGMT_HISTORY_DAYS`` days (``scrub``; ``revoke_sessions --expired`` runs it).
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import connections, router
from django.utils import timezone

from .conf import app_settings
from .models import DeviceSession, SessionEvent

Type = SessionEvent.Type

# How services' reasons map onto event types: a session that ran out is "expired" (the
# reason then says what ended it); every other ending is "revoked", with its reason.
_EXPIRED_REASON = "expired"
_USER_DELETED = "user_deleted"
_SIGNED_OUT = "signed_out"  # the person signed out: a "signed out" event
_REPLACED = "replaced"  # Django ended it itself (a new sign-in, a flush): no event


def _device(row: Any) -> dict:
    """The device fields of an event, from a ``DeviceSession`` or a ``services.Row``."""
    return {
        "session_id": row.public_id,
        "browser": row.browser or "",
        "os": row.os or "",
        "device_type": row.device_type or "",
        "ip": row.ip,
        "location": row.location or "",
    }


def _by(row: Any | None) -> dict:
    if row is None:
        return {}
    return {"by_browser": row.browser, "by_os": row.os, "by_device_type": row.device_type}


def signed_in(row: DeviceSession) -> None:
    SessionEvent.objects.create(
        user_id=row.user_id, type=Type.SIGNED_IN, user_agent=row.user_agent, **_device(row)
    )


def ended(rows: Iterable[Any], reason: str, detail: str | None, by=None, actor=None) -> None:
    """Sessions ended through services: ``revoked`` with the reason, or ``expired`` with
    what ended it; ``by`` is the device that did it, ``actor`` the staff member.

    Call it before the rows are deleted: on PostgreSQL the events are copied from them by
    one ``INSERT … SELECT`` (no Python object per event: ending 10,000 sessions used to
    spend most of its time building them); elsewhere they are built and bulk-inserted.
    """
    if reason in (_USER_DELETED, _REPLACED):  # the user's history is going, or no news
        return
    using = router.db_for_write(SessionEvent)
    connection = connections[using]
    if connection.vendor == "postgresql" and router.db_for_write(DeviceSession) == using:
        device = DeviceSession._meta
        quote = connection.ops.quote_name
        sql, params = ended_sql(
            connection,
            f"{quote(device.db_table)} WHERE {quote(device.pk.column)} = ANY(%s)",
            reason,
            detail,
            by,
            actor,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, [row.pk for row in rows]])
        return
    fields = _ended_fields(reason, detail, by, actor)
    SessionEvent.objects.using(using).bulk_create(
        SessionEvent(user_id=row.user_id, **fields, **_device(row)) for row in rows
    )


def _ended_fields(reason: str, detail: str | None, by=None, actor=None) -> dict:
    """The fields of an ending's event that do not come from its session's row."""
    expired = reason == _EXPIRED_REASON
    kind = Type.EXPIRED if expired else Type.SIGNED_OUT if reason == _SIGNED_OUT else Type.REVOKED
    return {
        "type": kind,
        "reason": (detail or "") if expired else "" if kind == Type.SIGNED_OUT else reason,
        "actor_id": getattr(actor, "pk", None),
        "user_agent": "",  # kept for sign-ins only
        "by_browser": "",
        "by_os": "",
        "by_device_type": "",
        **_by(by),
    }


def ended_sql(
    connection, source: str, reason: str, detail: str | None = None, by=None, actor=None
) -> tuple[str, list]:
    """``INSERT INTO`` the history ``SELECT`` from ``source`` (PostgreSQL): the events of
    sessions ended for ``reason``, one per row of ``source``, a table expression with the
    device table's column names (the table itself with a filter, or a CTE of its rows).
    Returns the SQL and its parameters, which come before any in ``source``."""
    quote = connection.ops.quote_name
    event, device = SessionEvent._meta, DeviceSession._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    fields = _ended_fields(reason, detail, by, actor)
    copied = ("browser", "os", "device_type", "ip", "location")
    targets = [
        column(event, "public_id"),
        column(event, "user"),
        column(event, "at"),
        column(event, "session_id"),
        *(column(event, name) for name in copied),
        *(column(event, name.removesuffix("_id")) for name in fields),
    ]
    sources = [
        "gen_random_uuid()",
        column(device, "user"),
        "%s",
        column(device, "public_id"),
        *(column(device, name) for name in copied),
        *(["%s"] * len(fields)),
    ]
    sql = (
        f"INSERT INTO {quote(event.db_table)} ({', '.join(targets)}) "
        f"SELECT {', '.join(sources)} FROM {source}"
    )
    return sql, [timezone.now(), *fields.values()]


def password_changed(user, by: DeviceSession | None = None) -> None:
    SessionEvent.objects.create(user_id=user.pk, type=Type.PASSWORD_CHANGED, **_by(by))


def alert_sent(row: DeviceSession) -> None:
    SessionEvent.objects.create(user_id=row.user_id, type=Type.ALERT_SENT, **_device(row))


def not_me(row: DeviceSession) -> None:
    SessionEvent.objects.create(user_id=row.user_id, type=Type.NOT_ME, **_device(row))


def bound(row: DeviceSession) -> None:
    """The session was bound to its device's key (binding.py)."""
    SessionEvent.objects.create(user_id=row.user_id, type=Type.BOUND, **_device(row))


def proof_refused(row: DeviceSession) -> None:
    """A refresh of a bound session came with a proof its device's key did not sign."""
    SessionEvent.objects.create(user_id=row.user_id, type=Type.PROOF_REFUSED, **_device(row))


def wrong_password(user, session_key: str | None) -> None:
    """A wrong password typed inside one of the account's sessions ("Confirm it's you",
    the password change): the owner should see it. Called once per session per window of
    the wrong-password limits (``throttle.Attempt.opened_session_window``), so that a flood
    of guesses cannot bury the other events."""
    row = DeviceSession.objects.filter(user=user, session_key=session_key).first()
    if row is not None:
        SessionEvent.objects.create(user_id=row.user_id, type=Type.WRONG_PASSWORD, **_device(row))


def sign_in_refused(device: DeviceSession) -> None:
    """A sign-in with the right password that ``SESSIONS_MGMT_LIMIT_POLICY = "deny_new"``
    refused: ``device`` is the row it would have had (never saved)."""
    SessionEvent.objects.create(
        user_id=device.user_id,
        type=Type.SIGN_IN_REFUSED,
        user_agent=device.user_agent,
        **_device(device),
    )


def scrub() -> int:
    """Blank the IP, location and User-Agent of events older than the retention period;
    return how many were scrubbed. The events themselves stay."""
    cutoff = timezone.now() - timedelta(days=app_settings.HISTORY_DAYS)
    old = SessionEvent.objects.filter(at__lt=cutoff).exclude(
        ip__isnull=True, location="", user_agent=""
    )
    return old.update(ip=None, location="", user_agent="")


def events_of(user):
    """The user's events, newest first."""
    return SessionEvent.objects.filter(user_id=user.pk).order_by("-at", "-pk")
