"""Back office of the colour engine: rule sets with their rules inline (configuration, edited
here and audited; every condition validated with the engine's own checker), states, history
and overrides read-only (they change only through ``colours``: rules, patrols, overrides)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from towngrid.core.admin import AuditedAdminMixin

from .colour_models import ColourChange, ColourOverride, ColourRule, ColourRuleSet, ColourState
from .colours import ColourError, validate_condition


class ColourRuleForm(forms.ModelForm):
    class Meta:
        model = ColourRule
        fields = ["order", "colour", "name", "condition", "reason", "active"]

    def clean_condition(self):
        condition = self.cleaned_data.get("condition")
        try:
            validate_condition(condition)
        except ColourError as exc:
            raise ValidationError(exc.message) from None
        return condition


class ColourRuleInline(admin.StackedInline):
    model = ColourRule
    form = ColourRuleForm
    extra = 0
    fields = [("order", "colour", "active"), "name", "condition", "reason"]


class ColourRuleSetForm(forms.ModelForm):
    class Meta:
        model = ColourRuleSet
        fields = [
            "colour_kind",
            "name",
            "description",
            "active",
            "green_interval_days",
            "yellow_interval_days",
            "red_interval_days",
        ]

    def clean(self):
        data = super().clean()
        for key in ("green_interval_days", "yellow_interval_days", "red_interval_days"):
            value = data.get(key)
            if value is not None and not 1 <= value <= 365:
                self.add_error(key, "巡查周期应为 1–365 天。")
        if data.get("active") and data.get("colour_kind"):
            clash = ColourRuleSet.objects.filter(colour_kind=data["colour_kind"], active=True)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("active", "该对象类型已有启用的规则集，请先停用它。")
        return data


@admin.register(ColourRuleSet)
class ColourRuleSetAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "colours.rule_set"
    form = ColourRuleSetForm
    list_display = [
        "name",
        "colour_kind",
        "active",
        "green_interval_days",
        "yellow_interval_days",
        "red_interval_days",
        "updated_at",
    ]
    list_filter = ["colour_kind", "active"]
    inlines = [ColourRuleInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        from django.contrib import messages
        from django.db import transaction

        from towngrid.core.jobs import start_job

        from .colours import clear_rule_cache, recompute_kind

        clear_rule_cache()
        rule_set = form.instance
        if not rule_set.active:
            return

        def start() -> None:
            # After the commit, so the job (a thread with its own connection) sees the rules.
            job = start_job(
                kind="colours.recompute",
                title=f"重新评定三色：{rule_set.name}",
                actor=request.user,
                func=recompute_kind,
                kwargs={"kind": rule_set.colour_kind},
            )
            messages.info(request, f"已开始按新规则重新评定颜色（任务 {job.pk}）。")

        transaction.on_commit(start)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ColourState)
class ColourStateAdmin(ReadOnlyAdmin):
    list_display = [
        "label",
        "colour_kind",
        "colour",
        "rule_colour",
        "grid_code",
        "patrol_due_at",
        "override",
    ]
    list_filter = ["colour_kind", "colour", "rule_colour"]
    search_fields = ["label", "grid_code"]
    list_select_related = ["override"]


@admin.register(ColourChange)
class ColourChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "content_type",
        "object_id",
        "from_colour",
        "to_colour",
        "cause",
        "actor_name",
    ]
    list_filter = ["cause", "to_colour", "content_type"]
    search_fields = ["grid_code", "actor_name"]
    date_hierarchy = "at"


@admin.register(ColourOverride)
class ColourOverrideAdmin(ReadOnlyAdmin):
    list_display = [
        "content_type",
        "object_id",
        "colour",
        "reason",
        "expires_at",
        "created_by_name",
        "ended_at",
        "ended_cause",
    ]
    list_filter = ["colour", "ended_cause", "content_type"]
    search_fields = ["reason", "grid_code", "created_by_name"]
