"""The demo's sign-in form: Django's, plus "Remember me"."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class SignInForm(AuthenticationForm):
    remember_me = forms.BooleanField(label=_("Remember me"), required=False)
