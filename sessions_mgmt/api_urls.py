"""Mount with ``path("me/", include("sessions_mgmt.api_urls"))`` for the documented paths.

The API answers JSON 404 below its own routes only (``sessions/…``, ``reauthenticate/…``):
a host's routes beside it under the same prefix, wherever they are declared, stay the
host's, and so does its 404 for any other path."""

from django.urls import path, re_path

from . import api

app_name = "sessions_mgmt_api"

urlpatterns = [
    path("sessions", api.SessionListApi.as_view(), name="list"),
    path("sessions/revoke-all", api.RevokeAllApi.as_view(), name="revoke_all"),
    path("sessions/events", api.EventListApi.as_view(), name="events"),
    path("sessions/<str:public_id>", api.SessionDetailApi.as_view(), name="detail"),
    path("reauthenticate", api.ReauthenticateApi.as_view(), name="reauthenticate"),
    re_path(r"^(sessions|reauthenticate)/", api.not_found),
]
