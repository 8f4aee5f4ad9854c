"""Mount with ``path("me/", include("sessions_mgmt.api_urls"))`` for the documented paths."""

from django.urls import path, re_path

from . import api

app_name = "sessions_mgmt_api"

urlpatterns = [
    path("sessions", api.SessionListApi.as_view(), name="list"),
    path("sessions/revoke-all", api.RevokeAllApi.as_view(), name="revoke_all"),
    path("sessions/events", api.EventListApi.as_view(), name="events"),
    path("sessions/<str:public_id>", api.SessionDetailApi.as_view(), name="detail"),
    path("reauthenticate", api.ReauthenticateApi.as_view(), name="reauthenticate"),
    re_path(r"^.*$", api.not_found),
]
