"""An authentication backend whose password checks count against the wrong-password limits
(``throttle.py``), for every caller of ``authenticate()``: the sign-in page, the admin's,
a REST framework's basic authentication.

Put it in place of Django's ``ModelBackend``::

    AUTHENTICATION_BACKENDS = ["sessions_mgmt.backends.ThrottledModelBackend"]

or mix ``ThrottledBackendMixin`` in front of your own backend. A refused sign-in raises
``PermissionDenied``, which makes ``authenticate()`` stop and return ``None`` (Django then
sends ``user_login_failed``), so no later backend checks the password either. With
django-allauth, its own rate limits (``ACCOUNT_RATE_LIMITS``) cover its sign-in pages.
"""

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from . import throttle


class ThrottledBackendMixin:
    @sensitive_variables("password", "kwargs")
    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if password is None:  # not a password sign-in: nothing to count
            return super().authenticate(request, username=username, password=password, **kwargs)
        name = username
        if name is None:
            name = kwargs.get(get_user_model().USERNAME_FIELD)
        try:
            with throttle.attempt(request, account=str(name or "")) as attempt:
                user = super().authenticate(request, username=username, password=password, **kwargs)
                if user is not None:
                    attempt.succeeded()
                return user
        except throttle.Throttled as refused:
            raise PermissionDenied(str(refused)) from None

    async def aauthenticate(
        self, request: HttpRequest | None, username=None, password=None, **kwargs
    ):
        """``aauthenticate()`` (``alogin()`` under ASGI) counts exactly as ``authenticate()``
        does: the same check, run in a thread, as Django's own async sign-in runs its
        queries."""
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )


class ThrottledModelBackend(ThrottledBackendMixin, ModelBackend):
    """Django's ``ModelBackend``, with its password checks counted and limited."""
