"""Each validation error kind, reported per feature with index, code, field and a Chinese reason."""

import json
import time

import pytest
from shapely.geometry import box

from towngrid.grids.geometry import (
    ExistingNode,
    FeatureError,
    area_m2,
    label_point,
    validate_feature_collection,
)

from .test_geo_fixtures import DX, TOWN, feature, rect, tiny_fc

BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [
            [121.50 + DX, 31.15],
            [121.52 + DX, 31.17],
            [121.52 + DX, 31.15],
            [121.50 + DX, 31.17],
            [121.50 + DX, 31.15],
        ]
    ],
}


def errors_of(fc, **kwargs) -> list[FeatureError]:
    return validate_feature_collection(fc, **kwargs).errors


def only(errors, field=None):
    assert len(errors) == 1, errors
    if field:
        assert errors[0].field == field
    return errors[0]


def test_tiny_grid_is_valid_and_measured():
    result = validate_feature_collection(tiny_fc())
    assert result.ok, result.errors
    town = result.features[0]
    # 0.1° × 0.08° at 31.19 N ≈ 9.52 km × 8.90 km
    assert town.area_m2 == pytest.approx(84.7e6, rel=0.01)
    assert town.centroid == pytest.approx((121.55 + DX, 31.19))


def test_area_of_a_100m_square():
    d = 100 / 111_195.08
    import math

    sq = box(121.54, 31.19, 121.54 + d / math.cos(math.radians(31.19 + d / 2)), 31.19 + d)
    assert area_m2(sq) == pytest.approx(10_000, rel=1e-3)


def test_label_point_is_inside_a_u_shape():
    u = box(0, 0, 3, 3).difference(box(1, 1, 2, 3))
    x, y = label_point(u)
    assert u.contains(__import__("shapely").Point(x, y))


def test_not_a_feature_collection():
    e = only(errors_of({"type": "Feature"}), "type")
    assert e.index is None and "FeatureCollection" in e.reason


def test_empty_collection():
    only(errors_of({"type": "FeatureCollection", "features": []}), "features")


@pytest.mark.parametrize(
    "prop, value, field, text",
    [
        ("code", None, "code", "缺少编码"),
        ("code", "31011512X", "code", "必须全部是数字"),
        ("name", "", "name", "缺少名称"),
        ("level", 7, "level", "层级必须是 1–5"),
        ("kind", "castle", "kind", "未知类型"),
        ("kind", "village", "kind", "不适用于第 1 级"),
    ],
)
def test_missing_or_invalid_fields(prop, value, field, text):
    fc = tiny_fc()
    fc["features"][0]["properties"][prop] = value
    errors = [e for e in errors_of(fc) if e.index == 0]
    assert any(e.field == field and text in e.reason for e in errors), errors


def test_missing_parent_code_for_level_2():
    fc = tiny_fc()
    fc["features"][1]["properties"]["parent_code"] = None
    e = only(errors_of(fc), "parent_code")
    assert e.index == 1 and e.code == TOWN + "1" and "缺少上级编码" in e.reason


def test_geometry_type_must_be_polygon():
    fc = tiny_fc()
    fc["features"][5]["geometry"] = {"type": "Point", "coordinates": [121.5, 31.2]}
    e = only(errors_of(fc), "geometry")
    assert e.index == 5 and "Polygon" in e.reason


def test_missing_geometry():
    fc = tiny_fc()
    fc["features"][5]["geometry"] = None
    assert "缺少几何" in only(errors_of(fc), "geometry").reason


def test_malformed_coordinates():
    fc = tiny_fc()
    fc["features"][5]["geometry"] = {"type": "Polygon", "coordinates": [[[121.5]]]}
    assert "坐标格式错误" in only(errors_of(fc), "geometry").reason


def test_lat_lng_swapped_is_out_of_range():
    fc = tiny_fc()
    fc["features"][5]["geometry"] = rect(31.15, 121.50, 31.19, 121.55)
    assert "超出经纬度范围" in only(errors_of(fc), "geometry").reason


def test_self_intersecting_polygon():
    fc = tiny_fc()
    fc["features"][8]["geometry"] = BOWTIE
    e = only(errors_of(fc), "geometry")
    assert e.index == 8 and e.code == TOWN + "101001001"
    assert "自相交" in e.reason and "Self-intersection" in e.reason


def test_duplicate_code_reports_the_later_feature():
    fc = tiny_fc()
    dup = json.loads(json.dumps(fc["features"][6]))
    dup["properties"]["name"] = "重复"
    fc["features"].append(dup)
    e = only(errors_of(fc), "code")
    assert e.index == 9 and "编码重复" in e.reason and "第 6 个要素" in e.reason


def test_code_length_wrong_for_level():
    fc = tiny_fc()
    fc["features"][7]["properties"]["code"] = TOWN + "2010011"  # 16 digits at level 4
    errors = errors_of(fc)
    assert any(e.index == 7 and "应为 15 位" in e.reason for e in errors), errors


def test_code_not_starting_with_parent_code():
    fc = tiny_fc()
    fc["features"][7]["properties"]["code"] = TOWN + "101003"  # under 居委 101, parent says 201
    errors = errors_of(fc)
    assert any(e.index == 7 and "不以上级编码" in e.reason for e in errors), errors


def test_parent_unknown():
    fc = tiny_fc()
    del fc["features"][4]  # the park 201 goes; its micro-grid's parent is now nowhere
    e = only(errors_of(fc), "parent_code")
    assert e.code == TOWN + "201001" and "既不在文件中，也不在系统中" in e.reason


def test_parent_known_in_database():
    fc = {"type": "FeatureCollection", "features": [tiny_fc()["features"][7]]}
    existing = {
        TOWN + "201": ExistingNode(TOWN + "201", 3, TOWN + "2", rect(121.55, 31.15, 121.60, 31.23))
    }
    assert errors_of(fc, existing=existing) == []
    outside = json.loads(json.dumps(fc))
    outside["features"][0]["geometry"] = rect(121.65, 31.15, 121.70, 31.23)
    e = only(errors_of(outside, existing=existing), "geometry")
    assert "超出上级" in e.reason


def test_parent_on_wrong_level():
    fc = tiny_fc()
    # a 楼组 (level 5) whose code and parent point at a 居委 (level 3)
    fc["features"][8]["properties"]["parent_code"] = TOWN + "101"
    errors = errors_of(fc)
    assert any(e.field == "parent_code" and "应为第 4 级" in e.reason for e in errors), errors


def test_child_outside_parent():
    fc = tiny_fc()
    # micro-grid 101001 grows 20 % into the east area
    fc["features"][5]["geometry"] = rect(121.50, 31.15, 121.56, 31.19)
    errors = errors_of(fc)
    outside = [e for e in errors if e.index == 5]
    assert len(outside) == 1 and f"超出上级 {TOWN}101" in outside[0].reason
    assert "16.7%" in outside[0].reason


def test_child_outside_parent_within_tolerance_passes():
    fc = tiny_fc()
    fc["features"][8]["geometry"] = rect(121.4998, 31.15, 121.525, 31.19)  # 0.8 % outside
    assert errors_of(fc) == []
    assert errors_of(fc, containment_tolerance=0.001) != []


def test_siblings_overlapping():
    fc = tiny_fc()
    # micro 101002 reaches 0.01° south into 101001: 25 % of the smaller
    fc["features"][6]["geometry"] = rect(121.50, 31.18, 121.55, 31.23)
    errors = errors_of(fc)
    assert len(errors) == 1, errors
    e = errors[0]
    assert e.index == 5 and "与同级网格" in e.reason and f"{TOWN}101002" in e.reason
    assert "25.0%" in e.reason


def test_siblings_overlap_within_tolerance_passes():
    fc = tiny_fc()
    fc["features"][6]["geometry"] = rect(121.50, 31.1898, 121.55, 31.23)  # 0.5 %
    assert errors_of(fc) == []
    assert len(errors_of(fc, overlap_tolerance=0.001)) == 1


def test_overlap_with_stored_sibling():
    fc = {"type": "FeatureCollection", "features": [tiny_fc()["features"][6]]}
    parent = ExistingNode(TOWN + "101", 3, TOWN + "1", rect(121.50, 31.15, 121.55, 31.23))
    stored = ExistingNode(TOWN + "101001", 4, TOWN + "101", rect(121.50, 31.15, 121.55, 31.20))
    errors = errors_of(
        fc, existing={parent.code: parent}, existing_children={parent.code: [stored]}
    )
    assert f"系统中的 {TOWN}101001" in only(errors, "geometry").reason


def test_every_problem_is_reported():
    fc = tiny_fc()
    fc["features"][8]["geometry"] = BOWTIE  # 8: self-intersection
    fc["features"][5]["geometry"] = rect(121.50, 31.15, 121.58, 31.19)  # 5: outside parent
    fc["features"][2]["properties"]["kind"] = "park"  # 2: kind
    fc["features"].append(json.loads(json.dumps(fc["features"][7])))  # 9: duplicate
    errors = errors_of(fc)
    assert {e.index for e in errors} == {2, 5, 8, 9}
    assert [e.index for e in errors] == sorted(e.index for e in errors)
    assert all(isinstance(e.reason, str) and e.reason for e in errors)
    json.dumps([e.as_dict() for e in errors], ensure_ascii=False)


def test_two_thousand_nodes_validate_quickly():
    """A town the demo's size (≈2,000 nodes). Not a timed assertion: a generous sanity bound."""
    features = [feature(TOWN, "镇", 1, "town", None, rect(121.0, 31.0, 122.0, 32.0))]
    area = TOWN + "1"
    features.append(feature(area, "片区", 2, "area", TOWN, rect(121.0, 31.0, 122.0, 32.0)))
    n = 0
    for c in range(20):
        comm = f"{area}{c:02d}"
        x0 = 121.0 + c * 0.05
        features.append(
            feature(comm, f"居委{c}", 3, "residential", area, rect(x0, 31.0, x0 + 0.05, 32.0))
        )
        for m in range(20):
            micro = f"{comm}{m:03d}"
            y0 = 31.0 + m * 0.05
            features.append(
                feature(micro, f"网格{m}", 4, "micro", comm, rect(x0, y0, x0 + 0.05, y0 + 0.05))
            )
            for g in range(4):
                n += 1
                gx = x0 + (g % 2) * 0.025
                gy = y0 + (g // 2) * 0.025
                features.append(
                    feature(
                        f"{micro}{g:03d}",
                        f"楼组{g}",
                        5,
                        "building_group",
                        micro,
                        rect(gx, gy, gx + 0.025, gy + 0.025),
                    )
                )
    fc = {"type": "FeatureCollection", "features": features}
    assert len(features) > 2000
    start = time.perf_counter()
    result = validate_feature_collection(fc)
    elapsed = time.perf_counter() - start
    assert result.ok, result.errors[:5]
    assert elapsed < 30
