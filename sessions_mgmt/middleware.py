"""HTTP around the rules: hands each request to the device binding and to the request
flow (``flows.request``: timeouts, touch, key change, sign-in commit), and turns a failure
of that work into an answer. The rules and their order live in the flows.

Sync and async (Django's ``sync_and_async_middleware`` shape) share one body: ``_before``,
``_work`` and ``_finish`` hold every step, and the two entry points differ only in how they wait for
the view and for I/O. Under ASGI an async view's request stays on the event loop: the
steady state has nothing to do after the view, and deciding that reads only the loaded
session; only real work (a touch, a sign-in, ending a timed-out session) moves to a
thread, as database work must.
"""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from . import binding, throttle, timeouts
from .conf import app_settings
from .internal.flows import context
from .internal.flows.request import Work, after_view
from .internal.store import SessionStoreError

logger = logging.getLogger(__name__)


def _work(request: HttpRequest, response: HttpResponse, checked: bool) -> Work | None:
    """What is left to do after the view (``after_view``): None in the steady state, and
    None when the session could not even be loaded: the view has already answered that
    failure its own way, and there is nothing to keep in step."""
    try:
        return after_view(request, response, checked)
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
    if not getattr(request, context.JSON_ERRORS, False):
        raise exc
    logger.warning("Session tracking failed after %s: %r", request.path, exc)
    return JsonResponse(
        {"error": gettext("The session store or database is unavailable. Try again.")},
        status=503,
        headers={"Retry-After": "5"},
    )


def _binds(request: HttpRequest) -> bool:
    """Whether the device binding must look at this request before the view."""
    return app_settings.DEVICE_BOUND and app_settings.SESSION_COOKIE_NAME in request.COOKIES


def _before(request: HttpRequest, checked: bool, guarded: bool) -> None:
    """Before the view, once the binding has let the request through: guard the user
    where timeouts are ``checked`` or sessions from before may come back (``guarded``)."""
    if checked or guarded:
        timeouts.guard_user(request)


def _finish(request: HttpRequest, response: HttpResponse, failure: Exception | None):
    """After the view and its work: a failure of the work answered, the binding offered,
    and a page whose password check the counting cache being down refused (a sign-in
    form, a password change, shown again with why) answered as unavailable."""
    refused = throttle.refusal(request)
    if refused is not None and refused.status == 503 and response.status_code == 200:
        response.status_code = 503
        response["Retry-After"] = str(refused.window)
    if failure is not None:
        response = _failed(request, response, failure)
    if app_settings.DEVICE_BOUND:
        binding.offer(request, response)
    return response


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
        refusal = binding.guard(request) if _binds(request) else None
        if refusal is not None:
            return refusal
        checked = timeouts.needed()
        _before(request, checked, not checked and timeouts.guarding())
        token = context.handling(request)
        try:
            response = self.get_response(request)
            work, failure = _work(request, response, checked), None
            if work is not None:
                try:
                    work()
                except (OperationalError, SessionStoreError) as exc:
                    failure = exc
            return _finish(request, response, failure)
        finally:
            context.done(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        refusal = await binding.aguard(request) if _binds(request) else None
        if refusal is not None:
            return refusal
        checked = timeouts.needed()
        _before(request, checked, not checked and await timeouts.aguarding())
        token = context.handling(request)
        try:
            response = await self.get_response(request)
            work, failure = _work(request, response, checked), None
            if work is not None:
                try:
                    await sync_to_async(work)()
                except (OperationalError, SessionStoreError) as exc:
                    failure = exc
            return _finish(request, response, failure)
        finally:
            context.done(token)
