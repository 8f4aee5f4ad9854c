"""The demo's sign-in form: Django's, plus "Remember me", saying so when wrong passwords
were too many (``SESSIONS_MGMT_PASSWORD_LIMITS``)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sessions_mgmt.forms import ThrottledAuthenticationForm


class SignInForm(ThrottledAuthenticationForm):
    remember_me = forms.BooleanField(label=_("Remember me"), required=False)
