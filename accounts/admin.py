from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import User


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
