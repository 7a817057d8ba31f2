from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, Department, Role, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "scope", "department", "is_active", "is_demo"]
    list_filter = ["role", "department", "is_active", "is_demo"]
    search_fields = ["username", "display_name"]
    autocomplete_fields = ["scope"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("towngrid", {"fields": ["display_name", "role", "scope", "department", "is_demo", "failed_logins", "locked_until"]}),
    ]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "scope_kind", "capabilities"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "short_name", "sort", "active"]
    search_fields = ["code", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at", "revoked"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
