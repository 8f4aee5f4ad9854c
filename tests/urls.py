"""The demo's URLs plus two tiny views the tests need."""

import time

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns
from sessions_mgmt.reauth import recent_auth_required


def whoami(request):
    """An ordinary view: it reads the signed-in user, as most pages do."""
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


def cycle(request):
    """A view that rotates the session key, as a login-sensitive step would."""
    request.session.cycle_key()
    return HttpResponse("cycled")


def slow_write(request):
    """A slow request that writes to its session at the end, as a form wizard would: if the
    session is revoked meanwhile, its save must not bring the session back."""
    signed_in = request.user.is_authenticated
    time.sleep(float(request.GET.get("sleep", "0.3")))
    request.session["writes"] = request.session.get("writes", 0) + 1
    return HttpResponse("yes" if signed_in else "no")


@recent_auth_required
def sensitive(request):
    """A project's own sensitive page, behind the reusable decorator."""
    return HttpResponse("sensitive")


urlpatterns = [
    path("sensitive/", sensitive),
    path("whoami/", whoami),
    path("slow-write/", slow_write),
    path("cycle/", cycle),
    *demo_urlpatterns,
]
