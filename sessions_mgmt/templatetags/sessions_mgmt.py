"""Template helpers for the device pages."""

from datetime import datetime

from django import template
from django.utils import timezone
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
