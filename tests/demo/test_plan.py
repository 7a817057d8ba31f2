"""The demo town's generator, without the database: counts, codes, geometry, determinism."""

from collections import Counter, defaultdict

import pytest
import shapely
from shapely.geometry import shape

from towngrid.demo import data
from towngrid.demo.build import generate_feature_collection, plan_demo_town
from towngrid.grids.models import CODE_LENGTHS, KINDS_BY_LEVEL, Level

# Area in m² of one square degree at 31.19 N (see build.py); plenty for a 25 km² check.
M2_PER_DEG2 = 95_308.0 * 110_872.7


@pytest.fixture(scope="module")
def plan():
    return plan_demo_town()


@pytest.fixture(scope="module")
def features(plan):
    return {f["properties"]["code"]: f for f in plan.feature_collection["features"]}


@pytest.fixture(scope="module")
def shapes(features):
    return {code: shape(f["geometry"]) for code, f in features.items()}


def test_counts_per_level(features):
    by_level = Counter(f["properties"]["level"] for f in features.values())
    assert by_level[1] == 1
    assert by_level[2] == len(data.AREAS) == 6
    assert by_level[3] == 46 + 9 + 4
    assert by_level[4] == 317
    micro_parent_kind = Counter(
        features[f["properties"]["parent_code"]]["properties"]["kind"]
        for f in features.values()
        if f["properties"]["level"] == 4
    )
    assert micro_parent_kind["residential"] + micro_parent_kind["village"] == 311
    assert micro_parent_kind["park"] + micro_parent_kind["building"] == 6


def test_community_kinds(features):
    kinds = Counter(f["properties"]["kind"] for f in features.values())
    assert kinds["residential"] == 46
    assert kinds["village"] == 9  # the report's 9 行政村
    assert kinds["park"] + kinds["building"] == 4


def test_groups_per_micro_grid_and_kind(features):
    groups = defaultdict(list)
    for f in features.values():
        p = f["properties"]
        if p["level"] == 5:
            groups[p["parent_code"]].append(p["kind"])
    assert len(groups) == 317
    for micro_code, kinds in groups.items():
        assert 3 <= len(kinds) <= 8
        community = features[features[micro_code]["properties"]["parent_code"]]
        expected = "team" if community["properties"]["kind"] == "village" else "building_group"
        assert set(kinds) == {expected}, micro_code


def test_codes_follow_the_scheme(features):
    for code, f in features.items():
        p = f["properties"]
        level = Level(p["level"])
        assert code.isdigit() and len(code) == CODE_LENGTHS[level], code
        assert p["kind"] in KINDS_BY_LEVEL[level], code
        if level == Level.TOWN:
            assert code == data.TOWN_CODE and p["parent_code"] is None
        else:
            parent = features[p["parent_code"]]["properties"]
            assert parent["level"] == p["level"] - 1
            assert code.startswith(p["parent_code"]), code


def test_geometry_is_valid_and_around_beicai(shapes):
    for code, geom in shapes.items():
        assert geom.geom_type == "Polygon" and geom.is_valid and not geom.is_empty, code
    town = shapes[data.TOWN_CODE]
    area_km2 = town.area * M2_PER_DEG2 / 1e6
    assert 22 <= area_km2 <= 28
    assert town.contains(town.centroid)
    assert abs(town.centroid.y - 31.19) < 0.02 and abs(town.centroid.x - 121.54) < 0.02


def test_children_tile_their_parent_without_overlap(features, shapes):
    children = defaultdict(list)
    for code, f in features.items():
        if f["properties"]["parent_code"]:
            children[f["properties"]["parent_code"]].append(code)
    for parent, codes in children.items():
        outer = shapes[parent]
        kids = [shapes[c] for c in codes]
        for c, g in zip(codes, kids, strict=True):
            # Exact: the cuts share coordinates, so no tolerance is needed.
            assert g.difference(outer).area == 0, c
        tree = shapely.STRtree(kids)
        for i, g in enumerate(kids):
            for j in tree.query(g):
                if j != i:
                    assert g.intersection(kids[j]).area == 0, (codes[i], codes[j])
        # Together they cover the parent: the town leaves no unassigned land.
        assert shapely.unary_union(kids).symmetric_difference(outer).area < 1e-12, parent


def test_codes_run_west_to_east_and_north_to_south(shapes, features):
    """Sequence numbers follow the cut tree: of two consecutive siblings that share an edge, the
    later one is never wholly north of, nor wholly west of, the earlier one."""
    siblings = defaultdict(list)
    for code, f in features.items():
        if f["properties"]["parent_code"]:
            siblings[f["properties"]["parent_code"]].append(code)
    for codes in siblings.values():
        codes.sort()
        for a, b in zip(codes, codes[1:], strict=False):
            ga, gb = shapes[a], shapes[b]
            if ga.intersection(gb).length == 0:  # no shared edge (a corner point at most)
                continue
            ax0, ay0, ax1, ay1 = ga.bounds
            bx0, by0, bx1, by1 = gb.bounds
            assert not by0 >= ay1, (a, b)  # b wholly north of a
            assert not bx1 <= ax0, (a, b)  # b wholly west of a


def test_report_names_present(features):
    names = {f["properties"]["name"] for f in features.values()}
    for name in [
        "北蔡镇",
        "联勤村",
        "一六村",
        "卫行村",
        "御桥村",
        "南新村",
        "五星村",
        "同福村",
        "大华一居",
        "博华居委",
        "莲溪二村居委",
        "北蔡苑居委",
        "玉兰居委",
        "莲宏苑居委",
        "宏莲馨苑居委",
        "虞泽苑居委",
        "锦绣华城居委",
        "池上锦苑居委",
        "鹏海居委",
        "华绣居委",
        "康琳居委",
        "京浦居委",
        "御桥产业园区",
        "御河企业公馆",
        "北蔡产业社区",
        "六里片区",
        "御桥片区",
        "莲溪片区",
    ]:
        assert name in names, name
    # Names are unique within a parent, so a path of names identifies a node.
    seen = Counter(
        (f["properties"]["parent_code"], f["properties"]["name"]) for f in features.values()
    )
    assert max(seen.values()) == 1


def test_staff_plan(plan):
    posts = defaultdict(list)
    for s in plan.staff:
        posts[s.post].append(s)
    assert len(posts["leader"]) == 323
    assert len(posts["full_time"]) == 315
    assert len(posts["part_time"]) == 316
    micro = {n.code for n in plan.nodes if n.level == 4}
    for post in ("leader", "full_time", "part_time"):
        held = Counter(code for s in posts[post] for code in s.grids)
        assert set(held) == micro, post  # every micro-grid has each post
    leaders = Counter(code for s in posts["leader"] for code in s.grids)
    assert sorted(Counter(leaders.values()).items()) == [(1, 311), (2, 6)]
    # Names and work phones are unique; phones are Shanghai work numbers.
    assert len({s.name for s in plan.staff}) == len(plan.staff)
    assert len({s.work_phone for s in plan.staff}) == len(plan.staff)
    for s in plan.staff:
        assert 2 <= len(s.name) <= 3
        assert s.work_phone.startswith("021-5") and len(s.work_phone) == 12
    # Who holds two grids holds neighbours in one community.
    for s in plan.staff:
        if len(s.grids) == 2:
            assert s.grids[0][:12] == s.grids[1][:12]


def test_same_seed_same_town():
    assert generate_feature_collection(2023) == generate_feature_collection(2023)
    a, b = plan_demo_town(2023), plan_demo_town(2023)
    assert [(s.name, s.work_phone, s.post, s.grids) for s in a.staff] == [
        (s.name, s.work_phone, s.post, s.grids) for s in b.staff
    ]
    assert a.demo_micro == b.demo_micro


def test_other_seed_other_layout_same_counts():
    a, b = generate_feature_collection(2023), generate_feature_collection(7)
    assert a != b
    assert Counter(f["properties"]["level"] for f in a["features"])[4] == 317
    assert Counter(f["properties"]["level"] for f in b["features"])[4] == 317
