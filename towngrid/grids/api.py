"""The grid's JSON API: list, detail, tree, GeoJSON, stats, point lookup and import.

Every read of grid nodes goes through ``ScopedViewSetMixin.get_queryset`` (the user's subtree).
Point lookup answers with grid geography only, which every signed-in user may resolve (a
resident's report and a department's case need their grid); it reveals nothing located in it.
Import needs the ``grids.import`` capability.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind
from towngrid.core.api import ApiError, ScopedViewSetMixin

from . import actions, index, queries
from .crs import normalize_crs
from .models import GridNode, Kind, Level


class GridNodeSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent.code", default=None, read_only=True)

    class Meta:
        model = GridNode
        fields = [
            "code",
            "name",
            "level",
            "kind",
            "parent_code",
            "centroid_lng",
            "centroid_lat",
            "area_m2",
        ]


class PathItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    kind = serializers.CharField()


class GridNodeDetailSerializer(GridNodeSerializer):
    path = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()

    class Meta(GridNodeSerializer.Meta):
        fields = [*GridNodeSerializer.Meta.fields, "boundary", "path", "children", "counts"]

    @extend_schema_field(PathItemSerializer(many=True))
    def get_path(self, node: GridNode) -> list[dict[str, Any]]:
        return [_path_item(n) for n in node.path()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_children(self, node: GridNode) -> list[str]:
        return list(node.children.order_by("code").values_list("code", flat=True))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_counts(self, node: GridNode) -> dict[str, Any]:
        return queries.node_counts(node)


def _path_item(node: GridNode) -> dict[str, Any]:
    return {"code": node.code, "name": node.name, "level": node.level, "kind": node.kind}


def _int_param(request, name: str, *, choices=None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("invalid_parameter", f"参数 {name} 必须是整数。") from None
    if choices is not None and value not in choices:
        raise ApiError("invalid_parameter", f"参数 {name} 取值无效：{raw}。")
    return value


def _float_param(request, name: str, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        raise ApiError("invalid_coordinates", f"缺少参数 {name}。")
    try:
        value = float(raw)
    except ValueError:
        raise ApiError("invalid_coordinates", f"参数 {name} 必须是数字。") from None
    if not (low <= value <= high):  # also rejects nan
        raise ApiError("invalid_coordinates", f"参数 {name} 超出范围（{low}～{high}）。")
    return value


LEVEL_PARAM = OpenApiParameter("level", int, description="层级 1–5", enum=Level.values)
KIND_PARAM = OpenApiParameter("kind", str, description="类型", enum=Kind.values)
PARENT_PARAM = OpenApiParameter("parent", str, description="上级编码")
WITHIN_PARAM = OpenApiParameter("within", str, description="仅返回此编码的子树")
ROOT_PARAM = OpenApiParameter("root", str, description="统计此编码的子树（默认：本人范围）")


class GridNodeViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Grid nodes (网格) the user may see: their own subtree, or the whole town."""

    queryset = GridNode.objects.select_related("parent")
    serializer_class = GridNodeSerializer
    lookup_field = "code"
    # Codes are digits, so the named routes (tree, geojson, lookup …) never reach the detail.
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return GridNodeDetailSerializer if self.action == "retrieve" else GridNodeSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        level = _int_param(self.request, "level", choices=Level.values)
        if level is not None:
            qs = qs.filter(level=level)
        kind = self.request.query_params.get("kind")
        if kind:
            if kind not in Kind.values:
                raise ApiError("invalid_parameter", f"参数 kind 取值无效：{kind}。")
            qs = qs.filter(kind=kind)
        parent = self.request.query_params.get("parent")
        if parent:
            qs = qs.filter(parent__code=parent)
        return qs

    @extend_schema(parameters=[LEVEL_PARAM, KIND_PARAM, PARENT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _visible(self):
        return ScopedViewSetMixin.get_queryset(self)

    @extend_schema(
        parameters=[LEVEL_PARAM],
        responses=OpenApiTypes.OBJECT,
        description="可见网格的嵌套树；网格员只得到本人网格的子树。level 限定最深层级。",
    )
    @action(detail=False, methods=["get"], url_path="tree")
    def tree(self, request):
        max_level = _int_param(request, "level", choices=Level.values)
        qs = self._visible()
        if max_level is not None:
            qs = qs.filter(level__lte=max_level)
        rows = list(qs.order_by("code").values("code", "name", "level", "kind", "parent__code"))
        items: dict[str, dict[str, Any]] = {}
        roots: list[dict[str, Any]] = []
        for row in rows:
            item = {
                "code": row["code"],
                "name": row["name"],
                "level": row["level"],
                "kind": row["kind"],
                "children": [],
            }
            items[row["code"]] = item
            parent = items.get(row["parent__code"] or "")
            (parent["children"] if parent else roots).append(item)
        return Response({"tree": roots, "count": len(rows)})

    @extend_schema(
        parameters=[LEVEL_PARAM, WITHIN_PARAM],
        responses=OpenApiTypes.OBJECT,
        description="可见网格的边界（GeoJSON FeatureCollection），供地图使用。",
    )
    @action(detail=False, methods=["get"], url_path="geojson")
    def geojson(self, request):
        qs = self._visible()
        level = _int_param(request, "level", choices=Level.values)
        if level is not None:
            qs = qs.filter(level=level)
        within = request.query_params.get("within")
        if within:
            qs = qs.filter(code__startswith=within)
        fc = actions.export_geojson(qs)
        fc["features"] = [f for f in fc["features"] if f["geometry"]]
        return Response(fc)

    @extend_schema(
        parameters=[ROOT_PARAM],
        responses=OpenApiTypes.OBJECT,
        description="各层级的网格数和在岗人员数（网格长、专职、兼职，按人去重）。",
    )
    @action(detail=False, methods=["get"], url_path="stats")
    def stats(self, request):
        root = request.query_params.get("root") or None
        if root is None and scope_kind_of(request.user) == ScopeKind.GRID:
            # A grid worker's default is their own subtree, not the town.
            root = request.user.scope.code if request.user.scope_id else None
            if root is None:
                raise ApiError("not_found", "未找到该网格。", status_code=404)
        if root is not None and not self._visible().filter(code=root).exists():
            raise ApiError("not_found", f"未找到网格 {root}。", status_code=404)
        if root is None and not self._visible().exists():
            raise ApiError("not_found", "没有可见的网格。", status_code=404)
        return Response(queries.grid_stats(root))

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True, description="纬度"),
            OpenApiParameter("lng", float, required=True, description="经度"),
            OpenApiParameter(
                "crs",
                str,
                description="坐标系：wgs84（默认）、cgcs2000、gcj02（高德/腾讯）、bd09（百度）",
            ),
        ],
        responses={
            200: inline_serializer(
                "GridLookup",
                {"path": PathItemSerializer(many=True), "crs": serializers.CharField()},
            ),
            404: OpenApiTypes.OBJECT,
        },
        description="坐标所在网格的完整路径：镇 → 片区 → 居村 → 微网格 → 楼组（无楼组时 4 级）。",
    )
    @action(detail=False, methods=["get"], url_path="lookup")
    def lookup(self, request):
        lat = _float_param(request, "lat", -90.0, 90.0)
        lng = _float_param(request, "lng", -180.0, 180.0)
        try:
            crs = normalize_crs(request.query_params.get("crs") or "wgs84")
        except ValueError as exc:
            raise ApiError("invalid_crs", str(exc)) from None
        path = index.lookup(lng, lat, crs)
        if path is None:
            raise ApiError(
                "not_in_any_grid",
                "该坐标不在任何网格内。",
                status_code=404,
                details={"lat": lat, "lng": lng, "crs": crs},
            )
        return Response({"path": [_path_item(n) for n in path], "crs": crs})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("dry_run", bool, description="只校验，不写入")],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
        description="导入 GeoJSON FeatureCollection（全部成功或全部不写入）。需要“导入和编辑网格”权限。",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[JSONParser],
    )
    def import_(self, request):
        if not has_capability(request.user, "grids.import"):
            raise ApiError("permission_denied", "没有导入网格的权限。", status_code=403)
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        result = actions.import_geojson(
            request.data,
            actor=request.user,
            dry_run=dry_run,
            reason=str(request.query_params.get("reason", ""))[:500],
        )
        if not result.ok:
            raise ApiError(
                "invalid_geojson",
                f"文件有 {len(result.errors)} 处问题，未写入任何数据。",
                details=result.as_dict(),
            )
        return Response(result.as_dict())


@extend_schema(exclude=True)
class GridLookupAliasViewSet(GridNodeViewSet):
    """``GET /api/v1/grids/lookup`` without the trailing slash, as the issue writes it: the same
    view, left out of the schema so the operation is documented once."""
