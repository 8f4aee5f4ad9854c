"""The JSON API for single-page and mobile clients, with the HTML page's semantics.

``GET /me/sessions``, ``DELETE /me/sessions/<id>``, ``POST /me/sessions/revoke-all``,
``GET /me/sessions/events`` (the security history).
The session cookie is the credential, so unsafe methods need the CSRF token in the
``X-CSRFToken`` header. Every answer, errors included, is JSON; an error has an ``error`` key.

Also the browser's own JSON endpoints for device-bound sessions (``bound/register/``,
``bound/refresh/`` under ``sessions_mgmt.urls``), whose rules are in ``binding``.
"""

import json
import logging
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from . import binding, location, services
from .conf import app_settings
from .internal.flows.context import JSON_ERRORS
from .internal.flows.request import save_changes, sync
from .models import DeviceSession, SessionEvent
from .reauth import PasswordReauth, confirm_password, reauth_backend, recently_authenticated
from .throttle import Throttled

logger = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds, in 503 answers
EVENTS_PER_PAGE = 50


def error(message: str, status: int, **headers) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers)


def store_unavailable() -> JsonResponse:
    return error(
        _(
            "The session store is unavailable. Nothing was hidden: sessions not ended are "
            "still listed. Try again later."
        ),
        503,
        **{"Retry-After": str(RETRY_AFTER)},
    )


def database_unavailable() -> JsonResponse:
    return error(
        _("The database is busy or unavailable. Try again shortly."),
        503,
        **{"Retry-After": str(RETRY_AFTER)},
    )


def serialize(row: DeviceSession) -> dict:
    data = {
        "id": str(row.public_id),
        "deviceName": row.display_name,
        "ip": row.ip,
        "lastActiveAt": row.last_active_at.isoformat(),
        "createdAt": row.created_at.isoformat(),
        "expiresAt": row.expires_at.isoformat(),
        "isCurrent": row.is_current,
        "deviceBound": row.device_bound,
    }
    if location.available():  # only with the geo extra
        data["location"] = row.display_location
    return data


def _csrf_failed(request: HttpRequest) -> bool:
    """Django's own CSRF check, run here so that a failure can be answered in JSON."""
    checker = CsrfViewMiddleware(lambda request: None)
    return checker.process_view(request, None, (), {}) is not None


@method_decorator([csrf_exempt, never_cache, login_not_required], name="dispatch")
class JsonView(View):
    """Every answer in JSON, errors included: a body too large (413) or unreadable (400), the
    store or database unavailable (503), any other failure (500). ``LoginRequiredMiddleware``
    is told to leave these views alone: it would answer a JSON client with a redirect to an
    HTML page."""

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        setattr(request, JSON_ERRORS, True)  # the middleware answers its own errors in JSON
        try:
            return self.answer(request, *args, **kwargs)
        except RequestDataTooBig:
            return error(_("The request body is too large."), 413)
        except (SuspiciousOperation, UnreadablePostError):  # too many fields or files, …
            return error(_("The request body could not be read: too many fields, or cut off."), 400)
        except services.SessionStoreError:
            return store_unavailable()
        except OperationalError:  # "database is locked", a lost connection: worth a retry
            logger.warning("Session API: database unavailable on %s", request.path)
            return database_unavailable()
        except Exception:  # answered in JSON too, never as an HTML error page
            logger.exception("Session API error on %s %s", request.method, request.path)
            return error(_("Internal error."), 500)

    def answer(self, request: HttpRequest, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs):
        allowed = ", ".join(m.upper() for m in self._allowed_methods())
        message = _("Method %(method)s not allowed; use %(allowed)s.") % {
            "method": request.method,
            "allowed": allowed,
        }
        return error(message, 405, Allow=allowed)


class ApiView(JsonView):
    """The session API: authentication (401), method (405), CSRF and recent-authentication
    (403) checks, in JSON."""

    needs_recent_auth = True

    def answer(self, request: HttpRequest, *args, **kwargs):
        response = self._checked_dispatch(request, *args, **kwargs)
        if response.status_code < 500 and not save_changes(request):
            return error(_("Your session ended while this request ran. Sign in again."), 401)
        return response

    def _checked_dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return error(_("Authentication required: sign in first."), 401)
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return self.http_method_not_allowed(request, *args, **kwargs)
        if method not in ("get", "head", "options", "trace"):
            request.body  # noqa: B018 (reading it applies Django's size limit, for any type)
            if _csrf_failed(request):
                return error(
                    _(
                        "CSRF check failed: send the csrftoken cookie's value in the "
                        "X-CSRFToken header."
                    ),
                    403,
                )
            if self.needs_recent_auth and not recently_authenticated(request):
                return error("reauthentication_required", 403)
        return super().answer(request, *args, **kwargs)


class SessionListApi(ApiView):
    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> JsonResponse:
        sync(request)  # adopt a session signed in before the app was installed
        rows = services.list_devices(request.user, request.session.session_key)
        return JsonResponse([serialize(row) for row in rows], safe=False)


def serialize_event(event: SessionEvent) -> dict:
    """One event of the history; fields that do not apply are null."""
    has_reason = event.type in (SessionEvent.Type.REVOKED, SessionEvent.Type.EXPIRED)
    data = {
        "id": str(event.public_id),
        "type": event.type,
        "at": event.at.isoformat(),
        "sessionId": str(event.session_id) if event.session_id else None,
        "deviceName": event.device_name or None,
        "ip": event.ip,
        "location": event.display_location or None,
        "reason": (event.reason or None) if has_reason else None,
        "byDeviceName": event.by_device_name or None,
    }
    return data


class EventListApi(ApiView):
    """``GET /me/sessions/events``: the caller's security history, newest first,
    ``EVENTS_PER_PAGE`` at a time; ``next`` is the URL of the next page (or null)."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> JsonResponse:
        events = services.events_of(request.user)
        before = request.GET.get("before")
        if before is not None:
            try:
                cursor = events.get(public_id=uuid.UUID(before))
            except (ValueError, SessionEvent.DoesNotExist):
                return error(_("Unknown page: use the next URL of the previous answer."), 400)
            events = events.filter(Q(at__lt=cursor.at) | Q(at=cursor.at, pk__lt=cursor.pk))
        page = list(events[: EVENTS_PER_PAGE + 1])
        more, page = len(page) > EVENTS_PER_PAGE, page[:EVENTS_PER_PAGE]
        next_url = f"{request.path}?{urlencode({'before': page[-1].public_id})}" if more else None
        return JsonResponse({"events": [serialize_event(e) for e in page], "next": next_url})


class SessionDetailApi(ApiView):
    http_method_names = ["get", "head", "delete", "options"]

    def get(self, request: HttpRequest, public_id: str) -> JsonResponse:
        """The list's object, plus the full User-Agent, where it signed in, and its own
        events (newest first)."""
        try:
            row = services.live_session(request.user, public_id, request.session.session_key)
        except DeviceSession.DoesNotExist:
            return error(_("Session not found"), 404)
        events = services.session_events(request.user, row)[:EVENTS_PER_PAGE]
        data = serialize(row)
        data.update(
            {
                "userAgent": row.user_agent,
                "firstIp": row.first_ip,
                "firstLocation": row.display_first_location or None,
                "events": [serialize_event(event) for event in events],
            }
        )
        return JsonResponse(data)

    def delete(self, request: HttpRequest, public_id: str) -> JsonResponse:
        try:
            services.revoke(
                request.user, public_id, current_session_key=request.session.session_key
            )
        except DeviceSession.DoesNotExist:
            return error(_("Session not found"), 404)
        except services.CurrentSessionError:
            logout_url = resolve_url(app_settings.LOGOUT_URL)
            return error(
                _("This is the current session. To end it, sign out: POST %(url)s")
                % {"url": logout_url},
                400,
            )
        return JsonResponse({"message": _("Session revoked.")})


class RevokeAllApi(ApiView):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> JsonResponse:
        count = services.revoke_others(request.user, request.session.session_key)
        return JsonResponse(
            {"message": _("All other sessions have been revoked."), "revoked": count}
        )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ReauthenticateApi(ApiView):
    """``POST /me/reauthenticate`` with ``{"password": "…"}`` (JSON or form): confirm it's
    you, so that revoking works for the next ``SESSIONS_MGMT_REAUTH_WINDOW`` seconds."""

    http_method_names = ["post", "options"]
    needs_recent_auth = False

    @method_decorator(sensitive_variables("password"))
    def post(self, request: HttpRequest) -> JsonResponse:
        if not isinstance(reauth_backend(), PasswordReauth):
            return error(
                _("Confirm it's you through the site's own reauthentication (e.g. allauth's)."),
                409,
            )
        if not request.user.has_usable_password():
            return error(_("This account has no password: sign in again instead."), 409)
        password = request.POST.get("password")
        if password is None and request.content_type == "application/json":
            try:
                password = json.loads(request.body or b"{}").get("password")
            except (ValueError, AttributeError, RecursionError):  # RecursionError: too deep
                return error(_('The body must be JSON: {"password": "…"}.'), 400)
        if not isinstance(password, str) or not password:
            return error(_('Send the account\'s password as "password".'), 400)
        try:
            problem = confirm_password(request, password)
        except Throttled as refused:  # too many (429), or the counting cache down (503)
            return error(str(refused), refused.status, **{"Retry-After": str(refused.window)})
        if problem is None:
            return JsonResponse({"message": _("Confirmed.")})
        return error(problem, 400)


@login_not_required
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return error(_("Not found"), 404)


class DeviceBindingApi(JsonView):
    """The browser's own endpoints for device-bound sessions (``binding``). Not
    CSRF-protected and open to strangers: the browser sends them without a token, the
    refresh comes without a fresh bound cookie, and each is authenticated by the session
    and a proof signed with the device's key."""

    http_method_names = ["post"]
    action: Callable[[HttpRequest], HttpResponse]

    def answer(self, request: HttpRequest, *args, **kwargs):
        if not app_settings.DEVICE_BOUND:
            return error(_("Device-bound sessions are not enabled."), 404)
        return super().answer(request, *args, **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            return type(self).action(request)
        except binding.Refused as exc:
            return error(exc.message, exc.status)


class RegisterBindingApi(DeviceBindingApi):
    action = binding.register


class RefreshBindingApi(DeviceBindingApi):
    action = binding.refresh
