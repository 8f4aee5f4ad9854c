"""Receivers that tie rows to Django's own sign-in and sign-out."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .middleware import forget, start_tracking


@receiver(user_logged_in, dispatch_uid="sessions_mgmt.track_sign_in")
def track_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        start_tracking(request, user)


@receiver(user_logged_out, dispatch_uid="sessions_mgmt.forget_sign_out")
def forget_sign_out(sender, request, user, **kwargs) -> None:
    """``logout()`` flushes the store session itself; the row goes with it."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        forget(request, session.session_key)
