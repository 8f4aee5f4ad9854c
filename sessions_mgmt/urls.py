from django.urls import path

from . import api, views

app_name = "sessions_mgmt"

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="device_list"),
    path("activity/", views.ActivityView.as_view(), name="activity"),
    path("<uuid:public_id>/", views.DeviceDetailView.as_view(), name="device_detail"),
    path("<uuid:public_id>/sign-out/", views.RevokeDeviceView.as_view(), name="revoke"),
    path("sign-out-others/", views.RevokeOtherDevicesView.as_view(), name="revoke_others"),
    path("not-me/<str:token>/", views.NotMeView.as_view(), name="not_me"),
    path("bound/register/", api.RegisterBindingApi.as_view(), name="bound_register"),
    path("bound/refresh/", api.RefreshBindingApi.as_view(), name="bound_refresh"),
    path(
        "sign-out-others/confirm/",
        views.ConfirmRevokeOthersView.as_view(),
        name="confirm_revoke_others",
    ),
]
