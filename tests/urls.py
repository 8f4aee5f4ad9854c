"""The demo's URLs plus two tiny views the tests need."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns


def whoami(request):
    """An ordinary view: it reads the signed-in user, as most pages do."""
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


def cycle(request):
    """A view that rotates the session key, as a login-sensitive step would."""
    request.session.cycle_key()
    return HttpResponse("cycled")


urlpatterns = [
    path("whoami/", whoami),
    path("cycle/", cycle),
    *demo_urlpatterns,
]
