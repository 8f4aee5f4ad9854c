"""Server-side idle and absolute timeouts (NIST SP 800-63B §7), independent of the cookie.

The timestamps live in the session's tracking data (see ``middleware.STATE_KEY``), so the
check reads nothing the request does not load anyway. It runs where the user is first
needed (``request.user`` / ``request.auser``), so a timed-out session never reaches a view
as signed in.
"""

import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.timesince import timesince
from django.utils.translation import gettext

from . import services
from .conf import app_settings
from .models import STATE_KEY, DeviceSession


def timeout_reason(state: dict, now: float) -> str | None:
    """Why a session with this tracking state is over, by the configured timeouts, if it is.

    Idle time is measured from the row's last update, so it is exact to within
    ``SESSIONS_MGMT_TOUCH_INTERVAL``."""
    idle, absolute = app_settings.timeouts()
    if absolute is not None and now - state.get("s", now) > absolute:
        return gettext("You were signed out: sessions end %(limit)s after signing in.") % {
            "limit": timesince(timezone.now() - timedelta(seconds=absolute))
        }
    if idle is not None and now - state.get("t", now) > idle:
        return gettext("You were signed out after %(limit)s without activity.") % {
            "limit": timesince(timezone.now() - timedelta(seconds=idle))
        }
    return None


def _user_within_timeouts(request: HttpRequest):
    """``request.user``, unless the session has timed out: then the session ends (row and
    store key), a message says why, and the request goes on signed out."""
    session = request.session
    state = session.get(STATE_KEY)
    reason = state and SESSION_KEY in session and timeout_reason(state, time.time())
    if reason:
        services.end_sessions(DeviceSession.objects.filter(pk=state["id"]), reason=services.TIMEOUT)
        session.flush()
        messages.info(request, reason, fail_silently=True)
        return AnonymousUser()
    return get_user(request)


def guard_user(request: HttpRequest) -> None:
    """Replace the lazy ``request.user`` and ``request.auser`` that AuthenticationMiddleware
    set with ones that end a timed-out session first."""
    resolved = {}

    def resolve():
        if "user" not in resolved:
            resolved["user"] = _user_within_timeouts(request)
        return resolved["user"]

    async def auser():
        return await sync_to_async(resolve)()

    request.user = SimpleLazyObject(resolve)
    request.auser = auser
