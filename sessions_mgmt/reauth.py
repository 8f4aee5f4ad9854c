"""Confirm it's you: sensitive actions need a recent authentication (OWASP ASVS 4.0.3
3.3.4, GitHub's sudo mode).

Signing in counts, and so does confirming the password on the "Confirm it's you" page. The
window is ``SESSIONS_MGMT_REAUTH_WINDOW`` seconds (default 600; ``None`` turns the whole
check off). Wrong passwords count against the limits of ``throttle.py``: a session that
sent too many is refused for a while, and nobody else is.

``recent_auth_required`` (a view decorator) and ``RecentAuthRequiredMixin`` put the check on
any view. A GET without a recent authentication is sent to the confirmation page and
back; a POST is answered with the confirmation page itself, which carries the original
form fields and posts them again with the password, so the action goes on once confirmed.
"""

import time
from functools import wraps

from django.apps import apps
from django.contrib.auth import authenticate, logout, update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.decorators import method_decorator
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import history, throttle
from .conf import app_settings

AUTH_AT_KEY = "_sessions_mgmt_auth_at"
PASSWORD_FIELD = "sessions_mgmt_password"
THEN_GET_FIELD = "sessions_mgmt_then_get"
SIGN_IN_AGAIN_FIELD = (
    "sessions_mgmt_sign_in_again"  # the confirmed request was a GET: redirect to it
)


def mark_authenticated(request: HttpRequest) -> None:
    """Record that the person proved who they are just now (sign-in, password)."""
    request.session[AUTH_AT_KEY] = int(time.time())


@sensitive_variables("password")
def confirm_password(request: HttpRequest, password: str) -> str | None:
    """Check the signed-in user's password; ``None`` when confirmed, else the error to show.

    Counted against the wrong-password limits of this session and address (``throttle``),
    never the account's: a thief's wrong guesses cannot lock the owner out of confirming.
    Raises ``throttle.Throttled`` when refused.
    """
    with throttle.attempt(request) as attempt:
        user = authenticate(
            request,
            **{request.user.USERNAME_FIELD: request.user.get_username(), "password": password},
        )
        if user is None or user.pk != request.user.pk:
            if attempt.opened_session_window:
                history.wrong_password(request.user, request.session.session_key)
            return _("That password is not right.")
        attempt.succeeded()
    if user.password != request.user.password:
        # Django upgraded the stored hash while checking it (a new hasher or iteration
        # count). The session is tied to the hash: move it along, or the next request
        # would be signed out.
        update_session_auth_hash(request, user)
    mark_authenticated(request)
    return None


def confirmation_page(
    request: HttpRequest, error: str | None = None, status: int = 200, sign_in_again=False
):
    """The "Confirm it's you" page, carrying the fields of the form that was posted (or,
    for someone with no usable password, offering to sign in again)."""
    carried = (
        [
            (name, value)
            for name, values in request.POST.lists()
            for value in values
            if name not in (PASSWORD_FIELD, "csrfmiddlewaretoken")
        ]
        if request.method == "POST"
        else [(THEN_GET_FIELD, "1")]
    )
    return render(
        request,
        "sessions_mgmt/confirm_password.html",
        {
            "carried": carried,
            "action": request.get_full_path(),
            "password_field": PASSWORD_FIELD,
            "sign_in_again_field": SIGN_IN_AGAIN_FIELD,
            "sign_in_again": sign_in_again,
            "error": error,
        },
        status=status,
    )


def _sign_in_again(request: HttpRequest) -> HttpResponse:
    """For people with no usable password (they sign in through another provider): end this
    session and send them to sign in again, which counts as a recent authentication; then
    back to their devices. Nobody is locked out of revoking."""
    logout(request)
    return redirect_to_login(resolve_url("sessions_mgmt:device_list"))


def _hide_in_error_reports(request: HttpRequest, field: str) -> None:
    """What ``sensitive_post_parameters`` does, adding to what the view already hides: an
    error report of the confirmed view must not carry the password it was confirmed with."""
    hidden = getattr(request, "sensitive_post_parameters", [])
    if hidden != "__ALL__":
        request.sensitive_post_parameters = [*hidden, field]


class PasswordReauth:
    """The built-in way: the account's password on the "Confirm it's you" page, within
    ``SESSIONS_MGMT_REAUTH_WINDOW`` of signing in or confirming."""

    def recently_authenticated(self, request: HttpRequest) -> bool:
        window = app_settings.REAUTH_WINDOW
        if window is None:
            return True
        return time.time() - request.session.get(AUTH_AT_KEY, 0) <= window

    def require(self, view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated or self.recently_authenticated(request):
                return view(request, *args, **kwargs)
            _hide_in_error_reports(request, PASSWORD_FIELD)
            if not request.user.has_usable_password():
                if request.method == "POST" and SIGN_IN_AGAIN_FIELD in request.POST:
                    return _sign_in_again(request)
                return confirmation_page(request, sign_in_again=True)
            if request.method == "POST" and PASSWORD_FIELD in request.POST:
                try:
                    error = confirm_password(request, request.POST[PASSWORD_FIELD])
                except throttle.Throttled as refused:  # too many, or the counting cache down
                    response = confirmation_page(request, str(refused), status=refused.status)
                    response["Retry-After"] = str(refused.window)
                    return response
                if error is None and THEN_GET_FIELD in request.POST:
                    return redirect(request.get_full_path())
                if error is None:
                    return view(request, *args, **kwargs)
                return confirmation_page(request, error, status=403)
            return confirmation_page(request)

        return wrapper


class AllauthReauth:
    """django-allauth's own reauthentication: its flows (password, social accounts,
    passkeys, codes) and its record of recent reauthentication (its
    ``ACCOUNT_REAUTHENTICATION_TIMEOUT``), through its public decorator. Signing in counts
    too, as with the password (allauth itself only counts an explicit reauthentication)."""

    def recently_authenticated(self, request: HttpRequest) -> bool:
        from allauth.core.exceptions import ReauthenticationRequired

        if PasswordReauth().recently_authenticated(request):
            return True
        try:
            self._allauth(lambda request: None)(request)
        except ReauthenticationRequired:
            return False
        return True

    def require(self, view):
        through_allauth = self._allauth(view)

        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if PasswordReauth().recently_authenticated(request):  # signed in just now
                return view(request, *args, **kwargs)
            return through_allauth(request, *args, **kwargs)

        return wrapper

    @staticmethod
    def _allauth(view):
        from allauth.account.decorators import reauthentication_required

        return reauthentication_required(view)


def reauth_backend():
    """How people confirm it's them (``SESSIONS_MGMT_REAUTH``): ``"auto"`` (allauth's when
    ``allauth.account`` is installed, else the password), ``"password"``, ``"allauth"``, or
    the dotted path of a class with ``recently_authenticated(request)`` and
    ``require(view)``."""
    name = app_settings.REAUTH
    if name == "auto":
        name = "allauth" if apps.is_installed("allauth.account") else "password"
    if name == "password":
        return PasswordReauth()
    if name == "allauth":
        return AllauthReauth()
    return import_string(name)()


def recently_authenticated(request: HttpRequest) -> bool:
    return reauth_backend().recently_authenticated(request)


def recent_auth_required(view):
    """Run ``view`` only for a signed-in user who authenticated recently: anyone else is
    sent to sign in (as ``login_required`` does), and a sign-in that is not recent is
    confirmed first (the way ``SESSIONS_MGMT_REAUTH`` says)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return reauth_backend().require(view)(request, *args, **kwargs)

    return wrapper


class RecentAuthRequiredMixin:
    """The class-based form of ``recent_auth_required`` (which implies a sign-in, so it
    works with or without ``LoginRequiredMixin`` before it)."""

    @method_decorator(recent_auth_required)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)
