from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from sessions_mgmt.views import admin_password_change

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sessions_mgmt:device_list"), name="home"),
    path("admin/password_change/", admin_password_change(admin.site)),
    path("admin/", admin.site.urls),
    path("accounts/devices/", include("sessions_mgmt.urls")),
    path("accounts/", include("accounts.urls")),
    path("me/", include("sessions_mgmt.api_urls")),
]
