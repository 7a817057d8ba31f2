"""The sensing API.

- ``sensing/ingest/`` (POST): the HTTP batch endpoint for devices. Authenticated by the device,
  not a user: headers ``X-Device-Code`` and ``X-Device-Secret``. Body: a JSON object, a JSON
  array, or JSON lines (``application/x-ndjson``), compact messages or FIWARE keyValues entities;
  at most ``MAX_BODY_BYTES``. Answers 200 with ``{stored, duplicates, rejected, dead_letters,
  rejections}`` even when some messages were refused (they are in the dead-letter table).
- ``sensing/devices/`` list/detail (scoped), ``…/<code>/observations/`` (time range, buckets),
  create (POST, sensing.configure, answers the secret once), ``…/<code>/rotate-secret/``.
- ``sensing/alarms/`` list/detail (scoped), ``…/<id>/ack/`` and ``…/<id>/clear/`` (sensing.ack).
- ``sensing/alarm-counts/``: active alarm counts for the children of a grid node (``?grid=``).
- ``sensing/dead-letters/`` list/detail and ``…/<id>/replay/`` (sensing.configure).
- ``sensing/device-types/``: the catalogue.

Errors: ``{"error": {"code", "message", "details"}}`` (towngrid.core.api).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import can_see_grid_code, has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import actions, queries
from .errors import SensingError
from .models import Alarm, DeadLetter, Device, DeviceType, Transport
from .serializers import (
    AlarmActionSerializer,
    AlarmSerializer,
    DeadLetterSerializer,
    DeviceCreateSerializer,
    DeviceSerializer,
    DeviceTypeSerializer,
    ReplaySerializer,
)

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_MESSAGES = 10_000
MAX_REJECTIONS_SHOWN = 100


def api_error(exc: SensingError) -> ApiError:
    return ApiError(exc.code, exc.message, status_code=exc.http_status, details=exc.details)


class Capability(permissions.BasePermission):
    """Needs ``required_capability`` on the view (reads) and ``write_capability`` for writes."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        cap = getattr(view, "required_capability", None)
        return cap is None or has_capability(request.user, cap)


def _require(user, capability: str, message: str) -> None:
    if not has_capability(user, capability):
        raise ApiError("forbidden", message, status_code=403)


# --- HTTP ingestion --------------------------------------------------------------------------


class RawBodyParser(BaseParser):
    """Leaves the body alone: the ingest action decodes arrays, objects and JSON lines itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class IngestView(APIView):
    """Device batch upload; the device authenticates itself, so no user session is involved."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [RawBodyParser]
    throttle_classes: list = []

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        parameters=[
            OpenApiParameter("X-Device-Code", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Device-Secret", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="设备批量上报（JSON 数组或 JSON Lines；紧凑格式或 FIWARE keyValues）",
    )
    def post(self, request):
        code = request.headers.get("X-Device-Code", "").strip()
        secret = request.headers.get("X-Device-Secret", "").strip()
        device = actions.authenticate_device(code, secret)
        if device is None:
            raise ApiError("unauthorized", "设备编码或密钥错误，或设备已停用。", status_code=401)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(
                "too_large",
                f"请求体超过 {MAX_BODY_BYTES // 1024 // 1024} MB，请分批上报。",
                status_code=413,
                details={"max_bytes": MAX_BODY_BYTES},
            )
        # Read the stream ourselves (at most one byte past the limit): ``request.body`` would
        # stop at Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with an unstructured 400.
        body = request._request.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError("too_large", "请求体过大，请分批上报。", status_code=413)
        if not body.strip():
            raise ApiError("invalid", "请求体为空。")
        if body.count(b"\n") > MAX_MESSAGES:
            raise ApiError("too_large", f"一次最多上报 {MAX_MESSAGES} 条。", status_code=413)
        is_fiware = body.lstrip()[:200].find(b"urn:ngsi-ld:") >= 0
        try:
            result = actions.ingest(
                [body],
                transport=Transport.FIWARE if is_fiware else Transport.HTTP,
                device=device,
            )
        except SensingError as exc:
            raise api_error(exc) from None
        data = result.as_dict()
        if result.dead_letters:
            letters = DeadLetter.objects.filter(pk__in=result.dead_letters[:MAX_REJECTIONS_SHOWN])
            data["rejections"] = [
                {"dead_letter": dl.pk, "reasons": dl.reasons} for dl in letters.order_by("pk")
            ]
        return Response(data)


# --- devices -----------------------------------------------------------------------------------


class DeviceViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """感知设备 inside the caller's scope."""

    queryset = Device.objects.select_related(
        "device_type", "owner_department", "latest", "component"
    )
    serializer_class = DeviceSerializer
    lookup_field = "code"
    lookup_value_regex = r"[^/+#]+"
    permission_classes = [Capability]
    required_capability = "sensing.view"

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        if self.action == "list":
            qs = queries.filter_devices(qs, self.request.query_params)
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, description="设备类型编码，逗号分隔"),
            OpenApiParameter("state", str, description="online / offline / unknown"),
            OpenApiParameter("grid", str, description="网格编码（含下级）"),
            OpenApiParameter("q", str, description="编码、名称或地址包含"),
        ],
        summary="设备列表",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=DeviceCreateSerializer,
        responses={201: OpenApiTypes.OBJECT},
        summary="登记设备（应答中的 secret 只显示这一次）",
    )
    def create(self, request):
        _require(request.user, "sensing.configure", "您没有登记设备的权限。")
        serializer = DeviceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        department = None
        if data.pop("owner_department", ""):
            from towngrid.accounts.models import Department

            department = Department.objects.filter(
                code=request.data.get("owner_department")
            ).first()
            if department is None:
                raise ApiError("invalid", "未知的权属部门。", details={"field": "owner_department"})
        component_code = data.pop("component_code", "")
        if component_code:
            from towngrid.registry.models import Component

            data["component"] = Component.objects.filter(code=component_code).first()
            if data["component"] is None:
                raise ApiError("invalid", "未知的部件编码。", details={"field": "component_code"})
        try:
            device, secret = actions.create_device(
                actor=request.user, owner_department=department, **data
            )
        except SensingError as exc:
            raise api_error(exc) from None
        if not can_see_grid_code(request.user, device.grid_code):
            # Registered, but outside the caller's own scope: do not echo where.
            return Response({"code": device.code, "secret": secret}, status=201)
        body = dict(DeviceSerializer(device).data)
        body["secret"] = secret
        return Response(body, status=201)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="更换接入密钥")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, code=None):
        device = self.get_object()
        _require(request.user, "sensing.configure", "您没有更换设备密钥的权限。")
        return Response(
            {"code": device.code, "secret": actions.rotate_secret(device, actor=request.user)}
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("metric", str, description="指标编码（默认全部）"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="起（含），默认 24 小时前"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="止（不含），默认现在"),
            OpenApiParameter("buckets", int, description="分桶数（默认 240；0 = 原始数据）"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="观测数据（按时间分桶：平均、最小、最大）",
    )
    @action(detail=True, methods=["get"])
    def observations(self, request, code=None):
        device = self.get_object()
        params = request.query_params
        try:
            data = queries.series(
                device,
                metric=params.get("metric") or None,
                start=params.get("from"),
                end=params.get("to"),
                buckets=params.get("buckets"),
            )
        except SensingError as exc:
            raise api_error(exc) from None
        return Response(data)


class DeviceTypeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = DeviceType.objects.all()
    serializer_class = DeviceTypeSerializer
    permission_classes = [Capability]
    required_capability = "sensing.view"
    pagination_class = None


# --- alarms ------------------------------------------------------------------------------------


class AlarmViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """告警 inside the caller's scope; acknowledge and clear."""

    queryset = Alarm.objects.select_related(
        "device", "case", "acknowledged_by", "cleared_by"
    ).order_by("-last_seen_at", "-id")
    serializer_class = AlarmSerializer
    permission_classes = [Capability]
    required_capability = "sensing.view"

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        if self.action == "list":
            qs = queries.filter_alarms(qs, self.request.query_params)
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("active", bool, description="仅活动告警 / 仅已清除"),
            OpenApiParameter("status", str, description="状态，逗号分隔"),
            OpenApiParameter("severity", str, description="级别，逗号分隔"),
            OpenApiParameter("type", str, description="告警类型，逗号分隔"),
            OpenApiParameter("device", str, description="设备编码"),
            OpenApiParameter("device_type", str, description="设备类型编码"),
            OpenApiParameter("grid", str, description="网格编码（含下级）"),
        ],
        summary="告警列表",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _act(self, request, func) -> Response:
        alarm = self.get_object()
        serializer = AlarmActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            alarm = func(
                alarm,
                actor=request.user,
                note=serializer.validated_data["note"],
                expected_version=serializer.validated_data.get("expected_version"),
            )
        except SensingError as exc:
            raise api_error(exc) from None
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(
        request=AlarmActionSerializer, responses={200: AlarmSerializer}, summary="确认告警"
    )
    @action(detail=True, methods=["post"])
    def ack(self, request, pk=None):
        return self._act(request, actions.acknowledge)

    @extend_schema(
        request=AlarmActionSerializer, responses={200: AlarmSerializer}, summary="清除告警"
    )
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        return self._act(request, actions.clear)


class AlarmCountsView(APIView):
    """Active alarm counts of the children of a grid node (default: the caller's own node)."""

    permission_classes = [Capability]
    required_capability = "sensing.view"

    @extend_schema(
        parameters=[OpenApiParameter("grid", str, description="网格编码，默认本人管辖范围")],
        responses={200: OpenApiTypes.OBJECT},
        summary="各级网格活动告警数",
    )
    def get(self, request):
        from towngrid.grids.models import GridNode

        user = request.user
        code = request.query_params.get("grid", "")
        if not code:
            if scope_kind_of(user) == ScopeKind.GRID and user.scope_id:
                code = user.scope.code
            else:
                node = GridNode.objects.filter(level=1).order_by("code").first()
                code = node.code if node else ""
        kind = scope_kind_of(user)
        allowed = kind == ScopeKind.TOWN or (
            kind == ScopeKind.GRID and user.scope_id and code.startswith(user.scope.code)
        )
        if not code or not allowed:
            raise ApiError("not_found", "网格不存在或不在您的管辖范围内。", status_code=404)
        return Response(
            {
                "grid": code,
                "total": queries.alarm_counts(code),
                "children": queries.grid_alarm_table(code),
            }
        )


# --- dead letters ------------------------------------------------------------------------------


class DeadLetterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """死信: rejected messages with their reasons (sensing.configure), and replay."""

    queryset = DeadLetter.objects.all().order_by("-received_at", "-id")
    serializer_class = DeadLetterSerializer
    permission_classes = [Capability]
    required_capability = "sensing.configure"

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        params = self.request.query_params
        if self.action == "list":
            if params.get("device"):
                qs = qs.filter(device_code=params["device"])
            if params.get("replayed") in ("0", "false"):
                qs = qs.filter(replayed_at__isnull=True)
        return qs

    @extend_schema(
        request=ReplaySerializer, responses={200: OpenApiTypes.OBJECT}, summary="重放死信"
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        dead_letter = self.get_object()
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = actions.replay_dead_letter(
                dead_letter, actor=request.user, payload=serializer.validated_data.get("payload")
            )
        except SensingError as exc:
            raise api_error(exc) from None
        dead_letter.refresh_from_db()
        return Response(
            {"result": result.as_dict(), "dead_letter": DeadLetterSerializer(dead_letter).data}
        )
