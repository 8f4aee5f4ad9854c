"""The test project's user admin: Django's own plus the app's inline and action, the two
lines the README gives for any user admin."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from sessions_mgmt.admin import DeviceSessionInline, sign_out_all_devices

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [*DjangoUserAdmin.inlines, DeviceSessionInline]
    actions = [*DjangoUserAdmin.actions, sign_out_all_devices]
