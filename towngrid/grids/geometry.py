"""Validation of grid boundaries (GeoJSON FeatureCollection → checked, measured features).

This module is pure: it knows nothing of the database. ``actions.import_geojson`` passes in the
nodes already stored that the file refers to (parents, and siblings that stay), so the same
checks serve the import, the dry run and the tests.

Every problem is reported, not just the first: a town's survey office fixes a file in one pass
only if it sees the whole list. Each error names the feature (index in the file and code), the
field, and a reason in Chinese.

Areas are in m² on a local equirectangular projection around each polygon's centroid: at town
scale (a few km) the error is far below survey accuracy, and it needs no pyproj. Tolerance
checks compare areas as fractions, so they are computed in degree space with the same
cos(latitude) factor on both sides.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from .models import CODE_LENGTHS, KINDS_BY_LEVEL, Kind, Level

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG)
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

# Defaults: a child may stick out of its parent, and siblings may overlap, by up to 1 % of the
# (smaller) polygon's area. Surveyed boundaries digitised separately never match exactly.
DEFAULT_CONTAINMENT_TOLERANCE = 0.01
DEFAULT_OVERLAP_TOLERANCE = 0.01

_KIND_LABELS = {k.value: str(k.label) for k in Kind}

# GEOS validity reasons, in Chinese. The raw reason (with the location) is kept in brackets so
# the surveyor can find the spot.
_VALIDITY_REASONS = {
    "Self-intersection": "边界自相交",
    "Ring Self-intersection": "边界环自相交",
    "Too few points in geometry component": "点数不足，无法构成多边形",
    "Hole lies outside shell": "内环（洞）在外环之外",
    "Nested holes": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "多个外环相互嵌套",
    "Duplicate Rings": "存在重复的环",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


@dataclass(frozen=True)
class FeatureError:
    """One problem in one feature. ``index`` is the feature's position in the file (None for a
    problem with the file itself); ``field`` names what is wrong (code, parent_code, geometry …)."""

    index: int | None
    code: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"第 {self.index} 个要素" if self.index is not None else "文件"
        code = f"（{self.code}）" if self.code else ""
        return f"{where}{code} {self.field}：{self.reason}"


@dataclass
class ParsedFeature:
    """A feature that passed the field checks, with its geometry and measurements."""

    index: int
    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None
    geometry: shapely.Geometry | None
    geojson: dict[str, Any] | None
    geometry_ok: bool = False
    area_m2: float | None = None
    centroid: tuple[float, float] | None = None


@dataclass
class ExistingNode:
    """A node already in the database, as validation needs it."""

    code: str
    level: int
    parent_code: str | None = None
    boundary: dict[str, Any] | None = None


@dataclass
class ValidationResult:
    features: list[ParsedFeature] = field(default_factory=list)
    errors: list[FeatureError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def area_m2(geom: shapely.Geometry) -> float:
    """Area in m² on a local equirectangular projection around the polygon's centroid."""
    if geom is None or geom.is_empty:
        return 0.0
    lat0 = shapely.centroid(geom).y
    return float(geom.area) * M_PER_DEG * M_PER_DEG * math.cos(math.radians(lat0))


def label_point(geom: shapely.Geometry) -> tuple[float, float]:
    """A point for the node's label and centroid fields: the true centroid when it lies inside
    the polygon, otherwise a point guaranteed inside (a U-shaped village's centroid may be in
    its neighbour)."""
    point = shapely.centroid(geom)
    if not shapely.contains(geom, point):
        point = shapely.point_on_surface(geom)
    return round(point.x, 7), round(point.y, 7)


def _validity_reason(geom: shapely.Geometry) -> str:
    raw = shapely.is_valid_reason(geom)
    head = raw.split("[", 1)[0].strip()
    label = _VALIDITY_REASONS.get(head, "多边形无效")
    return f"{label}（{raw}）"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_code(value: Any) -> str | None:
    # Codes are digit strings; a number is accepted because spreadsheets export them as such
    # (our codes start with the division code 310…, so no leading zero is lost).
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit() and value.isascii():
            return value
    return None


def _parse_geometry(index: int, code: str, raw: Any, errors: list[FeatureError]):
    if not isinstance(raw, Mapping):
        errors.append(FeatureError(index, code, "geometry", "缺少几何（geometry）。"))
        return None
    gtype = raw.get("type")
    if gtype not in ("Polygon", "MultiPolygon"):
        errors.append(
            FeatureError(
                index, code, "geometry", f"几何类型必须是 Polygon 或 MultiPolygon，而不是 {gtype}。"
            )
        )
        return None
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        errors.append(FeatureError(index, code, "geometry", f"坐标格式错误：{exc}"))
        return None
    if geom.is_empty:
        errors.append(FeatureError(index, code, "geometry", "几何为空。"))
        return None
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        errors.append(
            FeatureError(
                index,
                code,
                "geometry",
                "坐标超出经纬度范围；坐标应为 WGS-84 经纬度，顺序为[经度, 纬度]。",
            )
        )
        return None
    return geom


def _parse_feature(index: int, feature: Any, errors: list[FeatureError]) -> ParsedFeature | None:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        errors.append(FeatureError(index, "", "type", "不是 GeoJSON 要素（Feature）。"))
        return None
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        errors.append(FeatureError(index, "", "properties", "缺少属性（properties）。"))
        return None

    raw_code = props.get("code")
    code = _as_code(raw_code)
    if code is None:
        reason = "缺少编码。" if raw_code in (None, "") else f"编码“{raw_code}”必须全部是数字。"
        errors.append(FeatureError(index, str(raw_code or ""), "code", reason))
    shown_code = code or str(raw_code or "")

    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FeatureError(index, shown_code, "name", "缺少名称。"))
    elif len(name.strip()) > 100:
        errors.append(FeatureError(index, shown_code, "name", "名称不能超过 100 个字。"))

    level = _as_int(props.get("level"))
    if level is None or level not in Level.values:
        errors.append(
            FeatureError(
                index, shown_code, "level", f"层级必须是 1–5 的整数，而不是“{props.get('level')}”。"
            )
        )
        level = None

    kind = props.get("kind")
    if kind not in Kind.values:
        errors.append(
            FeatureError(
                index,
                shown_code,
                "kind",
                f"未知类型“{kind}”，可选：{'、'.join(Kind.values)}。",
            )
        )
    elif level is not None and kind not in KINDS_BY_LEVEL[Level(level)]:
        allowed = "、".join(
            f"{k.value}（{_KIND_LABELS[k.value]}）" for k in sorted(KINDS_BY_LEVEL[Level(level)])
        )
        errors.append(
            FeatureError(
                index,
                shown_code,
                "kind",
                f"类型“{kind}”不适用于第 {level} 级（{Level(level).label}），可选：{allowed}。",
            )
        )

    raw_parent = props.get("parent_code")
    parent_code = None if raw_parent in (None, "") else _as_code(raw_parent)
    if level is not None and level > 1 and raw_parent in (None, ""):
        errors.append(FeatureError(index, shown_code, "parent_code", "缺少上级编码。"))
    elif raw_parent not in (None, "") and parent_code is None:
        errors.append(
            FeatureError(
                index, shown_code, "parent_code", f"上级编码“{raw_parent}”必须全部是数字。"
            )
        )
    elif level == 1 and parent_code is not None:
        errors.append(FeatureError(index, shown_code, "parent_code", "第 1 级（镇）不能有上级。"))

    if code is not None and level is not None:
        expected = CODE_LENGTHS[Level(level)]
        if len(code) != expected:
            errors.append(
                FeatureError(
                    index,
                    code,
                    "code",
                    f"第 {level} 级编码应为 {expected} 位，实为 {len(code)} 位。",
                )
            )
    if code is not None and parent_code is not None and not code.startswith(parent_code):
        errors.append(
            FeatureError(index, code, "code", f"编码 {code} 不以上级编码 {parent_code} 开头。")
        )

    geom = _parse_geometry(index, shown_code, feature.get("geometry"), errors)
    geometry_ok = False
    if geom is not None:
        if shapely.is_valid(geom):
            geometry_ok = True
        else:
            errors.append(FeatureError(index, shown_code, "geometry", _validity_reason(geom)))

    if code is None or level is None:
        return None  # nothing further can be checked without an identity and a level
    parsed = ParsedFeature(
        index=index,
        code=code,
        name=name.strip() if isinstance(name, str) else "",
        level=level,
        kind=kind if isinstance(kind, str) else "",
        parent_code=parent_code,
        geometry=geom,
        # Canonical JSON (lists, not tuples) so a re-import compares equal to what is stored.
        geojson=json.loads(json.dumps(feature.get("geometry"))) if geom is not None else None,
        geometry_ok=geometry_ok,
    )
    if geometry_ok:
        parsed.area_m2 = round(area_m2(geom), 1)
        parsed.centroid = label_point(geom)
    # A feature with field errors is still returned: it takes part in the file-level checks
    # (duplicates, parents, overlaps) so that those are reported in the same pass. Any error
    # stops the import as a whole, so nothing half-checked is ever written.
    return parsed


def validate_feature_collection(
    fc: Any,
    *,
    existing: Mapping[str, ExistingNode] | None = None,
    existing_children: Mapping[str, Sequence[ExistingNode]] | None = None,
    containment_tolerance: float = DEFAULT_CONTAINMENT_TOLERANCE,
    overlap_tolerance: float = DEFAULT_OVERLAP_TOLERANCE,
) -> ValidationResult:
    """Check a FeatureCollection destined for the grid and return every problem found.

    ``existing`` maps codes of stored nodes (at least the parents the file refers to and does not
    contain) to what validation needs; ``existing_children`` maps a parent code to its stored
    children that the file does not replace, so new siblings are checked against them too.
    """
    existing = existing or {}
    existing_children = existing_children or {}
    result = ValidationResult()
    errors = result.errors

    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection":
        errors.append(FeatureError(None, "", "type", "文件不是 GeoJSON FeatureCollection。"))
        return result
    features = fc.get("features")
    if not isinstance(features, list):
        errors.append(FeatureError(None, "", "features", "缺少要素列表（features）。"))
        return result
    if not features:
        errors.append(FeatureError(None, "", "features", "文件中没有任何要素。"))
        return result

    parsed: list[ParsedFeature] = []
    for index, feature in enumerate(features):
        item = _parse_feature(index, feature, errors)
        if item is not None:
            parsed.append(item)

    # Duplicate codes: the first occurrence stands, each later one is an error.
    by_code: dict[str, ParsedFeature] = {}
    unique: list[ParsedFeature] = []
    for item in parsed:
        first = by_code.get(item.code)
        if first is not None:
            errors.append(
                FeatureError(
                    item.index,
                    item.code,
                    "code",
                    f"编码重复：与第 {first.index} 个要素（{first.name}）相同。",
                )
            )
            continue
        by_code[item.code] = item
        unique.append(item)

    # Parents: in the file or in the database, one level up.
    for item in unique:
        if item.parent_code is None or item.level == 1:
            continue
        parent = by_code.get(item.parent_code)
        parent_level = parent.level if parent else None
        if parent is None and item.parent_code in existing:
            parent_level = existing[item.parent_code].level
        if parent_level is None:
            errors.append(
                FeatureError(
                    item.index,
                    item.code,
                    "parent_code",
                    f"上级 {item.parent_code} 既不在文件中，也不在系统中。",
                )
            )
        elif parent_level != item.level - 1:
            errors.append(
                FeatureError(
                    item.index,
                    item.code,
                    "parent_code",
                    f"上级 {item.parent_code} 是第 {parent_level} 级，"
                    f"第 {item.level} 级网格的上级应为第 {item.level - 1} 级。",
                )
            )

    _check_containment(unique, by_code, existing, containment_tolerance, errors)
    _check_stored_children(unique, existing_children, containment_tolerance, errors)
    _check_sibling_overlaps(unique, existing_children, overlap_tolerance, errors)

    errors.sort(key=lambda e: (-1 if e.index is None else e.index, e.field))
    result.features = unique
    return result


def _stored_geometry(node: ExistingNode | None) -> shapely.Geometry | None:
    if node is None or not node.boundary:
        return None
    try:
        geom = shape(node.boundary)
    except Exception:
        return None
    return geom if not geom.is_empty and shapely.is_valid(geom) else None


def _check_containment(
    items: list[ParsedFeature],
    by_code: Mapping[str, ParsedFeature],
    existing: Mapping[str, ExistingNode],
    tolerance: float,
    errors: list[FeatureError],
) -> None:
    """Children must lie inside their parent, up to ``tolerance`` of the child's area."""
    children: list[ParsedFeature] = []
    parents: list[shapely.Geometry] = []
    stored_cache: dict[str, shapely.Geometry | None] = {}
    for item in items:
        if not item.geometry_ok or item.parent_code is None:
            continue
        parent = by_code.get(item.parent_code)
        if parent is not None:
            pgeom = parent.geometry if parent.geometry_ok else None
        else:
            if item.parent_code not in stored_cache:
                stored_cache[item.parent_code] = _stored_geometry(existing.get(item.parent_code))
            pgeom = stored_cache[item.parent_code]
        if pgeom is None:
            continue  # the parent's own problem is reported on the parent
        children.append(item)
        parents.append(pgeom)
    if not children:
        return
    child_geoms = np.array([c.geometry for c in children], dtype=object)
    parent_geoms = np.array(parents, dtype=object)
    # Fast path: most children are covered exactly; only the rest need the costly difference.
    covered = shapely.covers(parent_geoms, child_geoms)
    todo = np.flatnonzero(~covered)
    if todo.size == 0:
        return
    outside = shapely.area(shapely.difference(child_geoms[todo], parent_geoms[todo]))
    child_area = shapely.area(child_geoms[todo])
    for k, i in enumerate(todo):
        if child_area[k] <= 0:
            continue
        share = outside[k] / child_area[k]
        if share > tolerance:
            item = children[i]
            outside_m2 = item.area_m2 * share if item.area_m2 else 0.0
            errors.append(
                FeatureError(
                    item.index,
                    item.code,
                    "geometry",
                    f"超出上级 {item.parent_code} 的边界：{share:.1%} 的面积"
                    f"（约 {outside_m2:,.0f} m²）在上级之外，容差为 {tolerance:.1%}。",
                )
            )


def _check_stored_children(
    items: list[ParsedFeature],
    existing_children: Mapping[str, Sequence[ExistingNode]],
    tolerance: float,
    errors: list[FeatureError],
) -> None:
    """A node whose boundary the file changes must still hold its stored children that the file
    leaves alone; otherwise shrinking a micro-grid would silently orphan its 楼组."""
    for item in items:
        if not item.geometry_ok:
            continue
        for child in existing_children.get(item.code, ()):
            geom = _stored_geometry(child)
            if geom is None or item.geometry.covers(geom) or geom.area <= 0:
                continue
            share = geom.difference(item.geometry).area / geom.area
            if share > tolerance:
                errors.append(
                    FeatureError(
                        item.index,
                        item.code,
                        "geometry",
                        f"系统中的下级 {child.code} 有 {share:.1%} 的面积落在新边界之外，"
                        f"容差为 {tolerance:.1%}；请一并调整下级边界。",
                    )
                )


def _check_sibling_overlaps(
    items: list[ParsedFeature],
    existing_children: Mapping[str, Sequence[ExistingNode]],
    tolerance: float,
    errors: list[FeatureError],
) -> None:
    """Siblings may overlap by at most ``tolerance`` of the smaller one's area. One STRtree per
    sibling group keeps this near-linear: 2,000 nodes check in well under a second."""
    groups: dict[str | None, list[ParsedFeature]] = defaultdict(list)
    for item in items:
        # Towns are siblings of each other; a lower node without a parent has its own error.
        if item.geometry_ok and (item.parent_code is not None or item.level == 1):
            groups[item.parent_code].append(item)
    for parent_code, members in groups.items():
        stored = []
        file_codes = {m.code for m in members}
        for node in existing_children.get(parent_code or "", ()):
            if node.code in file_codes:
                continue
            geom = _stored_geometry(node)
            if geom is not None:
                stored.append((node.code, geom))
        if len(members) + len(stored) < 2:
            continue
        geoms = np.array([m.geometry for m in members] + [g for _, g in stored], dtype=object)
        n_file = len(members)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        # Each unordered pair once, and at least one side from the file (stored siblings were
        # checked when they were imported).
        keep = (left < right) & (left < n_file)
        left, right = left[keep], right[keep]
        if left.size == 0:
            continue
        overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(smaller > 0, overlap / smaller, 0.0)
        for k in np.flatnonzero(share > tolerance):
            a = members[left[k]]
            j = right[k]
            other = members[j].code if j < n_file else stored[j - n_file][0]
            where = f"第 {members[j].index} 个要素 {other}" if j < n_file else f"系统中的 {other}"
            m2 = overlap[k] * M_PER_DEG * M_PER_DEG * math.cos(math.radians(a.centroid[1]))
            errors.append(
                FeatureError(
                    a.index,
                    a.code,
                    "geometry",
                    f"与同级网格（{where}）重叠：重叠面积约 {m2:,.0f} m²，"
                    f"占较小者的 {share[k]:.1%}，容差为 {tolerance:.1%}。",
                )
            )
