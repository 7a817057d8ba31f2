from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from . import second_factor
from .models import ApiToken, Department, Role, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "display_name",
        "role",
        "scope",
        "department",
        "is_active",
        "is_demo",
    ]
    list_filter = ["role", "department", "is_active", "is_demo"]
    search_fields = ["username", "display_name"]
    autocomplete_fields = ["scope"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            "towngrid",
            {
                "fields": [
                    "display_name",
                    "role",
                    "scope",
                    "department",
                    "is_demo",
                    "failed_logins",
                    "locked_until",
                    "totp_confirmed_at",
                ]
            },
        ),
    ]
    readonly_fields = ["totp_confirmed_at"]
    actions = ["reset_second_factor"]

    @admin.action(description=_("重置双因素验证器（手机丢失时）"))
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            second_factor.reset(user, actor=request.user, reason="reset in the admin")
        self.message_user(
            request, _("已重置 %(n)d 个账户的双因素验证器。") % {"n": queryset.count()}
        )


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "scope_kind", "capabilities"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "short_name", "sort", "active"]
    search_fields = ["code", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by ``accounts.actions.issue_token`` (the key is shown once); here they can
    only be inspected and revoked."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["user", "name", "prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        from . import actions

        if change and "revoked" in form.changed_data and obj.revoked:
            obj.revoked = False  # let the action do it, so it is audited
            actions.revoke_token(request.user, obj, reason="revoked in the admin")
            form.changed_data.remove("revoked")
        super().save_model(request, obj, form, change)
