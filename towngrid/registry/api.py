"""The registry API under ``/api/v1/registry/``: one viewset per object type (list with
filters, detail, create, update, reveal, audit history), enterprise visits (大走访) and
component status changes, and counts in the caller's scope.

Thin: parse, call ``actions`` or ``queries``, render. Reads go through ``ScopedViewSetMixin`` (an
object outside the caller's grid subtree is a 404) and need ``registry.view`` (without it the
caller sees nothing). Personal values are masked; ``POST …/{id}/reveal/`` returns one plain value
to a permitted caller and audits it. Refusals are ``ApiError`` with the action's code:
``invalid`` / ``reason_required`` / ``outside_town`` (400), ``forbidden`` (403), ``conflict`` /
``duplicate`` (409).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import has_capability, visible_to
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import actions, queries
from .errors import RegistryError
from .models import Component, Enterprise, EnterpriseVisit
from .serializers import (
    INPUTS,
    SERIALIZERS,
    AuditEventSerializer,
    CountsSerializer,
    EnterpriseVisitSerializer,
    RevealInputSerializer,
    RevealSerializer,
    StatusInputSerializer,
    VisitInputSerializer,
)

ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT, description="输入有误（invalid、reason_required、outside_town）"
    ),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="无权限或不在管辖范围（forbidden）"),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="对象不存在或不在管辖范围"),
    409: OpenApiResponse(
        OpenApiTypes.OBJECT, description="已被他人修改（conflict）或编码重复（duplicate）"
    ),
}
COMMON_PARAMS = [
    OpenApiParameter("grid", str, description="网格编码前缀（含下级）"),
    OpenApiParameter("q", str, description="文字检索；身份证号、电话按密文索引精确匹配"),
]


class RegistryPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000


def _error(exc: RegistryError) -> ApiError:
    return ApiError(exc.code, exc.message, status_code=exc.http_status, details=exc.details)


def _input(data) -> dict[str, Any]:
    """The request's fields as a plain dict (a form's single values, JSON as sent)."""
    if isinstance(data, QueryDict):
        return {k: (v if len(v) > 1 else v[0]) for k, v in data.lists()}
    if not isinstance(data, dict):
        raise ApiError("invalid", "请求体应为 JSON 对象。")
    return dict(data)


class RegistryViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Base of every registry type's viewset; subclasses set ``rtype``."""

    rtype: queries.RegistryType
    pagination_class = RegistryPagination
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        qs = super().get_queryset()
        if not has_capability(self.request.user, "registry.view"):
            return qs.none()
        if self.action == "list":
            return queries.filter_queryset(self.rtype.model, self.request.query_params, qs)
        return qs.select_related(*self.rtype.related, "group")

    def get_serializer_class(self):
        return SERIALIZERS[self.rtype.model]

    def create(self, request, *args, **kwargs):
        data = _input(request.data)
        reason = str(data.pop("reason", "") or "")
        data.pop("version", None)
        try:
            obj = actions.create(self.rtype.model, actor=request.user, reason=reason, **data)
        except RegistryError as exc:
            raise _error(exc) from None
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = _input(request.data)
        reason = str(data.pop("reason", "") or "")
        version = data.pop("version", None)
        try:
            obj = actions.update(
                obj, actor=request.user, expected_version=version, reason=reason, **data
            )
        except RegistryError as exc:
            raise _error(exc) from None
        return Response(self.get_serializer(obj).data)

    def update(self, request, *args, **kwargs):
        # PUT is a partial update too: fields left out keep their values.
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(
        request=RevealInputSerializer,
        responses={200: RevealSerializer, **ERRORS},
        summary="查看个人信息原文（须有权限和事由，记入审计）",
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        obj = self.get_object()
        data = _input(request.data)
        field = str(data.get("field") or "")
        try:
            value = actions.reveal(
                obj, field, actor=request.user, reason=str(data.get("reason") or "")
            )
        except RegistryError as exc:
            raise _error(exc) from None
        return Response({"field": field, "value": value})

    @extend_schema(responses={200: AuditEventSerializer(many=True)}, summary="操作与查看记录")
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        obj = self.get_object()
        events = queries.audit_history(obj)
        return Response(AuditEventSerializer(events, many=True).data)


def _viewset(slug: str, extra: dict | None = None, bases: tuple = (RegistryViewSet,)) -> type:
    rtype = queries.TYPES[slug]
    model = rtype.model
    params = COMMON_PARAMS + [
        OpenApiParameter(name, str, description=f"{lookup}（{kind}）")
        for name, (lookup, kind) in rtype.filters.items()
    ]
    params += [
        OpenApiParameter(name, str, description="精确匹配（密文索引）")
        for name in model.personal_fields
    ]
    attrs = {"rtype": rtype, "queryset": model.objects.all(), **(extra or {})}
    cls = type(f"{model.__name__}ViewSet", bases, attrs)
    serializer, inputs = SERIALIZERS[model], INPUTS[model]
    return extend_schema_view_for(cls, rtype.label, serializer, inputs, params)


def extend_schema_view_for(cls, label, serializer, inputs, params):
    from drf_spectacular.utils import extend_schema_view

    return extend_schema_view(
        list=extend_schema(summary=f"{label}列表", parameters=params),
        retrieve=extend_schema(
            summary=f"{label}详情", responses={200: serializer, 404: ERRORS[404]}
        ),
        create=extend_schema(
            summary=f"登记{label}", request=inputs, responses={201: serializer, **ERRORS}
        ),
        partial_update=extend_schema(
            summary=f"修改{label}", request=inputs, responses={200: serializer, **ERRORS}
        ),
        update=extend_schema(
            summary=f"修改{label}（同 PATCH）",
            request=inputs,
            responses={200: serializer, **ERRORS},
        ),
    )(cls)


class EnterpriseVisitsMixin:
    @extend_schema(
        methods=["GET"], responses={200: EnterpriseVisitSerializer(many=True)}, summary="走访记录"
    )
    @extend_schema(
        methods=["POST"],
        request=VisitInputSerializer,
        responses={201: EnterpriseVisitSerializer, **ERRORS},
        summary="登记大走访",
    )
    @action(detail=True, methods=["get", "post"])
    def visits(self, request, pk=None):
        enterprise: Enterprise = self.get_object()
        if request.method == "GET":
            rows = queries.visits_for(enterprise)
            return Response(EnterpriseVisitSerializer(rows, many=True).data)
        data = _input(request.data)
        problems = data.get("problems") or []
        if isinstance(problems, str):
            problems = [p for p in problems.replace("，", ",").split(",") if p.strip()]
        try:
            visit = actions.add_visit(
                enterprise,
                actor=request.user,
                findings=str(data.get("findings") or ""),
                problems=problems,
                needs_followup=str(data.get("needs_followup", "")).lower() in queries.TRUE,
                visited_at=data.get("visited_at") or None,
                visitor_name=str(data.get("visitor_name") or ""),
            )
        except RegistryError as exc:
            raise _error(exc) from None
        return Response(EnterpriseVisitSerializer(visit).data, status=status.HTTP_201_CREATED)


class ComponentStatusMixin:
    @extend_schema(
        request=StatusInputSerializer,
        responses={200: SERIALIZERS[Component], **ERRORS},
        summary="部件状态变更（完好/破损/丢失/废弃/移除）",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, pk=None):
        component: Component = self.get_object()
        data = _input(request.data)
        try:
            component = actions.set_component_status(
                component,
                str(data.get("status") or ""),
                actor=request.user,
                note=str(data.get("note") or ""),
                expected_version=data.get("version"),
            )
        except RegistryError as exc:
            raise _error(exc) from None
        return Response(self.get_serializer(component).data)


HouseViewSet = _viewset("houses")
HouseholdViewSet = _viewset("households")
ResidentViewSet = _viewset("residents")
EnterpriseViewSet = _viewset("enterprises", bases=(EnterpriseVisitsMixin, RegistryViewSet))
ShopViewSet = _viewset("shops")
ComponentViewSet = _viewset("components", bases=(ComponentStatusMixin, RegistryViewSet))
UndergroundSpaceViewSet = _viewset("underground")
LandParcelViewSet = _viewset("parcels")


@extend_schema(
    parameters=[
        OpenApiParameter("needs_followup", bool, description="仅需跟进的"),
        OpenApiParameter("enterprise", int, description="企业 id"),
        OpenApiParameter("grid", str, description="网格编码前缀"),
    ]
)
class EnterpriseVisitViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """大走访 records in the caller's scope, newest first."""

    queryset = EnterpriseVisit.objects.select_related("enterprise")
    serializer_class = EnterpriseVisitSerializer
    pagination_class = RegistryPagination

    def get_queryset(self):
        qs = super().get_queryset()
        if not has_capability(self.request.user, "registry.view"):
            return qs.none()
        params = self.request.query_params
        if self.action == "list":
            if (params.get("needs_followup") or "").lower() in queries.TRUE:
                qs = qs.filter(needs_followup=True)
            enterprise = params.get("enterprise") or ""
            if enterprise:
                qs = qs.filter(enterprise_id=enterprise) if enterprise.isdigit() else qs.none()
            grid = params.get("grid") or ""
            if grid:
                qs = (
                    qs.filter(enterprise__grid_code__startswith=grid)
                    if grid.isdigit()
                    else qs.none()
                )
        return qs


class CountsView(APIView):
    """Objects of every type in the caller's scope (optionally under ``?grid=``)."""

    @extend_schema(
        parameters=[OpenApiParameter("grid", str, description="网格编码前缀")],
        responses={200: CountsSerializer},
        summary="各类实有对象数量",
    )
    def get(self, request):
        return Response(scoped_counts(request.user, request.query_params.get("grid") or ""))


def scoped_counts(user, grid: str = "") -> dict[str, int]:
    out = {}
    for slug, rtype in queries.TYPES.items():
        if not has_capability(user, "registry.view"):
            out[slug] = 0
            continue
        qs = visible_to(user, rtype.model.objects.all())
        if grid:
            qs = qs.filter(grid_code__startswith=grid) if grid.isdigit() else qs.none()
        out[slug] = qs.count()
    return out
