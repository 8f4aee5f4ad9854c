"""Hands each request to the timeouts and to tracking; the rules live there."""

import logging

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import timeouts, tracking
from .store import SessionStoreError

logger = logging.getLogger(__name__)


class DeviceSessionMiddleware:
    """Place after ``SessionMiddleware`` and ``AuthenticationMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeouts.guard(request)
        token = tracking.handling(request)
        try:
            response = self.get_response(request)
            try:
                if not timeouts.ended_after_view(request):
                    tracking.sync(request, response)
            except (OperationalError, SessionStoreError) as exc:
                if not getattr(request, tracking.JSON_ERRORS, False):
                    raise
                logger.warning("Session tracking failed after %s: %r", request.path, exc)
                response = JsonResponse(
                    {"error": "The session store or database is unavailable. Try again."},
                    status=503,
                    headers={"Retry-After": "5"},
                )
        finally:
            tracking.done(token)
        return response
