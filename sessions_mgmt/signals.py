"""Receivers that tie rows to Django's own sign-in and sign-out, and end the sessions of
users who are deleted or deactivated.

Not covered, because Django sends no signal for them: ``QuerySet.update(is_active=False)``
and raw SQL. Use ``services.revoke_users()`` or ``manage.py revoke_sessions`` there."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from . import services
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


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_mgmt.user_deleted")
def end_sessions_of_deleted_user(sender, instance, **kwargs) -> None:
    """Before the cascade removes the rows, end the sessions they stand for."""
    services.revoke_all(instance)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_mgmt.user_saved")
def end_sessions_of_deactivated_user(sender, instance, **kwargs) -> None:
    """A user saved with ``is_active=False`` keeps no live session (costs nothing otherwise)."""
    if getattr(instance, "is_active", True) is False:
        services.revoke_all(instance)
