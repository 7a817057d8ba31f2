"""The sensing back office: device types, devices, rules (type rules with per-device overrides)
and case policies are data edited here (audited); alarms and observations are read-only (their
changes go through ``sensing.actions``); dead letters can be replayed."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from towngrid.core.admin import AuditedAdminMixin

from . import actions
from .errors import SensingError
from .models import Alarm, CasePolicy, DeadLetter, Device, DeviceType, Rule


class TypeRuleInline(admin.TabularInline):
    model = Rule
    fk_name = "device_type"
    fields = [
        "code", "name", "metric", "operator", "threshold", "text_value", "clear_threshold",
        "duration_minutes", "repeat_count", "auto_clear_minutes", "severity", "alarm_type",
        "is_active",
    ]  # fmt: skip
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(device=None)


@admin.register(DeviceType)
class DeviceTypeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "sensing.device_type"
    list_display = ["code", "name", "silence_minutes"]
    search_fields = ["code", "name"]
    inlines = [TypeRuleInline]


class OverrideInline(admin.TabularInline):
    model = Rule
    fk_name = "device"
    fields = TypeRuleInline.fields
    extra = 0
    verbose_name = _("单设备规则覆盖")
    verbose_name_plural = _("单设备规则覆盖（与类型规则同编码即替换）")


@admin.register(Device)
class DeviceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "sensing.device"
    list_display = [
        "code",
        "name",
        "device_type",
        "grid_code",
        "state",
        "last_seen_at",
        "battery",
        "is_active",
    ]
    list_filter = ["device_type", "state", "protocol", "is_active"]
    search_fields = ["code", "name", "address", "grid_code"]
    readonly_fields = [
        "secret_hash",
        "secret_rotated_at",
        "state",
        "last_seen_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["grid"]
    inlines = [OverrideInline]
    actions = ["rotate_secrets"]

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            if inline_form.instance and not inline_form.instance.device_type_id:
                inline_form.instance.device_type = form.instance.device_type
        super().save_formset(request, form, formset, change)

    @admin.action(description=_("更换接入密钥（新密钥只显示一次）"))
    def rotate_secrets(self, request, queryset):
        for device in queryset:
            secret = actions.rotate_secret(device, actor=request.user)
            self.message_user(request, f"{device.code}: {secret}", messages.WARNING)


@admin.register(Rule)
class RuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "sensing.rule"
    list_display = [
        "code", "name", "device_type", "device", "metric", "operator", "threshold",
        "clear_threshold", "duration_minutes", "repeat_count", "severity", "alarm_type",
        "is_active",
    ]  # fmt: skip
    list_filter = ["device_type", "severity", "is_active"]
    search_fields = ["code", "name", "alarm_type", "device__code"]
    raw_id_fields = ["device"]


@admin.register(CasePolicy)
class CasePolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "sensing.case_policy"
    list_display = [
        "alarm_type", "name", "category", "department", "min_severity", "min_confidence",
        "join_window_minutes", "is_active",
    ]  # fmt: skip
    list_filter = ["is_active", "min_severity"]
    autocomplete_fields = ["category", "department"]


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "device",
        "alarm_type",
        "severity",
        "status",
        "count",
        "started_at",
        "last_seen_at",
        "case",
    ]
    list_filter = ["status", "severity", "alarm_type"]
    search_fields = ["device__code", "alarm_type", "grid_code"]
    readonly_fields = [f.name for f in Alarm._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["id", "received_at", "transport", "device_code", "first_reason", "replayed_at"]
    list_filter = ["transport", ("replayed_at", admin.EmptyFieldListFilter)]
    search_fields = ["device_code", "topic", "payload"]
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["replay"]

    @admin.display(description=_("原因"))
    def first_reason(self, obj) -> str:
        reasons = obj.reasons or []
        if not reasons:
            return ""
        first = reasons[0]
        more = f"（另 {len(reasons) - 1} 条）" if len(reasons) > 1 else ""
        return f"{first.get('field') or '报文'}：{first.get('message')}{more}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("重放所选死信"))
    def replay(self, request, queryset):
        stored = failed = 0
        for dead_letter in queryset:
            try:
                result = actions.replay_dead_letter(dead_letter, actor=request.user)
            except SensingError as exc:
                self.message_user(request, f"#{dead_letter.pk}: {exc.message}", messages.WARNING)
                continue
            if result.stored or result.duplicates:
                stored += 1
            else:
                failed += 1
        self.message_user(request, f"重放成功 {stored} 条，仍无效 {failed} 条。")
