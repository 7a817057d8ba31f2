"""The colour API: live colour states (list with filters, detail with history), the colour of
one registry object with override and clear, the history of colour changes, and the rule sets
(read; write with ``colours.configure``). Thin: parse, call ``colours`` or ``colour_queries``,
render. States and changes are read through ``ScopedViewSetMixin``; an object's colour through
``accounts.access.visible_to`` on the object's own model, so an object outside the caller's
scope is a 404 like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import has_capability, visible_to
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import colour_queries, colours
from .colour_models import ColourChange, ColourRuleSet, ColourState
from .colours import ColourError


def api_error(exc: ColourError) -> ApiError:
    status = {"no_rules": 409}.get(exc.code, exc.http_status)
    return ApiError(exc.code, exc.message, status_code=status, details=exc.details)


def _when(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def override_data(ov) -> dict | None:
    if ov is None:
        return None
    return {
        "id": ov.id,
        "colour": ov.colour,
        "reason": ov.reason,
        "expires_at": _when(ov.expires_at),
        "created_at": _when(ov.created_at),
        "created_by": ov.created_by_name,
    }


def state_data(state: ColourState, *, now=None) -> dict:
    now = now or timezone.now()
    return {
        "id": state.id,
        "kind": state.colour_kind,
        "object_id": state.object_id,
        "label": state.label,
        "grid_code": state.grid_code,
        "colour": state.colour,
        "colour_label": colours.COLOUR_LABELS[state.colour],
        "rule_colour": state.rule_colour,
        "reasons": state.reasons,
        "interval_days": state.interval_days,
        "computed_at": _when(state.computed_at),
        "since": _when(state.since),
        "last_patrol_at": _when(state.last_patrol_at),
        "patrol_due_at": _when(state.patrol_due_at),
        "patrol_overdue": state.patrol_due_at < now,
        "override": override_data(state.override) if state.override_id else None,
    }


def change_data(change: ColourChange) -> dict:
    return {
        "id": change.id,
        "object_id": change.object_id,
        "grid_code": change.grid_code,
        "from": change.from_colour or None,
        "to": change.to_colour,
        "reasons": change.reasons,
        "at": _when(change.at),
        "cause": change.cause,
        "cause_label": str(change.get_cause_display()),
        "actor": change.actor_name,
    }


class ColourStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ColourState
        fields = ["id"]

    def to_representation(self, instance):
        return state_data(instance)


class ColourChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ColourChange
        fields = ["id"]

    def to_representation(self, instance):
        return change_data(instance)


def _flag(value) -> bool:
    return str(value or "").lower() in {"1", "true", "yes", "on"}


STATE_PARAMS = [
    OpenApiParameter("kind", str, description="对象类型：house、enterprise、shop…"),
    OpenApiParameter("colour", str, description="green / yellow / red"),
    OpenApiParameter("grid", str, description="网格编码（含下级）"),
    OpenApiParameter("q", str, description="名称或地址包含"),
    OpenApiParameter("key", bool, description="仅重点企业"),
    OpenApiParameter("overridden", bool, description="仅人工调整中的"),
    OpenApiParameter("overdue", bool, description="仅巡查超期的"),
]


class ColourStateViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Live colours (三色状态) inside the caller's scope, worst first."""

    queryset = ColourState.objects.select_related("override")
    serializer_class = ColourStateSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        p = self.request.query_params
        f = colour_queries.ColourFilter(
            kind=p.get("kind", ""),
            colour=p.get("colour", ""),
            grid=p.get("grid", ""),
            q=p.get("q", ""),
            key_only=_flag(p.get("key")),
            overridden=_flag(p.get("overridden")),
            overdue=_flag(p.get("overdue")),
        )
        return colour_queries.colour_list(qs, f)

    @extend_schema(parameters=STATE_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        state = self.get_object()
        data = state_data(state)
        data["history"] = [
            change_data(c) for c in colour_queries.history(state.content_type_id, state.object_id)
        ]
        return Response(data)


class ColourChangeViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The history of colour changes inside the caller's scope, newest first."""

    queryset = ColourChange.objects.all()
    serializer_class = ColourChangeSerializer

    def get_queryset(self):
        qs = super().get_queryset().order_by("-at", "-id")
        p = self.request.query_params
        if p.get("kind"):
            from .objects import model_by_kind

            model = model_by_kind(p["kind"])
            if model is None:
                raise ApiError("invalid", f"未知的对象类型：{p['kind']}。")
            qs = qs.filter(content_type=ContentType.objects.get_for_model(model))
            if p.get("object_id", "").isdigit():
                qs = qs.filter(object_id=int(p["object_id"]))
        if p.get("grid"):
            qs = qs.filter(grid_code__startswith=p["grid"])
        if p.get("cause"):
            qs = qs.filter(cause=p["cause"])
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, description="对象类型"),
            OpenApiParameter("object_id", int, description="对象编号（须同时给出 kind）"),
            OpenApiParameter("grid", str, description="网格编码（含下级）"),
            OpenApiParameter("cause", str, description="rule / patrol / override / expiry / clear"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def object_or_404(request, kind: str, object_id: int):
    """The registry object if the caller may see it; a 404 otherwise (no existence oracle)."""
    from .objects import model_by_kind

    model = model_by_kind(kind)
    if model is None:
        raise ApiError("not_found", "对象不存在。", status_code=404)
    obj = visible_to(request.user, model._default_manager.filter(pk=object_id)).first()
    if obj is None:
        raise ApiError("not_found", "对象不存在。", status_code=404)
    return obj


class ObjectColourView(APIView):
    """GET the live colour of one registry object (with its history); POST an override
    (``colour``, ``reason``, ``expires_at``) with ``colours.override``; DELETE clears it
    (``reason`` in the body or the query)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, kind: str, object_id: int):
        obj = object_or_404(request, kind, object_id)
        state = colours.current(obj)
        if state is None:
            raise ApiError("no_rules", f"对象类型 {kind} 没有启用的三色规则。", status_code=404)
        data = state_data(state)
        data["history"] = [change_data(c) for c in colours.history(obj)]
        return Response(data)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, kind: str, object_id: int):
        obj = object_or_404(request, kind, object_id)
        expires_at = parse_expiry(request.data.get("expires_at"))
        try:
            state = colours.override(
                obj,
                str(request.data.get("colour", "")),
                reason=str(request.data.get("reason", "")),
                expires_at=expires_at,
                actor=request.user,
            )
        except ColourError as exc:
            raise api_error(exc) from None
        return Response(state_data(state))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def delete(self, request, kind: str, object_id: int):
        obj = object_or_404(request, kind, object_id)
        reason = request.data.get("reason") if hasattr(request, "data") else None
        reason = reason or request.query_params.get("reason", "")
        try:
            state = colours.clear_override(obj, reason=str(reason or ""), actor=request.user)
        except ColourError as exc:
            raise api_error(exc) from None
        return Response(state_data(state))


def parse_expiry(value) -> datetime:
    """An ISO datetime, or a date meaning the end of that day in Asia/Shanghai."""
    text = str(value or "").strip()
    if not text:
        raise ApiError("invalid", "请填写到期时间。", details={"field": "expires_at"})
    # A bare date means the end of that day (parse_datetime would read it as midnight).
    moment = None if parse_date(text) is not None else parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ApiError(
                "invalid",
                "到期时间格式不正确（如 2023-07-01 或 2023-07-01T18:00+08:00）。",
                details={"field": "expires_at"},
            )
        moment = datetime(day.year, day.month, day.day, 23, 59, 59)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def rule_set_data(rule_set: ColourRuleSet) -> dict:
    return {
        "id": rule_set.id,
        "colour_kind": rule_set.colour_kind,
        "name": rule_set.name,
        "description": rule_set.description,
        "active": rule_set.active,
        "green_interval_days": rule_set.green_interval_days,
        "yellow_interval_days": rule_set.yellow_interval_days,
        "red_interval_days": rule_set.red_interval_days,
        "updated_at": _when(rule_set.updated_at),
        "rules": [
            {
                "id": r.id,
                "order": r.order,
                "colour": r.colour,
                "name": r.name,
                "condition": r.condition,
                "reason": r.reason,
                "active": r.active,
            }
            for r in rule_set.rules.all()
        ],
    }


class RuleSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = ColourRuleSet
        fields = ["id"]

    def to_representation(self, instance):
        return rule_set_data(instance)


class ColourRuleSetViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Colour rule sets (三色规则) per object type: configuration, no personal data. Reading
    needs one of colours.configure, colours.override or registry.view; writing
    colours.configure. A write replaces the rules given; ``recompute: true`` starts a job that
    recomputes every object of the kind (its id in ``job``)."""

    queryset = ColourRuleSet.objects.prefetch_related("rules")
    serializer_class = RuleSetSerializer
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        user = request.user
        if request.method in ("GET", "HEAD", "OPTIONS"):
            allowed = any(
                has_capability(user, c)
                for c in ("colours.configure", "colours.override", "registry.view")
            )
        else:
            allowed = has_capability(user, "colours.configure")
        if not allowed:
            raise ApiError("forbidden", "您没有配置三色规则的权限。", status_code=403)

    def _save(self, request, rule_set):
        try:
            saved = colours.save_rule_set(rule_set, dict(request.data), actor=request.user)
        except ColourError as exc:
            raise api_error(exc) from None
        data = rule_set_data(ColourRuleSet.objects.prefetch_related("rules").get(pk=saved.pk))
        if _flag(request.data.get("recompute")) and saved.active:
            from towngrid.core.jobs import start_job

            job = start_job(
                kind="colours.recompute",
                title=f"重新评定三色：{saved.name}",
                actor=request.user,
                func=colours.recompute_kind,
                kwargs={"kind": saved.colour_kind},
            )
            data["job"] = job.pk
        return data

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        return Response(self._save(request, None), status=201)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def update(self, request, *args, **kwargs):
        return Response(self._save(request, self.get_object()))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def partial_update(self, request, *args, **kwargs):
        return Response(self._save(request, self.get_object()))
