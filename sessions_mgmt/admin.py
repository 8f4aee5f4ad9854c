"""Staff see and end sessions in the Django admin; every ending goes through services.

The session key is never shown: it is excluded from every list, form and inline, and the
admin addresses rows by primary key. It can't be *probed* either: Django's admin accepts
query-string lookups on any local field (``?session_key__startswith=ab``), and a count that
depends on the key would let view-only staff rebuild anyone's key a character at a time. Every
lookup whose path names the key is refused (400) before any query runs, so the answer never
depends on it.
"""

import logging

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import DeviceSession, SessionEvent

logger = logging.getLogger(__name__)

DISPLAY_FIELDS = (
    "user",
    "device_name",
    "browser",
    "os",
    "device_type",
    "ip",
    "user_agent",
    "created_at",
    "last_active_at",
    "expires_at",
    "bound_at",
    "public_id",
)


def _user_search_fields() -> tuple[str, ...]:
    """The user's ``USERNAME_FIELD`` and email field (whatever the user model calls them),
    and the IP address."""
    user_model = get_user_model()
    fields = [f"user__{user_model.USERNAME_FIELD}"]
    email = user_model.get_email_field_name()
    if email and email != user_model.USERNAME_FIELD:
        fields.append(f"user__{email}")
    return (*fields, "ip")


class LiveFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return [("yes", _("Live")), ("no", _("Expired"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(expires_at__gt=timezone.now())
        if self.value() == "no":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


def names_session_key(lookup: str) -> bool:
    """Whether a lookup path reaches a session key, directly or through a relation."""
    return "session_key" in lookup.split(LOOKUP_SEP)


def _report(modeladmin, request: HttpRequest, count: int) -> None:
    modeladmin.message_user(
        request,
        ngettext("Revoked %(count)d session.", "Revoked %(count)d sessions.", count)
        % {"count": count},
        messages.SUCCESS,
    )


def _store_failed(modeladmin, request: HttpRequest) -> None:
    modeladmin.message_user(
        request,
        _(
            "The session store could not be reached. The sessions that were not ended are "
            "still live and still listed; please try again."
        ),
        messages.ERROR,
    )


def _with_liveness(rows):
    """The rows with their sessions' live values (last active, IP, expiry), read from the
    session store in one round trip; the rows' own copies if the store cannot answer."""
    try:
        return services.with_liveness(rows)
    except services.SessionStoreError as exc:
        logger.warning("Showing sessions' last copied activity: %r", exc)
        return rows


class DeviceSessionChangeList(ChangeList):
    """Each page's rows show their sessions' live values, as the devices page does.

    Sorting, the date hierarchy and the status filter read the rows' copies, which the
    pruning job (``revoke_sessions --expired``) brings up to date."""

    def get_results(self, request) -> None:
        super().get_results(request)
        _with_liveness(list(self.result_list))  # fills the page's result cache


@admin.register(DeviceSession)
class DeviceSessionAdmin(admin.ModelAdmin):
    list_display = (
        "device_name",
        "user",
        "ip",
        "created_at",
        "last_active_at",
        "expires_at",
        "live",
        "device_bound",
    )
    list_filter = ("device_type", "browser", "os", LiveFilter)
    list_select_related = ("user",)
    fields = DISPLAY_FIELDS
    readonly_fields = DISPLAY_FIELDS
    ordering = ("-last_active_at",)
    date_hierarchy = "last_active_at"
    actions = ["revoke_selected"]

    def get_search_fields(self, request) -> tuple[str, ...]:
        return _user_search_fields()

    def get_changelist(self, request, **kwargs):
        return DeviceSessionChangeList

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        return obj if obj is None else _with_liveness([obj])[0]

    def lookup_allowed(self, lookup: str, value, request=None) -> bool:
        if names_session_key(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(boolean=True, description=_("live"))
    def live(self, obj: DeviceSession) -> bool:
        return obj.is_live

    @admin.display(boolean=True, description=_("bound to its device"))
    def device_bound(self, obj: DeviceSession) -> bool:
        return obj.device_bound

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(permissions=["delete"], description=_("Revoke selected sessions"))
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            _report(
                self,
                request,
                services.end_sessions(queryset, reason=services.ADMIN, actor=request.user),
            )
        except services.SessionStoreError:
            _store_failed(self, request)

    def delete_model(self, request, obj: DeviceSession) -> None:
        services.end_sessions(
            type(obj).objects.filter(pk=obj.pk), reason=services.ADMIN, actor=request.user
        )

    def delete_queryset(self, request, queryset) -> None:
        services.end_sessions(queryset, reason=services.ADMIN, actor=request.user)

    def changelist_view(self, request, extra_context=None):
        try:  # the bulk "Delete selected" action, when the store is down
            return super().changelist_view(request, extra_context)
        except services.SessionStoreError:
            return self._store_failed_response(request)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.SessionStoreError:
            return self._store_failed_response(request)

    def _store_failed_response(self, request: HttpRequest) -> HttpResponseRedirect:
        _store_failed(self, request)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
        )


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin):
    """The security history: filterable, searchable, never editable (append-only)."""

    list_display = ("at", "user", "type", "device", "reason", "ip", "actor")
    list_filter = ("type", "reason", "at")
    list_select_related = ("user", "actor")
    date_hierarchy = "at"
    readonly_fields = [field.name for field in SessionEvent._meta.fields]

    def get_search_fields(self, request) -> tuple[str, ...]:
        return _user_search_fields()

    @admin.display(description=_("device"))
    def device(self, event: SessionEvent) -> str:
        return event.device_name

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeviceSessionInline(admin.TabularInline):
    """Read-only list of a user's devices, for your own ``UserAdmin.inlines``."""

    model = DeviceSession
    fields = ("device_name", "ip", "created_at", "last_active_at", "expires_at")
    readonly_fields = fields
    ordering = ("-last_active_at",)
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("signed-in devices")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description=_("Sign out of all devices"))
def sign_out_all_devices(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    """A user-admin action: end every session of the selected users.

    Needs the permission to delete device sessions, checked here because the action lives
    on another model's admin.
    """
    if not request.user.has_perm(f"{DeviceSession._meta.app_label}.delete_devicesession"):
        modeladmin.message_user(
            request, _("You do not have permission to sign users out."), messages.ERROR
        )
        return
    try:
        count = services.revoke_users(queryset, reason=services.ADMIN, actor=request.user)
        _report(modeladmin, request, count)
    except services.SessionStoreError:
        _store_failed(modeladmin, request)
