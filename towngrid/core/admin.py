import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from . import config
from .models import AuditEvent, CalendarOverride, Setting


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: no one adds, changes or deletes events here, and only the
    superuser and roles with ``audit.view`` (the audit administrator, 三权分立) may read it."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "client_ip"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "action", "object_repr", "object_id", "reason", "client_ip"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_name",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "reason",
        "client_ip",
    ]
    actions = None

    def _may_read(self, request) -> bool:
        from towngrid.accounts.access import has_capability

        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.is_superuser or has_capability(request.user, "audit.view"))
        )

    def has_module_permission(self, request):
        return self._may_read(request)

    def has_view_permission(self, request, obj=None):
        return self._may_read(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdminMixin:
    """Reference data edited in the admin is audited like any action: one ``core.audit`` event
    per saved or deleted object (and per changed inline row), with the changed fields."""

    audit_prefix = ""  # e.g. "cases.category"; defaults to the model label

    def _audit_action(self, obj, verb: str) -> str:
        # Inline rows (a subclass's time limits) are named after their own model.
        own = isinstance(obj, self.model) and self.audit_prefix
        return f"{own or obj._meta.label_lower}.admin_{verb}"

    @staticmethod
    def _changes(form) -> dict:
        if form is None or not form.has_changed():
            return {}
        return {
            name: [str(form.initial.get(name, "")), str(form.cleaned_data.get(name, ""))]
            for name in form.changed_data
        }

    def save_model(self, request, obj, form, change):
        from .audit import record

        with transaction.atomic():
            super().save_model(request, obj, form, change)
            record(
                request.user,
                self._audit_action(obj, "change" if change else "add"),
                obj,
                changes=self._changes(form),
            )

    def delete_model(self, request, obj):
        from .audit import record

        with transaction.atomic():
            record(request.user, self._audit_action(obj, "delete"), obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        from .audit import record

        with transaction.atomic():
            for obj in queryset:
                record(request.user, self._audit_action(obj, "delete"), obj)
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        from .audit import record

        with transaction.atomic():
            for inline_form in formset.deleted_forms:
                if inline_form.instance.pk:
                    record(
                        request.user,
                        self._audit_action(inline_form.instance, "delete"),
                        inline_form.instance,
                    )
            super().save_formset(request, form, formset, change)
            for inline_form in formset.forms:
                if inline_form in formset.deleted_forms or not inline_form.has_changed():
                    continue
                if inline_form.instance.pk:
                    record(
                        request.user,
                        self._audit_action(inline_form.instance, "change"),
                        inline_form.instance,
                        changes=self._changes(inline_form),
                    )


class SettingForm(forms.ModelForm):
    """The key is one of the registered keys; the value is checked by that key's validator, so
    a bad value is refused with a Chinese message before anything is stored."""

    key = forms.ChoiceField(label="键")
    value = forms.JSONField(
        label="值", help_text='JSON 格式，例如 50 或 [["09:00", "12:00"], ["13:00", "17:30"]]。'
    )

    class Meta:
        model = Setting
        fields = ["key", "value", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (e.key, f"{e.key} · {e.label}")
            for e in sorted(config.REGISTRY.values(), key=lambda e: e.key)
        ]
        if self.instance.pk and self.instance.key not in config.REGISTRY:
            choices.append((self.instance.key, f"{self.instance.key} · （未登记）"))
        self.fields["key"].choices = choices
        if (
            not self.instance.pk
            and "key" in self.initial
            and self.initial["key"] in config.REGISTRY
        ):
            self.initial.setdefault("value", config.REGISTRY[self.initial["key"]].default)

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("key")
        if key in config.REGISTRY and "value" in cleaned:
            try:
                cleaned["value"] = config.validate(key, cleaned["value"])
            except ValidationError as err:
                self.add_error("value", err)
        return cleaned


@admin.register(Setting)
class SettingAdmin(admin.ModelAdmin):
    """Configuration as data. Writes go through ``config.set_value`` / ``config.reset`` so they
    are validated and audited exactly as from code."""

    form = SettingForm
    list_display = ["key", "label", "value", "default", "updated_at"]
    search_fields = ["key", "note"]
    readonly_fields = ["updated_at", "default", "help"]
    fields = ["key", "value", "note", "default", "help", "updated_at"]

    @admin.display(description="名称")
    def label(self, obj) -> str:
        entry = config.REGISTRY.get(obj.key)
        return entry.label if entry else "（未登记）"

    @admin.display(description="默认值")
    def default(self, obj) -> str:
        entry = config.REGISTRY.get(obj.key) if obj and obj.key else None
        return json.dumps(entry.default, ensure_ascii=False) if entry else "—"

    @admin.display(description="说明")
    def help(self, obj) -> str:
        entry = config.REGISTRY.get(obj.key) if obj and obj.key else None
        return entry.help_text if entry else ""

    def get_readonly_fields(self, request, obj=None):
        # The key of a stored setting does not change: delete it and add another instead.
        return [*self.readonly_fields, "key"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if obj.key in config.REGISTRY:
            stored = config.set_value(obj.key, obj.value, request.user, reason="后台修改")
            saved = Setting.objects.get(key=obj.key)
            if obj.note and obj.note != saved.note:
                saved.note = obj.note
                saved.save(update_fields=["note", "updated_at"])
            obj.pk, obj.value = saved.pk, stored
        else:
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        if obj.key in config.REGISTRY:
            config.reset(obj.key, request.user, reason="后台删除")
        else:
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Holidays and adjusted working days (调休) that the holiday library does not know (a year
    not yet published there) or gets wrong; a row here always wins."""

    audit_prefix = "core.calendar_override"
    list_display = ["date", "weekday", "is_workday", "name", "library_says"]
    list_filter = ["is_workday"]
    search_fields = ["name"]
    date_hierarchy = "date"

    @admin.display(description="星期")
    def weekday(self, obj) -> str:
        return "一二三四五六日"[obj.date.weekday()]

    @admin.display(description="节假日库", boolean=False)
    def library_says(self, obj) -> str:
        from .workcalendar import library_is_workday

        return "上班" if library_is_workday(obj.date) else "休息"
