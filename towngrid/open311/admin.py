"""Open311 keys in the back office: add one (the key is shown once, in the success message),
change its rate limit, revoke it (audited through ``actions.revoke_key``). The services' extra
questions (``ServiceAttribute``) are reference data, edited here and audited."""

from django.contrib import admin, messages

from towngrid.core.admin import AuditedAdminMixin

from . import actions
from .models import ApiKey, ServiceAttribute


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "rate_limit_per_minute",
        "active",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["active"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "rate_limit_per_minute"]
        return [
            "name",
            "prefix",
            "rate_limit_per_minute",
            "active",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        # A revoked key stays revoked: re-activating would bring back a key that may have leaked.
        return [*self.readonly_fields, "active"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = actions.issue_key(
            obj.name, rate_limit_per_minute=obj.rate_limit_per_minute, actor=request.user
        )
        obj.pk = key.pk
        obj.prefix, obj.key_hash, obj.created_at = key.prefix, key.key_hash, key.created_at
        messages.warning(request, f"新密钥（仅显示这一次，请立即复制）：{raw}")

    @admin.action(description="吊销所选密钥")
    def revoke(self, request, queryset):
        for key in queryset:
            actions.revoke_key(key, actor=request.user, reason="revoked in the admin")


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "open311.attribute"
    list_display = [
        "category",
        "order",
        "code",
        "description",
        "datatype",
        "required",
        "variable",
        "stops",
    ]
    list_display_links = ["code", "description"]
    list_filter = ["datatype", "required", "category__major"]
    list_select_related = ["category"]
    search_fields = ["code", "description", "category__name", "category__full_code"]
    autocomplete_fields = ["category"]
    fields = [
        "category",
        "code",
        "order",
        "description",
        "datatype",
        "datatype_description",
        "variable",
        "required",
        "values",
        "stops_submission_on",
        "stop_message",
    ]

    @admin.display(description="停止上报", boolean=True)
    def stops(self, obj) -> bool:
        return bool(obj.stops_submission_on)
