"""The codes API: what a scanned token opens (public or full card), check-in, report and update
from a scan; the codes of the caller's scope with revoke/reissue/issue; check-ins; patrols (due,
route, coverage); door-plate jobs.

Thin: parse, call ``actions`` / ``queries`` / ``patrols``, render. Lists and details of codes and
check-ins go through ``ScopedViewSetMixin``. Refusals are ``ApiError`` with the action's code:
``not_found`` (404), ``revoked`` (410), ``forbidden`` (403), ``invalid`` / ``reason_required``
(400), ``conflict`` (409).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import can_see, has_capability, in_grid_scope
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import actions, conf, objects, patrols, queries
from .errors import CodeError
from .models import CheckIn, ObjectCode
from .views import SCAN_EXEMPT, _scope_prefix, may_work_on

PARSERS = [JSONParser, MultiPartParser, FormParser]


def api_error(exc: Exception) -> ApiError:
    status = exc.http_status if isinstance(exc, CodeError) else 400
    return ApiError(
        getattr(exc, "code", "invalid"),
        getattr(exc, "message", str(exc)),
        status_code=status,
        details=getattr(exc, "details", None),
    )


def _require(user, capability: str, label: str) -> None:
    if not has_capability(user, capability):
        raise ApiError("forbidden", f"您没有“{label}”的权限。", status_code=403)


# --- serializers ---------------------------------------------------------------------------------


class ObjectCodeSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = ObjectCode
        fields = [
            "id",
            "token",
            "url",
            "object_type",
            "object_id",
            "serial",
            "grid_code",
            "group_code",
            "issued_at",
            "revoked_at",
            "revoke_reason",
        ]

    def get_object_type(self, code: ObjectCode) -> str:
        model = code.content_type.model_class()
        return getattr(model, "colour_kind", code.content_type.model) if model else ""

    def get_url(self, code: ObjectCode) -> str:
        request = self.context.get("request")
        return queries.scan_url(code.token, conf.public_url(request))


class CheckInSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "object_type",
            "object_id",
            "user_name",
            "at",
            "lng",
            "lat",
            "accuracy_m",
            "distance_m",
            "flagged_far",
            "no_position",
            "note",
            "findings",
            "grid_code",
        ]

    def get_object_type(self, checkin: CheckIn) -> str:
        model = checkin.content_type.model_class()
        return getattr(model, "colour_kind", checkin.content_type.model) if model else ""


class CheckInInput(serializers.Serializer):
    lng = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    crs = serializers.ChoiceField(choices=["wgs84", "gcj02", "bd09"], default="wgs84")
    accuracy = serializers.FloatField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    findings = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class ReportInput(serializers.Serializer):
    category = serializers.CharField(help_text="小类完整编码（如 E0101）或编号")
    description = serializers.CharField()
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="")


class IssueInput(serializers.Serializer):
    object_type = serializers.CharField(help_text="house、enterprise、shop、component …")
    object_id = serializers.IntegerField()


class PlatesInput(serializers.Serializer):
    grid = serializers.CharField(help_text="楼组或网格编码")
    building = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="楼栋：地址开头（可选）"
    )
    format = serializers.ChoiceField(choices=["pdf", "svg"], default="pdf")


def _stop(stop: patrols.Stop) -> dict[str, Any]:
    return {
        "object_type": stop.kind,
        "object_id": stop.object_id,
        "label": stop.label,
        "address": stop.address,
        "colour": stop.colour,
        "grid_code": stop.grid_code,
        "patrol_due_at": stop.patrol_due_at,
        "last_patrol_at": stop.last_patrol_at,
        "overdue": stop.overdue,
        "lng": stop.lng,
        "lat": stop.lat,
        "leg_m": stop.leg_m,
        "token": stop.token,
    }


def card_data(obj, code: ObjectCode, user) -> dict[str, Any]:
    full = may_work_on(user, obj)
    card = queries.full_card(obj) if full else queries.public_card(obj)
    data: dict[str, Any] = {
        "view": "full" if full else "public",
        "object_type": objects.kind_of(obj),
        "kind": card["kind"],
        "title": card["title"],
        "address": card["address"],
        "grid_name": card["grid_name"],
        "contacts": card["contacts"],
        "hotline": card["hotline"],
    }
    if full:
        state = card["colour"]
        data.update(
            {
                "object_id": obj.pk,
                "grid_code": obj.grid_code,
                "lng": getattr(obj, "lng", None),
                "lat": getattr(obj, "lat", None),
                "version": getattr(obj, "version", None),
                "serial": code.serial,
                "colour": state.colour if state else None,
                "reasons": [queries.reason_text(r) for r in (state.reasons if state else [])],
                "patrol_due_at": state.patrol_due_at if state else None,
                "last_patrol_at": state.last_patrol_at if state else None,
                "open_cases": [
                    {"number": c.number, "category": c.category.name, "status": c.status}
                    for c in card["open_cases"]
                ],
                "history": [
                    {k: v for k, v in item.items() if k in {"at", "kind", "text", "by", "note"}}
                    for item in card["history"]
                ],
            }
        )
    return data


# --- the scan ------------------------------------------------------------------------------------


class ScanMixin:
    scope_exempt = SCAN_EXEMPT
    parser_classes = PARSERS

    def resolve(self, token: str):
        try:
            code = queries.code_for_token(token)
            return code, queries.subject_of(code)
        except CodeError as exc:
            raise api_error(exc) from None

    def worker(self, request, obj, capability: str, label: str) -> None:
        if not request.user.is_authenticated:
            raise ApiError("not_authenticated", "请先登录。", status_code=401)
        _require(request.user, capability, label)
        if not can_see(request.user, obj):
            raise ApiError("forbidden", "该对象不在您的管辖网格内。", status_code=403)


class ScanView(ScanMixin, APIView):
    """GET: the card a scanned token opens (public for anyone; full for a worker in scope)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=["codes"])
    def get(self, request, token: str):
        code, obj = self.resolve(token)
        return Response(card_data(obj, code, request.user))


class ScanCheckInView(ScanMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=CheckInInput, responses=CheckInSerializer, tags=["codes"])
    def post(self, request, token: str):
        code, obj = self.resolve(token)
        self.worker(request, obj, "codes.checkin", "扫码签到")
        data = _valid(CheckInInput, request.data)
        try:
            checkin = actions.check_in(
                obj,
                actor=request.user,
                lng=data.get("lng"),
                lat=data.get("lat"),
                crs=data["crs"],
                accuracy_m=data.get("accuracy"),
                note=data["note"],
                findings=data["findings"],
                code=code,
            )
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(CheckInSerializer(checkin).data, status=201)


class ScanReportView(ScanMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReportInput, responses=OpenApiTypes.OBJECT, tags=["codes"])
    def post(self, request, token: str):
        code, obj = self.resolve(token)
        self.worker(request, obj, "cases.report", "上报问题")
        data = _valid(ReportInput, request.data)
        photos = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
        try:
            case = actions.report_from_scan(
                obj,
                actor=request.user,
                category=data["category"],
                description=data["description"],
                photos=photos,
            )
        except CodeError as exc:
            raise api_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - a refused photo (cases.media.PhotoError)
            if getattr(exc, "message", None) is None:
                raise
            raise ApiError("invalid", exc.message, details={"field": "photos"}) from None
        return Response(
            {
                "number": case.number,
                "status": case.status,
                "subject": {"object_type": objects.kind_of(obj), "object_id": obj.pk},
                "address": case.address,
                "grid_code": case.grid_code,
            },
            status=201,
        )


class ScanObjectView(ScanMixin, APIView):
    """PATCH: update the fields a scan may update (see forms.UPDATE_FIELDS), with ``version``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, tags=["codes"])
    def patch(self, request, token: str):
        from .forms import update_form_class

        code, obj = self.resolve(token)
        self.worker(request, obj, "registry.edit", "更新信息")
        form_class = update_form_class(type(obj), objects.kind_of(obj))
        if form_class is None:
            raise ApiError("invalid", "该对象没有可在现场更新的信息。")
        unknown = set(request.data) - set(form_class.base_fields) - {"version"}
        if unknown:
            raise ApiError(
                "invalid", "含有不可在现场更新的字段。", details={"fields": sorted(unknown)}
            )
        original = type(obj)._default_manager.get(pk=obj.pk)
        initial = {f: getattr(obj, f) for f in form_class.base_fields}
        form = form_class({**initial, **dict(request.data.items())}, instance=obj)
        if not form.is_valid():
            raise ApiError("invalid", "输入有误，请检查标出的字段。", details=form.errors)
        changes = {f: form.cleaned_data[f] for f in request.data if f in form.cleaned_data}
        try:
            updated = actions.update_object(
                original,
                actor=request.user,
                expected_version=request.data.get("version"),
                **changes,
            )
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(
            {"version": updated.version, **{f: getattr(updated, f) for f in form_class.base_fields}}
        )


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ApiError("invalid", "输入有误，请检查标出的字段。", details=serializer.errors)
    return serializer.validated_data


# --- codes and check-ins -------------------------------------------------------------------------


class ObjectCodeViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Codes (门牌码) inside the caller's scope. ``?live=1`` live ones only, ``?grid=`` a subtree."""

    queryset = ObjectCode.objects.select_related("content_type")
    serializer_class = ObjectCodeSerializer
    parser_classes = PARSERS

    def get_queryset(self):
        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("live") in {"1", "true"}:
            qs = qs.filter(revoked_at__isnull=True)
        if params.get("grid"):
            qs = qs.filter(grid_code__startswith=params["grid"])
        return qs

    @extend_schema(request=ReasonInput, responses=ObjectCodeSerializer, tags=["codes"])
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        code = self.get_object()
        data = _valid(ReasonInput, request.data)
        try:
            code = actions.revoke(code, actor=request.user, reason=data["reason"])
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(self.get_serializer(code).data)

    @extend_schema(request=ReasonInput, responses=ObjectCodeSerializer, tags=["codes"])
    @action(detail=True, methods=["post"])
    def reissue(self, request, pk=None):
        code = self.get_object()
        data = _valid(ReasonInput, request.data)
        obj = code.subject
        if obj is None:
            raise ApiError("not_found", "该码对应的对象已不存在。", status_code=404)
        try:
            new = actions.reissue(obj, actor=request.user, reason=data["reason"])
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(self.get_serializer(new).data, status=201)

    @extend_schema(request=IssueInput, responses=ObjectCodeSerializer, tags=["codes"])
    @action(detail=False, methods=["post"])
    def issue(self, request):
        data = _valid(IssueInput, request.data)
        model = objects.model_by_kind(data["object_type"])
        if model is None:
            raise ApiError("invalid", f"未知的对象类型：{data['object_type']}。")
        from towngrid.accounts.access import visible_to

        obj = (
            visible_to(request.user, model._default_manager.all())
            .filter(pk=data["object_id"])
            .first()
        )
        if obj is None:
            raise ApiError("not_found", "对象不存在或不在您的管辖范围内。", status_code=404)
        try:
            code = actions.issue(obj, actor=request.user)
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(self.get_serializer(code).data, status=201)


class CheckInViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Check-ins (巡查签到) inside the caller's scope. ``?flagged=1``, ``?mine=1``, ``?from=``,
    ``?to=`` (dates)."""

    queryset = CheckIn.objects.select_related("content_type")
    serializer_class = CheckInSerializer

    def get_queryset(self):
        from django.db.models import Q

        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("flagged") in {"1", "true"}:
            qs = qs.filter(Q(flagged_far=True) | Q(no_position=True))
        if params.get("mine") in {"1", "true"}:
            qs = qs.filter(user=self.request.user)
        for name, lookup in (("from", "at__date__gte"), ("to", "at__date__lte")):
            if params.get(name):
                qs = qs.filter(**{lookup: _date(params[name], name)})
        return qs


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            "invalid", f"日期格式无效：{text}（应为 YYYY-MM-DD）。", details={"field": field}
        ) from None


# --- patrols -------------------------------------------------------------------------------------


def _patrol_user(request) -> None:
    user = request.user
    if not (has_capability(user, "codes.checkin") or has_capability(user, "registry.view")):
        raise ApiError("forbidden", "您没有查看巡查的权限。", status_code=403)


class PatrolsView(APIView):
    """GET: my due and overdue patrols today, by colour."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=["codes"])
    def get(self, request):
        _patrol_user(request)
        due = patrols.due_patrols(request.user)
        return Response(
            {
                "day": due["day"],
                "counts": due["counts"],
                "overdue": [_stop(s) for s in due["overdue"]],
                "due_today": [_stop(s) for s in due["due_today"]],
                "truncated": due["truncated"],
            }
        )


class RouteView(APIView):
    """GET: the day's route, nearest first from ``lng``/``lat`` (else the grid's centroid)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("lng", float), OpenApiParameter("lat", float)],
        responses=OpenApiTypes.OBJECT,
        tags=["codes"],
    )
    def get(self, request):
        _patrol_user(request)
        start = None
        if "lng" in request.query_params or "lat" in request.query_params:
            try:
                start = (float(request.query_params["lng"]), float(request.query_params["lat"]))
            except (KeyError, ValueError):
                raise ApiError("invalid", "经纬度必须是数字。", details={"field": "lng"}) from None
        route = patrols.route_for_day(request.user, start=start)
        return Response(
            {
                "day": route["day"],
                "origin": route["origin"],
                "total_m": route["total_m"],
                "stops": [_stop(s) for s in route["stops"]],
            }
        )


class CoverageView(APIView):
    """GET: patrol coverage in [start, end] (default: the last 30 days) for ``grid`` (default:
    the caller's scope), in total and per micro-grid."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("grid", str),
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
        ],
        responses=OpenApiTypes.OBJECT,
        tags=["codes"],
    )
    def get(self, request):
        _patrol_user(request)
        params = request.query_params
        prefix = _scope_prefix(request.user)
        if prefix is None:
            raise ApiError("forbidden", "您的角色没有网格范围。", status_code=403)
        grid = params.get("grid") or prefix
        if not in_grid_scope(request.user, grid):
            raise ApiError("not_found", "网格不存在或不在您的管辖范围内。", status_code=404)
        end = _date(params["end"], "end") if params.get("end") else timezone.localdate()
        start = _date(params["start"], "start") if params.get("start") else end - timedelta(29)
        if start > end:
            raise ApiError("invalid", "开始日期不能晚于结束日期。", details={"field": "start"})
        return Response(
            {
                "grid": grid,
                "start": start,
                "end": end,
                **patrols.patrol_coverage(grid, start, end),
                "grids": patrols.coverage_by_grid(grid, start, end),
            }
        )


class PlatesView(APIView):
    """POST: start a door-plate sheet job; poll ``/api/v1/jobs/<id>/``."""

    permission_classes = [IsAuthenticated]
    parser_classes = PARSERS

    @extend_schema(request=PlatesInput, responses=OpenApiTypes.OBJECT, tags=["codes"])
    def post(self, request):
        from . import plates

        _require(request.user, "codes.manage", "生成门牌码")
        data = _valid(PlatesInput, request.data)
        if not in_grid_scope(request.user, data["grid"]):
            raise ApiError("not_found", "网格不存在或不在您的管辖范围内。", status_code=404)
        try:
            job = plates.start_plate_job(
                grid_code=data["grid"],
                fmt=data["format"],
                base_url=conf.public_url(request),
                actor=request.user,
                building=data["building"],
            )
        except CodeError as exc:
            raise api_error(exc) from None
        return Response(
            {"job": job.pk, "status": job.status, "url": f"/api/v1/jobs/{job.pk}/"}, status=202
        )
