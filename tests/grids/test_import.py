"""GeoJSON import: all or nothing, dry run, update, audit, revision, export round trip."""

import json

import pytest

from towngrid.core.models import AuditEvent
from towngrid.grids.actions import export_geojson, import_geojson
from towngrid.grids.models import GridNode, GridRevision

from .test_geo_fixtures import DX, TOWN, rect, tiny_fc
from .test_validation import BOWTIE

pytestmark = pytest.mark.django_db


def db_state():
    return (
        list(
            GridNode.objects.order_by("code").values_list("code", "name", "boundary", "updated_at")
        ),
        list(GridRevision.objects.values_list("revision", flat=True)),
        AuditEvent.objects.count(),
    )


def test_import_creates_parent_before_child():
    result = import_geojson(tiny_fc(), reason="测试")
    assert result.ok and result.errors == []
    assert (result.created, result.updated, result.unchanged) == (9, 0, 0)
    assert GridNode.objects.filter(code__startswith=TOWN).count() == 9
    group = GridNode.objects.get(code=TOWN + "101001001")
    assert group.parent.code == TOWN + "101001"
    assert [n.code for n in group.path()] == [
        TOWN,
        TOWN + "1",
        TOWN + "101",
        TOWN + "101001",
        TOWN + "101001001",
    ]
    # 0.025° × 0.04° at 31.17 N ≈ 2.379 km × 4.448 km
    assert group.area_m2 == pytest.approx(2379 * 4448, rel=0.01)
    assert group.centroid_lng == pytest.approx(121.5125 + DX)
    assert group.centroid_lat == pytest.approx(31.17)
    assert group.boundary["type"] == "Polygon"


def test_import_records_one_audit_event_and_bumps_revision():
    before = AuditEvent.objects.count()
    result = import_geojson(tiny_fc(), reason="首次导入")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == "grids.imported"
    assert event.reason == "首次导入"
    assert event.changes["created"] == 9
    assert TOWN + "201001" in event.changes["created_codes"]
    assert GridRevision.objects.get(pk=1).revision == result.revision >= 1


def test_reimport_is_unchanged_and_updates_changes(tiny_grid):
    again = import_geojson(tiny_fc())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 9)
    fc = tiny_fc()
    fc["features"][5]["properties"]["name"] = "莲溪一网格（新）"
    third = import_geojson(fc)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 8)
    assert GridNode.objects.get(code=TOWN + "101001").name == "莲溪一网格（新）"
    assert third.updated_codes == [TOWN + "101001"]


def test_import_of_children_under_stored_parents(tiny_grid):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": rect(121.525, 31.15, 121.55, 31.19),
                "properties": {
                    "code": TOWN + "101001002",
                    "name": "二楼组",
                    "level": 5,
                    "kind": "building_group",
                    "parent_code": TOWN + "101001",
                },
            }
        ],
    }
    result = import_geojson(fc)
    assert result.ok and result.created == 1
    assert GridNode.objects.get(code=TOWN + "101001002").parent.code == TOWN + "101001"
    # A sibling overlapping the stored 楼组 001 is refused.
    fc["features"][0]["properties"]["code"] = TOWN + "101001003"
    fc["features"][0]["geometry"] = rect(121.51, 31.15, 121.53, 31.19)
    refused = import_geojson(fc)
    assert not refused.ok
    assert any("系统中的" in e.reason for e in refused.errors)


def test_bad_file_reports_every_problem_and_writes_nothing(tiny_grid):
    """The issue's acceptance case: a self-intersecting polygon, a duplicate code and a child
    outside its parent, each reported with its feature and reason; nothing is written."""
    fc = tiny_fc()
    for f in fc["features"]:
        f["properties"]["name"] += "（改）"  # would be an update of every node
    fc["features"][8]["geometry"] = BOWTIE
    fc["features"].append(json.loads(json.dumps(fc["features"][6])))  # index 9 duplicates 6
    fc["features"][7]["geometry"] = rect(121.55, 31.15, 121.65, 31.23)  # 50 % outside the park
    before = db_state()
    result = import_geojson(fc, reason="坏文件")
    assert not result.ok
    by_index = {e.index: e for e in result.errors}
    assert set(by_index) == {7, 8, 9}
    assert "自相交" in by_index[8].reason and by_index[8].code == TOWN + "101001001"
    assert "编码重复" in by_index[9].reason and by_index[9].code == TOWN + "101002"
    assert "超出上级" in by_index[7].reason and by_index[7].code == TOWN + "201001"
    assert (result.created, result.updated) == (0, 0)
    assert db_state() == before
    body = json.dumps(result.as_dict(), ensure_ascii=False)
    assert "自相交" in body


def test_bad_new_town_writes_nothing():
    fc = tiny_fc()
    fc["features"][8]["geometry"] = BOWTIE
    before = db_state()
    result = import_geojson(fc)
    assert not result.ok
    assert db_state() == before
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()


def test_dry_run_reports_counts_and_writes_nothing(tiny_grid):
    fc = tiny_fc()
    fc["features"][0]["properties"]["name"] = "北蔡镇（新）"
    fc["features"].append(
        {
            "type": "Feature",
            "geometry": rect(121.525, 31.15, 121.55, 31.19),
            "properties": {
                "code": TOWN + "101001002",
                "name": "二楼组",
                "level": 5,
                "kind": "building_group",
                "parent_code": TOWN + "101001",
            },
        }
    )
    before = db_state()
    result = import_geojson(fc, dry_run=True)
    assert result.ok and result.dry_run
    assert (result.created, result.updated, result.unchanged) == (1, 1, 8)
    assert db_state() == before


def test_dry_run_with_errors():
    fc = tiny_fc()
    fc["features"][3]["properties"]["kind"] = "micro"
    result = import_geojson(fc, dry_run=True)
    assert not result.ok and [e.index for e in result.errors] == [3]
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()


def test_export_round_trip(tiny_grid):
    fc = export_geojson(GridNode.objects.filter(code__startswith=TOWN))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 9
    props = fc["features"][1]["properties"]
    assert {"code", "name", "level", "kind", "parent_code"} <= set(props)
    again = import_geojson(fc)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 9)


def test_export_subset(tiny_grid):
    fc = export_geojson(GridNode.objects.filter(level=4, code__startswith=TOWN))
    assert [f["properties"]["code"] for f in fc["features"]] == [
        TOWN + "101001",
        TOWN + "101002",
        TOWN + "201001",
    ]


def test_shrinking_a_node_must_still_hold_its_stored_children(tiny_grid):
    # Re-import micro-grid 101001 alone, shrunk so that its stored 楼组 falls half outside.
    feature = tiny_fc()["features"][5]
    feature["geometry"] = rect(121.5125, 31.15, 121.55, 31.19)
    result = import_geojson({"type": "FeatureCollection", "features": [feature]})
    assert not result.ok
    error = result.errors[0]
    assert error.code == TOWN + "101001" and f"下级 {TOWN}101001001" in error.reason
    assert (
        GridNode.objects.get(code=TOWN + "101001").boundary
        == json.loads(json.dumps(tiny_fc()["features"][5]["geometry"]))  # unchanged
    )


def test_a_new_town_must_not_overlap_a_stored_town(tiny_grid):
    town = tiny_fc()["features"][0]
    town["properties"]["code"] = "310117902"
    result = import_geojson({"type": "FeatureCollection", "features": [town]})
    assert not result.ok
    assert f"系统中的 {TOWN}" in result.errors[0].reason
