"""Template helpers for the device pages."""

from datetime import datetime

from django import template
from django.utils import dateformat, timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from ..conf import app_settings

register = template.Library()


@register.filter
def last_active(device) -> str:
    """ "Active now" for the device in use (and any seen within the touch interval),
    otherwise "Active 3 minutes ago"."""
    when: datetime = device.last_active_at
    if getattr(device, "is_current", False):
        return _("Active now")
    if (timezone.now() - when).total_seconds() < app_settings.TOUCH_INTERVAL:
        return _("Active now")
    return _("Active %(since)s ago") % {"since": timesince(when)}


@register.filter
def expires(device) -> str:
    """ "Expires in 29 days", from the session's expiry (see ``tracking``)."""
    when: datetime = device.expires_at
    if when <= timezone.now():
        return _("Expires now")
    return _("Expires in %(until)s") % {"until": timeuntil(when)}


@register.filter
def moment(when: datetime | None) -> str:
    """The one way the pages write a date and time: the active language's
    ``DATETIME_FORMAT`` (Django's formats), in the current time zone, which it names:
    "Dec. 3, 2026, 2:05 p.m. UTC"."""
    if when is None:
        return ""
    local = timezone.localtime(when) if timezone.is_aware(when) else when
    return _("%(datetime)s %(time_zone)s") % {
        "datetime": date_format(local, "DATETIME_FORMAT"),
        "time_zone": dateformat.format(local, "T"),
    }


@register.filter
def last_seen(device) -> str:
    """For a "Last active" label: "Now" (the device in use, or seen within the touch
    interval), otherwise "3 minutes ago"."""
    when: datetime = device.last_active_at
    if getattr(device, "is_current", False):
        return _("Now")
    if (timezone.now() - when).total_seconds() < app_settings.TOUCH_INTERVAL:
        return _("Now")
    return _("%(since)s ago") % {"since": timesince(when)}


@register.filter
def ends(device) -> str:
    """When the sign-in ends, for an "Expiry" label: without "Remember me"
    (``ends_with_browser``), "Ends when you close the browser" for the device in use and
    "Ends when its browser closes" for another; else "Ends in 13 days"."""
    if getattr(device, "ends_with_browser", False):
        if getattr(device, "is_current", False):
            return _("Ends when you close the browser")
        return _("Ends when its browser closes")
    when: datetime = device.expires_at
    if when <= timezone.now():
        return _("Ends now")
    return _("Ends in %(until)s") % {"until": timeuntil(when)}


def _revoked(event, device: str, by: str) -> str:
    reason = event.reason
    if reason == "user" and by:
        return _("%(device)s was signed out from %(by)s") % {"device": device, "by": by}
    if reason == "other_devices" and by:
        return _("%(device)s was signed out from %(by)s, with all other devices") % {
            "device": device,
            "by": by,
        }
    messages = {
        "admin": _("%(device)s was signed out by an administrator"),
        "command": _("%(device)s was signed out by an administrator"),
        "password_change": _("%(device)s was signed out after a password change"),
        "password_rehashed": _("%(device)s was signed out after a password change"),
        "deactivated": _("%(device)s was signed out: the account was deactivated"),
        "not_me": _("%(device)s was signed out through “This wasn't me”"),
    }
    return messages.get(reason, _("%(device)s was signed out")) % {"device": device}


@register.filter
def summary(event) -> str:
    """What happened, in words: "Safari on iPhone was signed out from Chrome on macOS"."""
    device, by = event.device_name, event.by_device_name
    kind = event.type
    if kind == "signed_in":
        return _("%(device)s signed in") % {"device": device}
    if kind == "signed_out":
        return _("%(device)s signed out") % {"device": device}
    if kind == "revoked":
        return _revoked(event, device, by)
    if kind == "password_changed":
        if by:
            return _("Password changed from %(by)s") % {"by": by}
        return _("Password changed")
    if kind == "expired":
        if event.reason == "idle_timeout":
            return _("%(device)s was signed out after a time without activity") % {"device": device}
        if event.reason == "absolute_timeout":
            return _("%(device)s reached the longest a sign-in may last") % {"device": device}
        return _("The session on %(device)s expired") % {"device": device}
    if kind == "alert_sent":
        return _("New-device alert sent for %(device)s") % {"device": device}
    if kind == "not_me":
        return _("“This wasn't me” used for %(device)s") % {"device": device}
    if kind == "bound":
        return _("%(device)s was bound to its device: its sign-in only works there") % {
            "device": device
        }
    if kind == "sign_in_refused":
        return _(
            "Sign-in refused on %(device)s: the most devices allowed were already signed in"
        ) % {"device": device}
    if kind == "wrong_password":
        return _("Wrong password typed on %(device)s") % {"device": device}
    if kind == "proof_refused":
        return _("A request for %(device)s was refused: it was not signed by that device's key") % {
            "device": device
        }
    return event.get_type_display()


@register.filter
def ago(when: datetime) -> str:
    """ "3 minutes ago", or "just now" within the first minute."""
    if (timezone.now() - when).total_seconds() < 60:
        return _("just now")
    return _("%(since)s ago") % {"since": timesince(when)}
