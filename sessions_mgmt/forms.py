"""Forms for the host's own account pages, with the wrong-password limits (``throttle.py``).

- ``ThrottledPasswordChangeForm``: Django's ``PasswordChangeForm`` whose old-password check
  counts against the session's and the address's limits (it does not go through
  ``authenticate()``, so the throttled backend cannot see it)::

      path("password_change/", PasswordChangeView.as_view(
          form_class=ThrottledPasswordChangeForm), name="password_change")

- ``ThrottledAuthenticationForm`` (or its mixin, for a subclass of ``AuthenticationForm``):
  tells people a sign-in was refused for too many wrong passwords, instead of "wrong
  password" (with ``backends.ThrottledModelBackend``, which does the counting).
"""

from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from . import history, throttle
from .internal.flows.context import current_request


class ThrottledAuthenticationFormMixin:
    """For a subclass of Django's ``AuthenticationForm``."""

    def get_invalid_login_error(self):
        if throttle.was_throttled(self.request):
            return ValidationError(str(throttle.refusal(self.request)), code="throttled")
        return super().get_invalid_login_error()


class ThrottledAuthenticationForm(ThrottledAuthenticationFormMixin, AuthenticationForm):
    """Django's sign-in form, saying so when a sign-in was refused by the limits."""


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """``request`` defaults to the request being handled (the app's middleware knows it),
    so Django's ``PasswordChangeView`` needs no change beyond ``form_class``."""

    def __init__(self, user, *args, request=None, **kwargs) -> None:
        self.request = request or current_request()
        super().__init__(user, *args, **kwargs)

    @sensitive_variables("old_password")
    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        try:
            with throttle.attempt(self.request) as attempt:
                right = self.user.check_password(old_password)
                if right:
                    attempt.succeeded()
                elif attempt.opened_session_window and self.request is not None:
                    history.wrong_password(self.user, self.request.session.session_key)
        except throttle.Throttled as refused:
            raise ValidationError(str(refused), code="throttled") from None
        if not right:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class ThrottledAdminPasswordChangeForm(ThrottledPasswordChangeForm):
    """The same, styled as the admin's own (``AdminPasswordChangeForm``)."""

    required_css_class = "required"
