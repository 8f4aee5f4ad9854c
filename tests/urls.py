"""The test project's URLs: Django's auth views (a sign-in with "remember me", as login
views usually offer it), the admin, the app's pages and API, and the tiny views the tests
need. Not the demo's."""

import threading
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import include, path

from sessions_mgmt.forms import ThrottledAuthenticationForm, ThrottledPasswordChangeForm
from sessions_mgmt.internal.flows.request import sync
from sessions_mgmt.models import DeviceSession
from sessions_mgmt.reauth import recent_auth_required
from sessions_mgmt.views import admin_password_change


def degrades_gracefully(request):
    """A view that handles the database being down itself, with a page of its own."""
    try:
        name = request.user.get_username() if request.user.is_authenticated else ""
    except OperationalError:
        return HttpResponse("the database is down; try again", status=503)
    return HttpResponse(name)


def whoami(request):
    """An ordinary view: it reads the signed-in user, as most pages do."""
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


def cycle(request):
    """A view that rotates the session key, as a login-sensitive step would."""
    request.session.cycle_key()
    return HttpResponse("cycled")


#: The gate of ``slow_write``: each request releases ``ARRIVED`` once its session is
#: loaded, then waits in the view until the test sets ``RELEASE`` (in-process live server).
ARRIVED = threading.Semaphore(0)
RELEASE = threading.Event()


def slow_write(request):
    """A slow request that writes to its session at the end, as a form wizard would: if the
    session is revoked meanwhile, its save must not bring the session back. It stays in
    the view until the test lets it go, so the revoke lands while it is in flight."""
    signed_in = request.user.is_authenticated
    ARRIVED.release()
    RELEASE.wait(timeout=10)
    request.session["writes"] = request.session.get("writes", 0) + 1
    return HttpResponse("yes" if signed_in else "no")


async def awhoami(request):
    """An async view, as ASGI projects write them: the user comes from ``auser()``."""
    user = await request.auser()
    return HttpResponse(user.get_username() if user.is_authenticated else "")


def remember_longer(request):
    """A view that changes the session's expiry after sign-in, as a settings page might."""
    request.session.set_expiry(timedelta(days=60))
    return HttpResponse("remembered")


def session_only(request):
    """A view that reads only the session, never the user (a cart, a wizard step)."""
    return HttpResponse(str(request.session.get("cart", "")))


def cycle_then_fail(request):
    """A view that rotates the key and then fails: Django saves nothing of a 5xx."""
    request.session.cycle_key()
    raise RuntimeError("failed after cycling the key")


def rehash_then_fail(request):
    """A password change that keeps the session, then fails."""
    request.user.set_password("a-new-password-that-is-long")
    request.user.save()
    update_session_auth_hash(request, request.user)
    raise RuntimeError("failed after changing the password")


def login_then_count(request):
    """A sign-in view that needs the new session's row before answering: it calls
    ``tracking.sync()`` after ``login()`` and counts the user's rows."""
    user = get_user_model().objects.get(username=request.POST["username"])
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    sync(request)
    return HttpResponse(str(DeviceSession.objects.filter(user=user).count()))


class RememberMeLoginView(LoginView):
    """Django's sign-in, with the usual "remember me": 30 days, else until the browser
    closes (``set_expiry()`` after ``login()``, as login views do)."""

    form_class = ThrottledAuthenticationForm

    def form_valid(self, form):
        response = super().form_valid(form)
        remember = self.request.POST.get("remember_me")
        self.request.session.set_expiry(int(timedelta(days=30).total_seconds()) if remember else 0)
        return response


@recent_auth_required
def sensitive(request):
    """A project's own sensitive page, behind the reusable decorator."""
    return HttpResponse("sensitive")


@recent_auth_required
def sensitive_fails(request):
    """A project's sensitive action that fails once confirmed (a bug, a lost service)."""
    raise RuntimeError("the sensitive action failed")


urlpatterns = [
    path("sensitive/", sensitive),
    path("sensitive-fails/", sensitive_fails),
    path("whoami/", whoami),
    path("degrades-gracefully/", degrades_gracefully),
    path("login-then-count/", login_then_count),
    path("awhoami/", awhoami),
    path("slow-write/", slow_write),
    path("cycle/", cycle),
    path("remember-longer/", remember_longer),
    path("session-only/", session_only),
    path("cycle-then-fail/", cycle_then_fail),
    path("rehash-then-fail/", rehash_then_fail),
    path("admin/password_change/", admin_password_change(admin.site)),
    path("admin/", admin.site.urls),
    path("accounts/devices/", include("sessions_mgmt.urls")),
    path("accounts/login/", RememberMeLoginView.as_view(), name="login"),
    path(
        "accounts/password_change/",
        PasswordChangeView.as_view(form_class=ThrottledPasswordChangeForm),
        name="password_change",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("me/", include("sessions_mgmt.api_urls")),
]
