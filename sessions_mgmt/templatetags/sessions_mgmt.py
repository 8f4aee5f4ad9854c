"""Template helpers for the device pages."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
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
