"""The "Your devices" page and its two sign-out forms (POST, CSRF, post/redirect/get)."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import ListView, TemplateView

from . import services
from .alerts import session_for_token
from .conf import app_settings
from .forms import ThrottledAdminPasswordChangeForm
from .internal.flows.request import sync
from .models import DeviceSession
from .reauth import RecentAuthRequiredMixin

LIST_URL = "sessions_mgmt:device_list"
RECENT_EVENTS = 10  # on the devices page; the rest on the activity page
DETAIL_EVENTS = 50  # on a session's own page


@method_decorator(never_cache, name="dispatch")
class DeviceListView(LoginRequiredMixin, TemplateView):
    template_name = "sessions_mgmt/device_list.html"

    def get_context_data(self, **kwargs):
        sync(self.request)  # a session signed in before the app was installed gets its row now
        devices = services.list_devices(self.request.user, self.request.session.session_key)
        recent = services.events_of(self.request.user)[:RECENT_EVENTS]
        limit = services.session_limit(self.request.user)
        limit_note = (
            ngettext(
                "Signed in on %(count)d of at most %(limit)d device.",
                "Signed in on %(count)d of at most %(limit)d devices.",
                limit,
            )
            % {"count": len(devices), "limit": limit}
            if limit is not None
            else ""
        )
        return super().get_context_data(
            devices=devices, recent_events=recent, limit_note=limit_note, **kwargs
        )


@method_decorator(never_cache, name="dispatch")
class DeviceDetailView(LoginRequiredMixin, TemplateView):
    """One session: its full User-Agent, where it signed in and was last seen, its times
    and its own history. The same 404 as revoking for ids that are not the person's."""

    template_name = "sessions_mgmt/device_detail.html"

    def get(self, request: HttpRequest, public_id) -> HttpResponse:
        try:
            device = services.live_session(request.user, public_id, request.session.session_key)
        except DeviceSession.DoesNotExist:
            return render(request, "sessions_mgmt/device_not_found.html", status=404)
        if device.is_current:  # this browser's own session knows best (even mid-request)
            device.ends_with_browser = request.session.get_expire_at_browser_close()
        events = services.session_events(request.user, device)[:DETAIL_EVENTS]
        return self.render_to_response(self.get_context_data(device=device, events=events))


@method_decorator(never_cache, name="dispatch")
class ActivityView(LoginRequiredMixin, ListView):
    """The whole security history of the account, newest first, a page at a time."""

    template_name = "sessions_mgmt/activity.html"
    paginate_by = 50

    def get_queryset(self):
        return services.events_of(self.request.user)


@method_decorator(never_cache, name="dispatch")
class ConfirmRevokeOthersView(LoginRequiredMixin, TemplateView):
    """The confirmation step before "Sign out of all other devices": works without JS."""

    template_name = "sessions_mgmt/confirm_revoke_others.html"

    def get_context_data(self, **kwargs):
        devices = services.list_devices(self.request.user, self.request.session.session_key)
        others = [device for device in devices if not device.is_current]
        return super().get_context_data(others=others, **kwargs)


@method_decorator(never_cache, name="dispatch")
class RevokeDeviceView(LoginRequiredMixin, RecentAuthRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, public_id) -> HttpResponse:
        try:
            row = services.revoke(
                request.user, public_id, current_session_key=request.session.session_key
            )
        except DeviceSession.DoesNotExist:
            return render(request, "sessions_mgmt/device_not_found.html", status=404)
        except services.CurrentSessionError:
            messages.error(
                request,
                _("This is the device you are using. To sign out here, use Sign out."),
            )
        except services.SessionStoreError:
            messages.error(
                request,
                _(
                    "We could not sign that device out just now. Nothing was changed; "
                    "please try again in a moment."
                ),
            )
        else:
            messages.success(request, _("Signed out of %(device)s.") % {"device": row.display_name})
        return redirect(LIST_URL)


@method_decorator(never_cache, name="dispatch")
class RevokeOtherDevicesView(LoginRequiredMixin, RecentAuthRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            count = services.revoke_others(request.user, request.session.session_key)
        except services.SessionStoreError:
            messages.error(
                request,
                _(
                    "We could not sign out your other devices just now. Some may still be "
                    "signed in; they are still listed. Please try again in a moment."
                ),
            )
        else:
            if count:
                messages.success(
                    request,
                    ngettext(
                        "Signed out of %(count)d other device.",
                        "Signed out of %(count)d other devices.",
                        count,
                    )
                    % {"count": count},
                )
            else:
                messages.info(request, _("No other device was signed in."))
        return redirect(LIST_URL)


@method_decorator([never_cache, login_not_required], name="dispatch")
class NotMeView(View):
    """The "This wasn't me" link of a new-device alert. GET only shows what it will do (mail
    scanners follow links); the POST signs that one session out. The signed link is the
    credential, so it works without signing in (also under ``LoginRequiredMiddleware``)."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        row = session_for_token(token)
        if row is None:
            return render(request, "sessions_mgmt/not_me_invalid.html", status=410)
        return render(request, "sessions_mgmt/not_me_confirm.html", {"device": row})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        row = session_for_token(token)
        if row is None:
            return render(request, "sessions_mgmt/not_me_invalid.html", status=410)
        try:
            services.not_me(row)
        except services.SessionStoreError:
            messages.error(
                request, _("We could not sign that device out just now. Please try again.")
            )
            return render(request, "sessions_mgmt/not_me_confirm.html", {"device": row}, status=503)
        password_change_url = resolve_url(app_settings.PASSWORD_CHANGE_URL)
        return render(
            request,
            "sessions_mgmt/not_me_done.html",
            {"device": row, "password_change_url": password_change_url},
        )


def admin_password_change(site) -> Callable[[HttpRequest], HttpResponse]:
    """The Django admin's "Change password" page, with its old-password check counted
    against the wrong-password limits (the admin's own uses Django's form). Mount it just
    before the admin's URLs, at the path the admin links to::

        path("admin/password_change/", admin_password_change(admin.site)),
        path("admin/", admin.site.urls),
    """

    def view(request: HttpRequest) -> HttpResponse:
        request.current_app = site.name
        return never_cache(
            PasswordChangeView.as_view(
                form_class=ThrottledAdminPasswordChangeForm,
                success_url=reverse("admin:password_change_done", current_app=site.name),
                extra_context=site.each_context(request),
                template_name=site.password_change_template
                or "registration/password_change_form.html",
            )
        )(request)

    return site.admin_view(view)
