"""The demo town as built into the database (once per session, see tests/conftest.py)."""

from collections import Counter

import pytest
from django.contrib.auth import authenticate
from shapely.geometry import shape

from towngrid.accounts.models import Department, User
from towngrid.accounts.roles import DEFAULT_ROLES
from towngrid.core.models import AuditEvent
from towngrid.demo import data
from towngrid.demo.build import (
    DemoBuildError,
    build_demo_town,
    demo_town_exists,
    generate_feature_collection,
    remove_demo_town,
)
from towngrid.grids.models import DutyAssignment, GridNode, GridStaff, Level, Post


def test_demo_town_exists(demo_town, db):
    assert demo_town_exists()
    assert demo_town.town.code == data.TOWN_CODE
    assert demo_town.town.name == "北蔡镇"


def test_node_counts(demo_town, db):
    counts = Counter(GridNode.objects.values_list("level", flat=True))
    assert counts[Level.TOWN] == 1
    assert counts[Level.AREA] == 6
    assert counts[Level.COMMUNITY] == 59
    assert counts[Level.MICRO] == 317
    micro = GridNode.objects.filter(level=Level.MICRO)
    assert micro.filter(parent__kind__in=["residential", "village"]).count() == 311
    assert micro.filter(parent__kind__in=["park", "building"]).count() == 6
    assert 317 * 3 <= counts[Level.GROUP] <= 317 * 8


def test_stored_grid_is_the_generated_one(demo_town, db):
    """What the import stored is what the generator made: same codes, parents, geometry."""
    fc = generate_feature_collection()
    stored = {
        n.code: n for n in GridNode.objects.select_related("parent").filter(code__startswith="3101")
    }
    assert set(stored) == {f["properties"]["code"] for f in fc["features"]}
    for f in fc["features"]:
        p = f["properties"]
        node = stored[p["code"]]
        assert (node.name, node.level, node.kind) == (p["name"], p["level"], p["kind"])
        assert (node.parent.code if node.parent else None) == p["parent_code"]
        assert shape(node.boundary).equals(shape(f["geometry"])), p["code"]
        assert node.area_m2 and node.area_m2 > 0
        assert node.centroid_lat == pytest.approx(shape(f["geometry"]).centroid.y, abs=1e-4)


def test_every_stored_polygon_valid_inside_parent_and_apart(demo_town, db):
    nodes = list(GridNode.objects.select_related("parent"))
    geoms = {n.code: shape(n.boundary) for n in nodes}
    by_parent: dict[str, list[str]] = {}
    for n in nodes:
        assert geoms[n.code].is_valid, n.code
        if n.parent:
            assert n.code.startswith(n.parent.code)
            assert geoms[n.code].difference(geoms[n.parent.code]).area == 0, n.code
            by_parent.setdefault(n.parent.code, []).append(n.code)
    for codes in by_parent.values():
        # Sorted by x so only neighbours in x are compared; the test stays fast.
        boxes = sorted(codes, key=lambda c: geoms[c].bounds[0])
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                if geoms[b].bounds[0] >= geoms[a].bounds[2]:
                    break
                assert geoms[a].intersection(geoms[b]).area == 0, (a, b)


def test_staff_counts(demo_town, db):
    def distinct(post):
        return DutyAssignment.objects.filter(post=post).values("staff").distinct().count()

    assert distinct(Post.LEADER) == 323
    assert distinct(Post.FULL_TIME) == 315
    assert distinct(Post.PART_TIME) == 316
    assert (
        GridStaff.objects.filter(duties__grid__code__startswith=data.TOWN_CODE).distinct().count()
        == 954
    )


def test_every_micro_grid_staffed(demo_town, db):
    micro = GridNode.objects.filter(level=Level.MICRO)
    for post in (Post.LEADER, Post.FULL_TIME, Post.PART_TIME):
        assert micro.exclude(duties__post=post).count() == 0, post
    leaders = Counter(
        DutyAssignment.objects.filter(post=Post.LEADER).values_list("grid__code", flat=True)
    )
    assert Counter(leaders.values()) == Counter({1: 311, 2: 6})
    assert not DutyAssignment.objects.exclude(grid__level=Level.MICRO).exists()
    phones = list(GridStaff.objects.values_list("work_phone", flat=True))
    assert all(p.startswith("021-5") for p in phones)


def test_departments(demo_town, db):
    names = set(Department.objects.values_list("name", flat=True))
    for name in [
        "党政办公室",
        "党群工作办公室",
        "经济发展办公室",
        "规划建设和生态环境办公室",
        "社会事业发展办公室",
        "城市运行管理中心",
        "社区事务受理服务中心",
        "人民武装部",
    ]:
        assert name in names
    codes = set(Department.objects.values_list("code", flat=True))
    assert {d.code for d in data.DEPARTMENTS} <= codes


def test_a_demo_login_for_every_role(demo_town, db):
    roles = {u.role.code for u in User.objects.filter(is_demo=True, role__isnull=False)}
    assert roles == {code for code, *_ in DEFAULT_ROLES}
    admin = demo_town.user("admin")
    assert admin.is_superuser and admin.is_staff and admin.is_demo
    assert User.objects.filter(is_demo=True).count() == len(DEFAULT_ROLES) + 1


def test_demo_login_scopes(demo_town, db):
    users = demo_town.users
    assert users["area"].scope == demo_town.area and demo_town.area.name == "联勤南新片区"
    assert users["community"].scope == demo_town.community
    assert demo_town.community.name == "联勤村" and demo_town.community.kind == "village"
    micro = demo_town.micro_grid
    assert micro.level == Level.MICRO and micro.code.startswith(demo_town.community.code)
    assert users["gridleader"].scope == micro and users["gridworker"].scope == micro
    assert users["handler"].department.name == "城市运行管理中心"
    for name in ("leader", "registrar", "shiftlead", "dispatcher", "resident", "sysadmin"):
        assert users[name].scope is None
    # Scopes nest: area ⊃ community ⊃ micro-grid.
    assert demo_town.community.code.startswith(demo_town.area.code)


def test_grid_logins_are_the_grids_staff(demo_town, db):
    micro = demo_town.micro_grid
    leader = demo_town.users["gridleader"]
    worker = demo_town.users["gridworker"]
    assert leader.grid_staff.duties.filter(grid=micro, post=Post.LEADER).exists()
    assert worker.grid_staff.duties.filter(grid=micro, post=Post.FULL_TIME).exists()
    assert leader.display_name == leader.grid_staff.name
    assert worker.display_name == worker.grid_staff.name


def test_demo_password_works(demo_town, db):
    # Every login carries the same hash; checking two proves it without 14 slow Argon2 runs.
    hashes = set(User.objects.filter(is_demo=True).values_list("password", flat=True))
    assert len(hashes) == 1 and hashes.pop().startswith("argon2")
    for username in ("gridworker", "admin"):
        user = authenticate(username=username, password=data.DEMO_PASSWORD)
        assert user is not None and user.username == username


def test_demo_logins_refused_in_production(demo_town, db, settings):
    settings.PRODUCTION = True
    assert authenticate(username="leader", password=data.DEMO_PASSWORD) is None


def test_fixture_helpers(demo_town, login_as, demo_user, user_factory):
    client = login_as("grid_worker")
    assert client.user.username == "gridworker"
    assert demo_user("town_leader").username == "leader"
    made = user_factory(role="grid_worker", scope=demo_town.micro_grid.code)
    assert made.role.code == "grid_worker" and made.scope == demo_town.micro_grid
    assert user_factory(department="city-operations").department.code == "city-operations"


def test_build_is_audited(demo_town, db):
    actions = Counter(AuditEvent.objects.values_list("action", flat=True))
    assert actions["grids.imported"] >= 1
    assert actions["grids.staff_created"] >= 954
    assert actions["grids.duty_assigned"] >= 323 + 317 + 317


def test_build_refused_in_production(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(DemoBuildError):
        build_demo_town(progress=False)


def test_remove(demo_town, db):
    """What ``--rebuild`` removes first (the rebuild itself: tests/demo/test_command.py)."""
    events = AuditEvent.objects.count()
    remove_demo_town()
    assert not demo_town_exists()
    assert not GridNode.objects.filter(code__startswith=data.TOWN_CODE).exists()
    assert not User.objects.filter(is_demo=True).exists()
    assert not GridStaff.objects.exists()
    # Departments the category catalogue names stay with the catalogue (town configuration).
    from towngrid.cases.models import Category

    left = Department.objects.filter(code__in=[d.code for d in data.DEPARTMENTS])
    assert not left.exclude(pk__in=Category.objects.values("default_department")).exists()
    assert AuditEvent.objects.count() >= events  # the trail stays


def test_build_twice_refused(demo_town, db):
    """The import matches by code, so a second build would silently overwrite; it is refused."""
    with pytest.raises(DemoBuildError, match="already holds"):
        build_demo_town(progress=False)


def test_build_refused_when_a_demo_username_is_taken(db, user_factory):
    # Before the demo tests run (see tests/conftest.py) the database has no demo town.
    if demo_town_exists():
        pytest.skip("the demo town is present in this database")
    user_factory(username="leader")
    with pytest.raises(DemoBuildError, match="leader"):
        build_demo_town(progress=False)
    assert not GridNode.objects.filter(code__startswith=data.TOWN_CODE).exists()
