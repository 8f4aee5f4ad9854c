"""URLs of the multi-server benchmark: the demo's, plus a view that reads the user."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns


def whoami(request):
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


urlpatterns = [path("whoami/", whoami), *demo_urlpatterns]
