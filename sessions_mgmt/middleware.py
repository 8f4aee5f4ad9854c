"""Hands each request to the device binding, the timeouts and tracking; the rules live there.

Sync and async (Django's ``sync_and_async_middleware`` shape): under ASGI an async view's
request stays on the event loop. The steady state has nothing to do after the view, and
deciding that reads only the loaded session; only real work (a touch, a sign-in, ending a
timed-out session) moves to a thread, as database work must.
"""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from . import binding, timeouts, tracking, unseen
from .conf import app_settings
from .store import SessionStoreError

logger = logging.getLogger(__name__)


def _work(request: HttpRequest, response: HttpResponse, checked: bool):
    """What is left to do after the view: end a timed-out session (when timeouts are
    ``checked``), or else keep its row in step (None in the steady state, and None when
    the session could not even be loaded: the view has already answered that failure its
    own way, and there is nothing to keep in step)."""
    try:
        return (checked and timeouts.pending_end(request)) or tracking.pending(request, response)
    except Exception as exc:
        # Deciding reads only the session: this is its load failing again. After a failed
        # view (its error page may have read request.user, as Django's debug page does)
        # any such failure leaves the view's answer as it is.
        if response.status_code < 500 and not isinstance(
            exc, (OperationalError, SessionStoreError)
        ):
            raise
        logger.warning("Session tracking skipped after %s: %r", request.path, exc)
        return None


def _failed(request: HttpRequest, response: HttpResponse, exc: Exception) -> HttpResponse:
    """The work failed: the API (which asked for JSON errors) gets a JSON 503; a view that
    already answered with an error of its own keeps it."""
    if response.status_code >= 500:
        logger.warning("Session tracking failed after %s: %r", request.path, exc)
        return response
    if not getattr(request, tracking.JSON_ERRORS, False):
        raise exc
    logger.warning("Session tracking failed after %s: %r", request.path, exc)
    return JsonResponse(
        {"error": gettext("The session store or database is unavailable. Try again.")},
        status=503,
        headers={"Retry-After": "5"},
    )


class DeviceSessionMiddleware:
    """Place after ``SessionMiddleware`` and ``AuthenticationMiddleware``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.is_async:
            return self.__acall__(request)
        bound = app_settings.DEVICE_BOUND
        if bound and app_settings.SESSION_COOKIE_NAME in request.COOKIES:
            refusal = binding.guard(request)
            if refusal is not None:
                return refusal
        checked = timeouts.needed()
        if checked or unseen.possible():
            timeouts.guard_user(request)
        token = tracking.handling(request)
        try:
            response = self.get_response(request)
            work = _work(request, response, checked)
            if work is not None:
                try:
                    work()
                except (OperationalError, SessionStoreError) as exc:
                    response = _failed(request, response, exc)
            if bound:
                binding.offer(request, response)
        finally:
            tracking.done(token)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        bound = app_settings.DEVICE_BOUND
        if bound and app_settings.SESSION_COOKIE_NAME in request.COOKIES:
            refusal = await binding.aguard(request)
            if refusal is not None:
                return refusal
        checked = timeouts.needed()
        if checked or await unseen.apossible():
            timeouts.guard_user(request)
        token = tracking.handling(request)
        try:
            response = await self.get_response(request)
            work = _work(request, response, checked)
            if work is not None:
                try:
                    await sync_to_async(work)()
                except (OperationalError, SessionStoreError) as exc:
                    response = _failed(request, response, exc)
            if bound:
                binding.offer(request, response)
        finally:
            tracking.done(token)
        return response
