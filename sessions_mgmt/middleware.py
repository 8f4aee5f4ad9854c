"""Hands each request to the timeouts and to tracking; the rules live there."""

from django.http import HttpRequest, HttpResponse

from . import timeouts, tracking


class DeviceSessionMiddleware:
    """Place after ``SessionMiddleware`` and ``AuthenticationMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeouts.guard(request)
        token = tracking.handling(request)
        try:
            response = self.get_response(request)
            if not timeouts.ended_after_view(request):
                tracking.sync(request, response)
        finally:
            tracking.done(token)
        return response
