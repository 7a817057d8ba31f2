"""Shapes of cases, categories and workflow input in the API. No rules here: input serializers
check types only; ``actions.py`` decides what is allowed."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import queries
from .models import Case, Category, LimitUnit, Source, Step

STEP_LABELS = {s.value: str(s.label) for s in Step}


class CategorySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="major.kind", read_only=True)
    major_code = serializers.SerializerMethodField()
    major_name = serializers.CharField(source="major.name", read_only=True)
    default_department = serializers.CharField(
        source="default_department.code", default=None, read_only=True
    )
    default_department_name = serializers.CharField(
        source="default_department.name", default=None, read_only=True
    )

    class Meta:
        model = Category
        fields = [
            "full_code",
            "name",
            "kind",
            "major_code",
            "major_name",
            "keywords",
            "default_department",
            "default_department_name",
            "requires_after_photo",
            "is_public",
            "is_local",
        ]

    def get_major_code(self, category: Category) -> str:
        return ("E" if category.major.kind == "event" else "C") + category.major.code


class TimeLimitSerializer(serializers.Serializer):
    step = serializers.CharField()
    step_display = serializers.CharField()
    amount = serializers.DecimalField(max_digits=6, decimal_places=2)
    unit = serializers.CharField()
    unit_display = serializers.CharField()


class CategoryDetailSerializer(CategorySerializer):
    time_limits = serializers.SerializerMethodField()

    class Meta(CategorySerializer.Meta):
        fields = [
            *CategorySerializer.Meta.fields,
            "description",
            "closing_conditions",
            "time_limits",
        ]

    @extend_schema_field(TimeLimitSerializer(many=True))
    def get_time_limits(self, category: Category) -> list[dict[str, Any]]:
        from .timelimits import limits_of

        limits = limits_of(category)
        return [
            {
                "step": step.value,
                "step_display": str(step.label),
                "amount": limits[step.value][0],
                "unit": limits[step.value][1],
                "unit_display": str(LimitUnit(limits[step.value][1]).label),
            }
            for step in Step
            if step.value in limits
        ]


class CaseSerializer(serializers.ModelSerializer):
    """A case in a list."""

    category = serializers.CharField(source="category.full_code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    step_display = serializers.SerializerMethodField()
    source_display = serializers.CharField(source="get_source_display", read_only=True)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    department = serializers.CharField(source="department.code", default=None, read_only=True)
    department_name = serializers.CharField(source="department.name", default=None, read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "number",
            "category",
            "category_name",
            "status",
            "status_display",
            "step",
            "step_display",
            "step_deadline",
            "overdue",
            "handle_deadline",
            "pending_request",
            "source",
            "source_display",
            "source_ref",
            "description",
            "address",
            "lng",
            "lat",
            "grid_code",
            "grid_name",
            "department",
            "department_name",
            "reported_at",
            "closed_at",
            "closed_on_time",
            "version",
        ]

    def get_step_display(self, case: Case) -> str:
        return STEP_LABELS.get(case.step, "")

    def get_overdue(self, case: Case) -> bool:
        return queries.is_overdue(case, self.context.get("now"))


class DuplicateSerializer(CaseSerializer):
    distance_m = serializers.FloatField(read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "distance_m"]


class CasePathItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField()


class TimeLeftSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(allow_null=True)
    work_hours_left = serializers.FloatField(allow_null=True)
    overdue = serializers.BooleanField()


class AvailableActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()
    needs_reason = serializers.BooleanField()
    target = serializers.CharField()


class CaseDetailSerializer(CaseSerializer):
    """A case with its path, deadlines, time left, timeline and what the caller may do."""

    path = serializers.SerializerMethodField()
    time_left = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()
    reporters = serializers.SerializerMethodField()
    duplicate_of = serializers.CharField(source="duplicate_of.number", default=None, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "path",
            "time_left",
            "accepted_at",
            "opened_at",
            "dispatched_at",
            "handled_at",
            "handled_on_time",
            "rework_count",
            "sendback_count",
            "is_valid_report",
            "duplicate_of",
            "reporters",
            "available_actions",
            "timeline",
        ]

    @extend_schema_field(CasePathItemSerializer(many=True))
    def get_path(self, case: Case) -> list[dict[str, Any]]:
        return [{"code": n.code, "name": n.name, "level": n.level} for n in case.grid.path()]

    @extend_schema_field(TimeLeftSerializer)
    def get_time_left(self, case: Case) -> dict[str, Any]:
        return TimeLeftSerializer(queries.time_left(case, self.context.get("now"))).data

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_timeline(self, case: Case) -> list[dict[str, Any]]:
        return queries.timeline(case)

    @extend_schema_field(AvailableActionSerializer(many=True))
    def get_available_actions(self, case: Case) -> list[dict[str, Any]]:
        request = self.context.get("request")
        if request is None:
            return []
        return queries.available_actions(case, request.user)

    def get_reporters(self, case: Case) -> int:
        return case.reporters.count()


class ReportInputSerializer(serializers.Serializer):
    """上报: JSON or multipart (with ``photos``)."""

    category = serializers.CharField(help_text="小类完整编码，如 E0102")
    description = serializers.CharField(max_length=4000)
    lng = serializers.FloatField()
    lat = serializers.FloatField()
    crs = serializers.CharField(required=False, default="wgs84")
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    source_ref = serializers.CharField(required=False, allow_blank=True, default="")
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class TransitionInputSerializer(serializers.Serializer):
    """Input of every workflow action; each action reads the fields it needs."""

    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    expected_version = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    department = serializers.CharField(required=False, help_text="派遣：部门编码")
    valid = serializers.BooleanField(required=False, help_text="核实：是否属实")
    passed = serializers.BooleanField(required=False, help_text="核查：是否通过")
    amount = serializers.DecimalField(
        required=False, max_digits=6, decimal_places=2, help_text="申请延期：时长"
    )
    unit = serializers.ChoiceField(choices=LimitUnit.choices, required=False)
    into = serializers.CharField(required=False, help_text="合并：目标案件编号")
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)


def now_context(request) -> dict[str, Any]:
    return {"request": request, "now": timezone.now()}
