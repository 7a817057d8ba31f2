"""The grid API: list, detail, tree, GeoJSON, stats, lookup and import, within the user's scope."""

import json

import pytest
from rest_framework.test import APIClient

from towngrid.grids import crs
from towngrid.grids.models import GridNode

from .test_geo_fixtures import (
    IN_GROUP,
    IN_MICRO_ONLY,
    OUTSIDE,
    TOWN,
    rect,
    tiny_fc,
)
from .test_validation import BOWTIE

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user_factory):
    def _client(role="sysadmin", scope=None, **extra):
        user = user_factory(role=role, scope=scope, **extra)
        client = APIClient()
        client.force_authenticate(user)
        client.user = user
        return client

    return _client


def test_anonymous_is_refused(tiny_grid):
    response = APIClient().get("/api/v1/grids/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_list_filters_and_pagination(tiny_grid, api):
    client = api()
    body = client.get("/api/v1/grids/", {"level": 4, "parent": TOWN + "101"}).json()
    assert [r["code"] for r in body["results"]] == [TOWN + "101001", TOWN + "101002"]
    assert body["results"][0]["parent_code"] == TOWN + "101"
    body = client.get("/api/v1/grids/", {"kind": "park"}).json()
    assert TOWN + "201" in [r["code"] for r in body["results"]]
    body = client.get("/api/v1/grids/", {"limit": 2, "parent": TOWN}).json()
    assert body["count"] == 2 and len(body["results"]) == 2 and "next" in body
    assert client.get("/api/v1/grids/", {"level": 9}).json()["error"]["code"] == "invalid_parameter"


def test_detail_has_path_children_and_counts(tiny_grid, api):
    body = api().get(f"/api/v1/grids/{TOWN}101001/").json()
    assert body["name"] == "莲溪一网格"
    assert [p["code"] for p in body["path"]] == [TOWN, TOWN + "1", TOWN + "101", TOWN + "101001"]
    assert body["children"] == [TOWN + "101001001"]
    assert body["counts"]["micro_grids"] == 1
    assert set(body["counts"]["staff"]) == {"leader", "full_time", "part_time"}
    assert body["boundary"]["type"] == "Polygon"


def test_detail_outside_scope_is_404(tiny_grid, api):
    worker = api("grid_worker", scope=GridNode.objects.get(code=TOWN + "101001"))
    assert worker.get(f"/api/v1/grids/{TOWN}101001/").status_code == 200
    response = worker.get(f"/api/v1/grids/{TOWN}201001/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_is_scoped(tiny_grid, api):
    worker = api("grid_worker", scope=GridNode.objects.get(code=TOWN + "101001"))
    codes = [r["code"] for r in worker.get("/api/v1/grids/", {"limit": 1000}).json()["results"]]
    assert codes == [TOWN + "101001", TOWN + "101001001"]


def test_tree_for_town_role_and_grid_worker(tiny_grid, api):
    body = api().get("/api/v1/grids/tree/").json()
    tiny = next(t for t in body["tree"] if t["code"] == TOWN)
    assert [c["code"] for c in tiny["children"]] == [TOWN + "1", TOWN + "2"]
    assert (
        tiny["children"][0]["children"][0]["children"][0]["children"][0]["code"]
        == TOWN + "101001001"
    )
    worker = api("grid_worker", scope=GridNode.objects.get(code=TOWN + "101001"))
    body = worker.get("/api/v1/grids/tree/").json()
    assert [t["code"] for t in body["tree"]] == [TOWN + "101001"]
    assert body["tree"][0]["children"][0]["code"] == TOWN + "101001001"
    assert body["count"] == 2
    shallow = api().get("/api/v1/grids/tree/", {"level": 2}).json()
    tiny = next(t for t in shallow["tree"] if t["code"] == TOWN)
    assert all(c["children"] == [] for c in tiny["children"])


def test_geojson(tiny_grid, api):
    body = api().get("/api/v1/grids/geojson/", {"level": 4, "within": TOWN}).json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in body["features"]] == [
        TOWN + "101001",
        TOWN + "101002",
        TOWN + "201001",
    ]
    props = body["features"][0]["properties"]
    assert {"code", "name", "level", "kind", "parent_code"} <= set(props)
    assert body["features"][0]["geometry"]["type"] == "Polygon"
    worker = api("grid_worker", scope=GridNode.objects.get(code=TOWN + "101001"))
    body = worker.get("/api/v1/grids/geojson/").json()
    assert {f["properties"]["code"] for f in body["features"]} == {
        TOWN + "101001",
        TOWN + "101001001",
    }


def test_stats(tiny_grid, api):
    body = api().get("/api/v1/grids/stats/", {"root": TOWN}).json()
    assert [r["nodes"] for r in body["levels"]] == [1, 2, 2, 3, 1]
    worker = api("grid_worker", scope=GridNode.objects.get(code=TOWN + "101001"))
    body = worker.get("/api/v1/grids/stats/").json()
    assert body["root"] == TOWN + "101001"
    assert [r["nodes"] for r in body["levels"]] == [0, 0, 0, 1, 1]
    response = worker.get("/api/v1/grids/stats/", {"root": TOWN})
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/api/v1/grids/lookup/", "/api/v1/grids/lookup"])
def test_lookup_inside(tiny_grid, api, url):
    lng, lat = crs.wgs84_to_gcj02(*IN_GROUP)
    response = api("resident").get(url, {"lat": lat, "lng": lng, "crs": "gcj02"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["level"] for p in body["path"]] == [1, 2, 3, 4, 5]
    assert body["path"][-1] == {
        "code": TOWN + "101001001",
        "name": "一楼组",
        "level": 5,
        "kind": "building_group",
    }
    lng, lat = IN_MICRO_ONLY
    body = api().get(url, {"lat": lat, "lng": lng}).json()
    assert len(body["path"]) == 4


def test_lookup_outside_is_a_structured_404(tiny_grid, api):
    lng, lat = OUTSIDE
    response = api().get("/api/v1/grids/lookup", {"lat": lat, "lng": lng})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_in_any_grid" and "不在任何网格" in error["message"]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"lat": 31.2, "lng": 121.2, "crs": "epsg3857"}, "invalid_crs"),
        ({"lat": "北", "lng": 121.2}, "invalid_coordinates"),
        ({"lat": 95, "lng": 121.2}, "invalid_coordinates"),
        ({"lng": 121.2}, "invalid_coordinates"),
        ({"lat": "nan", "lng": 121.2}, "invalid_coordinates"),
    ],
)
def test_lookup_bad_input_is_a_structured_400(tiny_grid, api, params, code):
    response = api().get("/api/v1/grids/lookup/", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def post_import(client, fc, query=""):
    return client.post(
        f"/api/v1/grids/import/{query}", data=json.dumps(fc), content_type="application/json"
    )


def test_import_needs_the_capability(db, api):
    response = post_import(api("town_leader"), tiny_fc())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()


def test_import_dry_run_then_real(db, api):
    client = api("sysadmin")
    response = post_import(client, tiny_fc(), "?dry_run=1")
    assert response.status_code == 200
    assert response.json()["created"] == 9 and response.json()["dry_run"] is True
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()
    response = post_import(client, tiny_fc())
    assert response.status_code == 200 and response.json()["created"] == 9
    assert GridNode.objects.filter(code__startswith=TOWN).count() == 9
    lng, lat = IN_GROUP
    assert client.get("/api/v1/grids/lookup/", {"lat": lat, "lng": lng}).status_code == 200


def test_import_errors_are_listed_and_nothing_is_written(db, api):
    fc = tiny_fc()
    fc["features"][8]["geometry"] = BOWTIE
    fc["features"].append(json.loads(json.dumps(fc["features"][6])))
    fc["features"][7]["geometry"] = rect(121.55, 31.15, 121.65, 31.23)
    response = post_import(api("sysadmin"), fc)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_geojson"
    listed = {(e["index"], e["code"]) for e in error["details"]["errors"]}
    assert listed == {(7, TOWN + "201001"), (8, TOWN + "101001001"), (9, TOWN + "101002")}
    assert all(e["reason"] for e in error["details"]["errors"])
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()


def test_import_of_non_geojson_body(db, api):
    response = post_import(api("sysadmin"), {"hello": "world"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "type"


def test_schema_lists_the_grid_routes(db, api):
    response = api().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in [
        "/api/v1/grids/",
        "/api/v1/grids/{code}/",
        "/api/v1/grids/tree/",
        "/api/v1/grids/geojson/",
        "/api/v1/grids/stats/",
        "/api/v1/grids/lookup/",
        "/api/v1/grids/import/",
    ]:
        assert route in paths, route


def test_demo_town_lookup_in_gcj02_returns_five_nodes(demo_town, api):
    """The issue's acceptance case on the Beicai demo: GCJ-02 input, five-node path."""
    group = GridNode.objects.filter(code__startswith=demo_town.town.code, level=5).first()
    lng, lat = crs.wgs84_to_gcj02(group.centroid_lng, group.centroid_lat)
    response = api("town_leader").get(
        "/api/v1/grids/lookup", {"lat": lat, "lng": lng, "crs": "gcj02"}
    )
    assert response.status_code == 200
    path = response.json()["path"]
    assert [p["level"] for p in path] == [1, 2, 3, 4, 5]
    assert path[0]["code"] == demo_town.town.code and path[-1]["code"] == group.code
    far = api("town_leader").get(
        "/api/v1/grids/lookup", {"lat": 39.9, "lng": 116.4, "crs": "gcj02"}
    )
    assert far.status_code == 404 and far.json()["error"]["code"] == "not_in_any_grid"
