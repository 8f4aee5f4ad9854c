"""Receivers that tie rows to Django's own sign-in and sign-out, and end the sessions of
users who are deleted, deactivated, or change their password.

Not covered, because Django sends no signal for them: ``QuerySet.update(is_active=False)``
and raw SQL. Use ``services.revoke_users()`` or ``manage.py revoke_sessions`` there."""

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import router
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils.translation import ngettext

from . import services
from .conf import app_settings
from .internal.flows import end, sign_in
from .internal.flows.context import current_request
from .internal.flows.sign_out import forget
from .models import DeviceSession, ending_requested


@receiver(ending_requested, sender=DeviceSession, dispatch_uid="sessions_mgmt.orm_delete")
def end_deleted_rows(sender, queryset, **kwargs) -> int:
    """The ORM's delete paths (``DeviceSession.delete()``, a queryset's ``delete()``) end
    the sessions through the one door, not only the rows."""
    return services.end_sessions(queryset)


@receiver(user_logged_in, dispatch_uid="sessions_mgmt.track_sign_in")
def track_sign_in(sender, request, user, **kwargs) -> None:
    """Give the new sign-in its row, within ``SESSIONS_MGMT_MAX_SESSIONS`` (counted again,
    for good, when the row is written: see ``flows.sign_in.begin``). Refused
    (``"deny_new"``), the sign-in is undone: the browser stays signed out and a message
    says why and what to do."""
    if request is None or not hasattr(request, "session") or not sign_in.tracks(user):
        return
    try:
        services.admit(user, request.COOKIES.get(settings.SESSION_COOKIE_NAME), lock=False)
        sign_in.begin(request, user)
    except services.SessionLimitReached as refused:
        end.flush(request.session)
        request.user = AnonymousUser()
        sign_in.refused(request, user, refused.limit)
        messages.error(
            request,
            ngettext(
                "You are already signed in on %(limit)d device, the most this site allows. "
                "To sign in here, first sign out there (Your devices), or wait until that "
                "sign-in expires.",
                "You are already signed in on %(limit)d devices, the most this site allows. "
                "To sign in here, first sign out on one of them (Your devices), or wait "
                "until one of those sign-ins expires.",
                refused.limit,
            )
            % {"limit": refused.limit},
            fail_silently=True,
        )


@receiver(user_logged_out, dispatch_uid="sessions_mgmt.forget_sign_out")
def forget_sign_out(sender, request, user, **kwargs) -> None:
    """``logout()`` flushes the store session itself; the row goes with it."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        forget(request, session.session_key, signed_out=True)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_mgmt.user_deleted")
def end_sessions_of_deleted_user(sender, instance, using=None, **kwargs) -> None:
    """Before the cascade removes the rows, end the sessions they stand for."""
    if not _signs_in(sender, using):
        return
    services.revoke_all(instance, reason=services.USER_DELETED)


# The password hash stored before this save, to notice a change once it is saved.
_STORED_PASSWORD = "_sessions_mgmt_stored_password"
_SET_PASSWORD = object()  # stands for "changed by set_password()"


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_mgmt.user_saving")
def remember_password(sender, instance, raw=False, using=None, update_fields=None, **kwargs):
    """Notice a password change at save time without watching every loaded user (every
    signed-in request loads one: that used to cost a receiver call per request).
    ``set_password()`` marks the change itself (Django keeps the raw password until the
    save is done); any other save that may write the password (``update_fields`` that
    include it, or none) reads the stored hash first: one query. Django's sign-in saves
    ``last_login`` alone, and costs nothing."""
    stored = None
    may_write = update_fields is None or "password" in update_fields
    if getattr(instance, "_password", None) is not None:
        stored = _SET_PASSWORD  # set_password() was called: a change, no need to look
    elif (
        may_write
        and not raw
        and not instance._state.adding
        and instance.pk is not None
        and "password" not in instance.get_deferred_fields()
    ):
        stored = (
            sender._base_manager.using(using)
            .filter(pk=instance.pk)
            .values_list("password", flat=True)
            .first()
        )
    setattr(instance, _STORED_PASSWORD, stored)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_mgmt.user_saved")
def end_sessions_after_account_change(sender, instance, created, using=None, **kwargs) -> None:
    """Deactivation ends every session; a password change ends every *other* one.

    Django's own hash check would sign the other sessions out only when they next come
    back; ending them now keeps the device list true. The session of the request that
    changed its own password stays (``update_session_auth_hash`` then re-keys it). Costs
    one query before a save that may write the password (``remember_password``), none
    otherwise. If the session store is down, the password is still
    saved and no error reaches the person (see ``services.end_after_account_change``).
    """
    if not _signs_in(sender, using):
        setattr(instance, _STORED_PASSWORD, None)
        return
    if getattr(instance, "is_active", True) is False:
        services.end_after_account_change(instance, None, reason=services.DEACTIVATED)
        return
    before, now = getattr(instance, _STORED_PASSWORD, None), instance.__dict__.get("password")
    setattr(instance, _STORED_PASSWORD, None)
    if created or before is None or now == before:
        return
    rehashed = _is_hash_upgrade(instance, kwargs.get("update_fields"))
    request = current_request()
    session = getattr(request, "session", None)
    own = session is not None and str(session.get(SESSION_KEY)) == str(instance.pk)
    if not rehashed:
        services.password_changed(instance, session.session_key if own else None)
        if not app_settings.SIGN_OUT_ON_PASSWORD_CHANGE:
            return
    services.end_after_account_change(
        instance,
        session.session_key if own else None,
        reason=services.PASSWORD_REHASHED if rehashed else services.PASSWORD_CHANGE,
    )


def _signs_in(user_model, using: str | None) -> bool:
    """Whether users saved to (or deleted from) database ``using`` are the ones who sign
    in: the database the user model is written to. With several databases, user pk 1 in
    another one is someone else, whose changes must not end this user 1's sessions."""
    return using is None or using == router.db_for_write(user_model)


def _is_hash_upgrade(instance, update_fields) -> bool:
    """Whether this save only re-encoded the same password (Django's ``check_password``
    upgrades a hash whose hasher or iteration count is outdated; it saves with
    ``update_fields=["password"]`` after clearing the raw password it just set, whereas
    ``set_password()`` + ``save()`` keeps the raw one until the save is done).

    Not a password change, so not reported as one; but the other sessions still end, since
    Django's own session check ties each session to the hash and refuses them from now on.
    """
    return (
        update_fields is not None
        and set(update_fields) == {"password"}
        and getattr(instance, "_password", "") is None
    )


def connect_user_proxies() -> None:
    """Saving or deleting a proxy of the user model (``class Staff(User): proxy = True``)
    sends signals with the proxy as sender: connect the same receivers for each proxy."""
    user_model = get_user_model()
    for model in apps.get_models():
        if model._meta.proxy and model._meta.concrete_model is user_model:
            uid = model._meta.label_lower
            pre_save.connect(remember_password, sender=model, dispatch_uid=f"{uid}.saving")
            post_save.connect(
                end_sessions_after_account_change, sender=model, dispatch_uid=f"{uid}.saved"
            )
            pre_delete.connect(
                end_sessions_of_deleted_user, sender=model, dispatch_uid=f"{uid}.deleted"
            )
