"""URLs of the multi-server benchmark: the demo's, plus a view that reads the user."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns


def whoami(request):
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


urlpatterns = [path("whoami/", whoami), *demo_urlpatterns]


class PassThrough:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
