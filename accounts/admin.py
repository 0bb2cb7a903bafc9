from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import TokenProxy

from accounts.models import User

# DRF's token admin lists every key, and a key is a login. Its admin module is imported
# before ours (INSTALLED_APPS order), so it is registered by now.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    # openid is deliberately absent from every list, form and search field.
    list_display = ["username", "nickname", "kind", "is_staff", "date_joined"]
    list_filter = ["kind", "is_staff", "is_superuser", "groups"]
    search_fields = ["username", "nickname", "email"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Huiliao"), {"fields": ("nickname", "avatar_url", "kind")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Huiliao"), {"fields": ("nickname", "kind")}),
    )

    def lookup_allowed(self, lookup, value, request=None):
        # ?openid=… would let anyone with the admin confirm who a WeChat user is.
        if lookup.split("__", 1)[0] == "openid":
            return False
        return super().lookup_allowed(lookup, value, request)
