"""Point → grid lookup: paths, outside points, CRS input, batch lookup, rebuild on revision."""

import numpy as np
import pytest
import shapely

from towngrid.grids import crs, index
from towngrid.grids.actions import import_geojson
from towngrid.grids.index import GridIndex
from towngrid.grids.models import GridNode, GridRevision

from .test_geo_fixtures import (
    IN_GROUP,
    IN_MICRO_ONLY,
    IN_PARK,
    OUTSIDE,
    TOWN,
    rect,
)

pytestmark = pytest.mark.django_db


def codes(path):
    return [n.code for n in path] if path else None


def test_point_in_a_group_gets_five_nodes(tiny_grid):
    path = index.lookup(*IN_GROUP)
    assert codes(path) == [TOWN, TOWN + "1", TOWN + "101", TOWN + "101001", TOWN + "101001001"]
    assert [n.level for n in path] == [1, 2, 3, 4, 5]
    assert path[2].name == "莲溪居委"


def test_point_without_a_group_gets_four_nodes(tiny_grid):
    assert codes(index.lookup(*IN_MICRO_ONLY)) == [TOWN, TOWN + "1", TOWN + "101", TOWN + "101001"]
    assert codes(index.lookup(*IN_PARK))[-1] == TOWN + "201001"


def test_point_outside_is_none(tiny_grid):
    assert index.lookup(*OUTSIDE) is None
    assert index.lookup(0.0, 0.0) is None


def test_gcj02_and_bd09_input(tiny_grid):
    gcj = crs.wgs84_to_gcj02(*IN_GROUP)
    assert codes(index.lookup(*gcj, crs="gcj02"))[-1] == TOWN + "101001001"
    bd = crs.wgs84_to_bd09(*IN_GROUP)
    assert codes(index.lookup(*bd, crs="BD09"))[-1] == TOWN + "101001001"
    with pytest.raises(ValueError):
        index.lookup(*IN_GROUP, crs="mercator")


def test_lookup_needs_no_queries_once_built(tiny_grid, django_assert_num_queries):
    index.lookup(*IN_GROUP)
    with django_assert_num_queries(0):
        path = index.lookup(*IN_MICRO_ONLY)
        assert [n.name for n in path][-1] == "莲溪一网格"


def test_in_process_import_rebuilds_at_once(tiny_grid):
    assert codes(index.lookup(*IN_MICRO_ONLY))[-1] == TOWN + "101001"
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
    assert import_geojson(fc).ok
    assert codes(index.lookup(*IN_MICRO_ONLY))[-1] == TOWN + "101001002"


def test_rebuild_when_another_process_bumps_the_revision(tiny_grid, monkeypatch):
    """Another process changed the grid: this one notices within REVISION_TTL."""
    assert codes(index.lookup(*IN_PARK))[-1] == TOWN + "201001"
    first = index.get_index()
    # The other process renames the park grid and bumps the revision, without touching our
    # in-process state (as a different process would).
    from django.utils import timezone

    GridNode.objects.filter(code=TOWN + "201001").update(name="改名网格")
    GridRevision.objects.filter(pk=1).update(revision=999_999, changed_at=timezone.now())
    # Within the TTL the old index still answers …
    assert index.lookup(*IN_PARK)[-1].name == "园区网格"
    assert index.get_index() is first
    # … and once the TTL has passed the revision is checked and the index rebuilt.
    monkeypatch.setattr(index, "_checked_at", float("-inf"))
    assert index.lookup(*IN_PARK)[-1].name == "改名网格"
    assert index.get_index() is not first


def test_unchanged_revision_keeps_the_index(tiny_grid, monkeypatch):
    index.lookup(*IN_PARK)
    first = index.get_index()
    monkeypatch.setattr(index, "_checked_at", float("-inf"))
    index.lookup(*IN_PARK)
    assert index.get_index() is first


def test_lookup_many_matches_strtree_and_brute_force(tiny_grid):
    idx = index.get_index()
    rng = np.random.default_rng(7)
    lngs = rng.uniform(121.15, 121.35, 3000)
    lats = rng.uniform(31.10, 31.28, 3000)
    got = idx.lookup_many(lngs, lats)
    assert np.array_equal(got, idx.lookup_many(lngs, lats, method="strtree"))
    leaves = [g for tier in idx.tiers for g in tier.geoms]  # leaf numbers run across tiers
    fine = idx.tiers[0].size
    for i in range(0, 3000, 7):
        point = shapely.Point(lngs[i], lats[i])
        hits = [k for k, g in enumerate(leaves) if g.intersects(point)]
        finer = [k for k in hits if k < fine]
        expected = (finer or hits or [-1])[0]
        assert got[i] == expected, (lngs[i], lats[i])
    assert (got >= 0).sum() > 500  # the sample does hit the tiny town


def test_lookup_many_from_geometries_and_shared_edges():
    cells = [shapely.box(x, 0, x + 1, 1) for x in range(4)]
    idx = GridIndex.from_geometries(cells)
    lngs = np.array([0.5, 1.0, 3.5, 4.5, -0.1, 2.0])
    lats = np.array([0.5, 0.5, 0.99, 0.5, 0.5, 1.0])
    # 1.0 lies on the edge of cells 0 and 1: the first wins; (2.0, 1.0) is a corner of 1 and 2.
    assert idx.lookup_many(lngs, lats).tolist() == [0, 0, 3, -1, -1, 1]
    assert idx.lookup_many(lngs, lats, method="strtree").tolist() == [0, 0, 3, -1, -1, 1]


def test_lookup_many_two_tiers_prefers_the_finer():
    coarse = [shapely.box(0, 0, 2, 2)]
    fine = [shapely.box(0, 0, 1, 1)]
    idx = GridIndex([fine, coarse])
    assert idx.lookup_many(np.array([0.5, 1.5, 3.0]), np.array([0.5, 1.5, 3.0])).tolist() == [
        0,
        1,
        -1,
    ]


def test_lookup_many_irregular_polygons_agree_with_shapely():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 10, (300, 2))
    polys = shapely.buffer(shapely.points(centres), rng.uniform(0.1, 0.6, 300), quad_segs=3)
    idx = GridIndex.from_geometries(polys)
    lngs, lats = rng.uniform(-1, 11, 20000), rng.uniform(-1, 11, 20000)
    got = idx.lookup_many(lngs, lats)
    tree = shapely.STRtree(polys)
    pos, leaf = tree.query(shapely.points(lngs, lats), predicate="intersects")
    expected = np.full(20000, -1)
    order = np.lexsort((-leaf, pos))  # last write per point = smallest leaf
    expected[pos[order]] = leaf[order]
    assert np.array_equal(got, expected)


def test_empty_index():
    idx = GridIndex([[], []])
    assert idx.lookup_many(np.array([1.0]), np.array([1.0])).tolist() == [-1]


def test_demo_town_lookup_five_nodes(demo_town):
    """On the demo town, a point at a 楼组's label point resolves to all five levels."""
    group = GridNode.objects.filter(code__startswith=demo_town.town.code, level=5).first()
    if group is None:
        pytest.skip("the demo town has no level-5 nodes")
    path = index.lookup(group.centroid_lng, group.centroid_lat)
    assert [n.level for n in path] == [1, 2, 3, 4, 5]
    assert path[-1].code == group.code
    gcj = crs.wgs84_to_gcj02(group.centroid_lng, group.centroid_lat)
    assert index.lookup(*gcj, crs="gcj02")[-1].code == group.code
