"""The cases API: list (paged, filtered) and report, detail with timeline and time left, one
POST endpoint per workflow action, duplicates, my queue, and the category catalogue.

Thin: parse, call ``actions`` or ``queries``, render. Every case read goes through
``ScopedViewSetMixin`` (a case outside the caller's grid subtree or department is a 404).
Refusals are ``ApiError`` with the action's code: ``transition_not_allowed`` (409),
``conflict`` (409, someone else acted first), ``forbidden`` (403), ``outside_town`` /
``invalid`` / ``reason_required`` (400).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import actions, queries
from .errors import CaseError
from .models import Case, Category, Source
from .serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    CategoryDetailSerializer,
    CategorySerializer,
    DuplicateSerializer,
    ReportInputSerializer,
    TransitionInputSerializer,
    now_context,
)
from .workflow import TRANSITIONS

PARSERS = [JSONParser, MultiPartParser, FormParser]


def api_error(exc: Exception) -> ApiError:
    """A CaseError or a refused photo as the API's structured error."""
    code = getattr(exc, "code", "invalid")
    message = getattr(exc, "message", str(exc))
    status = exc.http_status if isinstance(exc, CaseError) else 400
    return ApiError(code, message, status_code=status, details=getattr(exc, "details", None))


def _photo_error() -> type[Exception]:
    from .media import PhotoError

    return PhotoError


ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="输入有误（invalid、reason_required）"),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="无权限或不在管辖范围（forbidden）"),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="案件不存在或不可见"),
    409: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="当前状态不允许（transition_not_allowed）或已被他人处理（conflict）",
    ),
}

LIST_PARAMS = [
    OpenApiParameter("status", str, description="状态，逗号分隔"),
    OpenApiParameter("category", str, description="小类完整编码，逗号分隔"),
    OpenApiParameter("major", str, description="大类：E01、C02，或 event / component"),
    OpenApiParameter("grid", str, description="网格编码（含下级）"),
    OpenApiParameter("department", str, description="处置部门编码，逗号分隔"),
    OpenApiParameter("overdue", bool, description="是否超时"),
    OpenApiParameter("open", bool, description="仅未结案件"),
    OpenApiParameter("pending", bool, description="有待审批的申请"),
    OpenApiParameter("source", str, description="来源，逗号分隔"),
    OpenApiParameter("from", OpenApiTypes.DATE, description="上报日期起（含）"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="上报日期止（含）"),
    OpenApiParameter("q", str, description="编号、地址或描述包含"),
]

# Which request fields each action reads, besides note/reason and expected_version.
ACTION_FIELDS = {
    "verify": ["valid"],
    "recheck": ["passed", "photos"],
    "dispatch": ["department"],
    "handle": ["photos"],
    "feedback": ["photos"],
    "request_extension": ["amount", "unit"],
    "merge": ["into"],
}


def default_source(user) -> str:
    """Where a report comes from when the caller does not say: by the reporter's post."""
    role = getattr(getattr(user, "role", None), "code", "")
    if role in {"grid_worker", "grid_leader"}:
        return Source.GRID_WORKER
    if scope_kind_of(user) == ScopeKind.NONE:
        return Source.RESIDENT
    return Source.OPERATIONS


RESIDENT_SOURCES = {Source.RESIDENT, Source.CODE_SCAN}


class CaseViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Cases (案件) inside the caller's scope."""

    queryset = Case.objects.select_related(
        "category", "category__major", "department", "grid", "duplicate_of"
    )
    serializer_class = CaseSerializer
    lookup_field = "number"
    lookup_value_regex = r"[A-Z]{1,4}\d{4}-\d+"
    parser_classes = PARSERS

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CaseDetailSerializer
        return CaseSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **now_context(self.request)}

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list":
            try:
                qs = queries.filter_cases(qs, self.request.query_params)
            except CaseError as exc:
                raise api_error(exc) from None
        return qs

    def _detail(self, case: Case, status: int = 200, **extra) -> Response:
        data = dict(CaseDetailSerializer(case, context=self.get_serializer_context()).data)
        data.update(extra)
        return Response(data, status=status)

    @extend_schema(parameters=LIST_PARAMS, summary="案件列表（分页，可筛选）")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="案件详情：时间线、时限、剩余工作时、可执行操作")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=ReportInputSerializer,
        responses={201: CaseDetailSerializer, **ERRORS},
        summary="上报案件",
        description="坐标可用 wgs84（默认）、gcj02、bd09；本镇以外的坐标返回 outside_town。"
        "应答中的 possible_duplicates 是附近同类未结案件（不自动合并）。",
    )
    def create(self, request, *args, **kwargs):
        user = request.user
        if not has_capability(user, "cases.report"):
            raise ApiError("forbidden", "您没有上报案件的权限。", status_code=403)
        serializer = ReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = data.get("source") or default_source(user)
        if scope_kind_of(user) == ScopeKind.NONE and source not in RESIDENT_SOURCES:
            raise ApiError("forbidden", "居民只能以居民上报或扫码上报的方式上报。", status_code=403)
        photos = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
        try:
            case = actions.report(
                category=data["category"],
                description=data["description"],
                lng=data["lng"],
                lat=data["lat"],
                crs=data["crs"],
                source=source,
                actor=user,
                address=data["address"],
                source_ref=data["source_ref"],
                photos=photos,
            )
        except CaseError as exc:
            raise api_error(exc) from None
        except _photo_error() as exc:
            raise api_error(exc) from None
        duplicates = queries.find_duplicates(
            case.category,
            case.lng,
            case.lat,
            exclude=case,
            queryset=queries.visible_cases(user),
        )
        case = queries.base_queryset().get(pk=case.pk)
        return self._detail(
            case,
            status=201,
            possible_duplicates=DuplicateSerializer(
                duplicates, many=True, context=self.get_serializer_context()
            ).data,
        )

    @extend_schema(
        parameters=[OpenApiParameter("radius_m", float, description="距离（米），默认按配置")],
        responses={200: DuplicateSerializer(many=True)},
        summary="疑似重复：附近同小类的未结案件",
    )
    @action(detail=True, methods=["get"], url_path="duplicates")
    def duplicates(self, request, number=None):
        case = self.get_object()
        radius = request.query_params.get("radius_m")
        try:
            radius_m = float(radius) if radius not in (None, "") else None
        except ValueError:
            raise ApiError("invalid", "参数 radius_m 必须是数字。") from None
        if radius_m is not None and not (0 < radius_m <= 5000):
            raise ApiError("invalid", "参数 radius_m 须在 0～5000 米之间。")
        found = queries.find_duplicates(
            case.category,
            case.lng,
            case.lat,
            radius_m=radius_m,
            exclude=case,
            queryset=ScopedViewSetMixin.get_queryset(self),
        )
        context = self.get_serializer_context()
        return Response(DuplicateSerializer(found, many=True, context=context).data)

    @extend_schema(responses={200: CaseSerializer(many=True)}, summary="我的待办（按时限排序）")
    @action(detail=False, methods=["get"], url_path="queue")
    def queue(self, request):
        qs = queries.my_queue(request.user).select_related("duplicate_of")
        page = self.paginate_queryset(qs)
        serializer = CaseSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def _transition(self, request, name: str) -> Response:
        case = self.get_object()
        serializer = TransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kwargs: dict[str, Any] = {}
        for field in ACTION_FIELDS.get(name, []):
            if field == "photos":
                photos = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
                if photos:
                    kwargs["photos"] = photos
            elif field in data:
                kwargs[field] = data[field]
        if name == "request_extension" and "amount" not in kwargs:
            raise ApiError("invalid", "请填写延期时长 amount。", details={"field": "amount"})
        note = data.get("reason") or data.get("note") or ""
        try:
            actions.transition(
                case,
                name,
                actor=request.user,
                note=note,
                expected_version=data.get("expected_version"),
                **kwargs,
            )
        except CaseError as exc:
            raise api_error(exc) from None
        except _photo_error() as exc:
            raise api_error(exc) from None
        return self._detail(queries.base_queryset().get(pk=case.pk))


def _transition_view(name: str):
    t = TRANSITIONS[name]
    attr = f"do_{name}"

    def view(self, request, number=None):
        return self._transition(request, name)

    view.__name__ = attr
    view.__doc__ = f"{t.label}（{name}）"
    reason = "，必须填写原因（reason 或 note）" if t.needs_reason else ""
    view = extend_schema(
        request=TransitionInputSerializer,
        responses={200: CaseDetailSerializer, **ERRORS},
        summary=f"{t.label}{reason}",
        operation_id=f"cases_{name}",
    )(view)
    return attr, action(
        detail=True, methods=["post"], url_path=name, url_name=name.replace("_", "-")
    )(view)


for _name in TRANSITIONS:
    _attr, _view = _transition_view(_name)
    setattr(CaseViewSet, _attr, _view)


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The category catalogue (案件分类): subclasses with their classes and time limits.
    Residents see the subclasses open to public reporting."""

    queryset = Category.objects.select_related("major", "default_department").filter(active=True)
    serializer_class = CategorySerializer
    lookup_field = "full_code"
    lookup_value_regex = r"[A-Za-z]\d{4,6}"
    pagination_class = None

    def get_serializer_class(self):
        return CategoryDetailSerializer if self.action == "retrieve" else CategorySerializer

    def get_queryset(self):
        qs = super().get_queryset()
        if scope_kind_of(self.request.user) == ScopeKind.NONE:
            qs = qs.filter(is_public=True)
        if self.action != "list":
            return qs
        params = self.request.query_params
        text = (params.get("q") or "").strip()
        if text:
            qs = qs.filter(
                Q(name__icontains=text)
                | Q(keywords__icontains=text)
                | Q(full_code__istartswith=text)
                | Q(major__name__icontains=text)
            )
        kind = params.get("kind")
        if kind:
            qs = qs.filter(major__kind=kind)
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="名称、检索词、拼音首字母或编码"),
            OpenApiParameter("kind", str, enum=["event", "component"], description="部件或事件"),
        ],
        summary="案件小类（可检索）",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
