"""Build the Beicai (北蔡镇) demo town: the five-level grid, departments, grid staff, demo logins.

Everything is derived from one ``random.Random(seed)``, so the same seed gives the same codes,
boundaries, names and phone numbers on every machine and on both databases.

Geometry: the town is a rectangle around 31.19 N 121.54 E with its south-east corner cut away
(about 25 km²). Each level is made by recursive guillotine cuts of its parent's rectangle: a list
of children with land weights is halved (by weight), the longer side of the rectangle is cut in
that proportion (jittered), and each half recurses. So children tile their parent exactly, never
overlap, and share edges coordinate for coordinate (cuts are made in metres and every metre value
converts to the same degree value). The first half always goes west (vertical cut) or north
(horizontal cut), so the order of the pieces, and with it the sequence numbers in the codes, runs
west→east and north→south through the cut tree.

Writes go through the validated actions only: the grid through ``grids.actions.import_geojson``,
staff through ``grids.actions.create_staff`` / ``assign_duty``. The whole build is one transaction.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from . import data
from .data import TOWN_CODE, Community

# Metres per degree at 31.19 N (WGS-84 ellipsoid series); a local flat frame is plenty for 25 km².
M_PER_DEG_LAT = 110_872.7
M_PER_DEG_LNG = 95_308.0
TOWN_WIDTH_M = 6_400.0
TOWN_HEIGHT_M = 4_700.0
# The cut-away south-east corner, as a share of the whole rectangle's weight.
NOTCH_SHARE = 0.2
# How far a cut may stray from the exact weighted proportion (relative), for a less even map.
CUT_JITTER = 0.08
COORD_DIGITS = 7  # about 1 cm

Rect = tuple[float, float, float, float]  # minx, miny, maxx, maxy in metres from the SW corner


class DemoBuildError(RuntimeError):
    """The demo town could not be built (e.g. the grid import refused the generated features)."""


# ---------------------------------------------------------------------------------------------
# Plan: everything the build writes, computed without touching the database.


@dataclass
class NodeSpec:
    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None
    rect: Rect
    community: str = ""  # the level-3 name this node lies in (levels 3–5)


@dataclass
class StaffSpec:
    name: str
    work_phone: str
    post: str
    grids: list[str]


@dataclass
class DemoPlan:
    nodes: list[NodeSpec]
    staff: list[StaffSpec]
    demo_micro: str  # the micro-grid the gridleader/gridworker logins are scoped to
    feature_collection: dict = field(default_factory=dict)


def _cut(rect: Rect, weights: Sequence[float], rng: random.Random) -> list[Rect]:
    """Guillotine-cut ``rect`` into ``len(weights)`` rectangles with areas in proportion to the
    weights, in west→east / north→south order."""
    if len(weights) == 1:
        return [rect]
    total = float(sum(weights))
    # Halve the list where the running weight is closest to half, so both halves stay squarish.
    running, best_k, best_gap = 0.0, 1, math.inf
    for k in range(1, len(weights)):
        running += weights[k - 1]
        gap = abs(running - total / 2)
        if gap < best_gap:
            best_k, best_gap = k, gap
    share = sum(weights[:best_k]) / total
    share = min(0.85, max(0.15, share * (1 + rng.uniform(-CUT_JITTER, CUT_JITTER))))
    minx, miny, maxx, maxy = rect
    if maxx - minx >= maxy - miny:
        # Decimetre cuts: exact shared edges, and values that convert cleanly to 7 decimals.
        x = round(minx + (maxx - minx) * share, 1)
        first, second = (minx, miny, x, maxy), (x, miny, maxx, maxy)  # west, east
    else:
        y = round(maxy - (maxy - miny) * share, 1)
        first, second = (minx, y, maxx, maxy), (minx, miny, maxx, y)  # north, south
    return _cut(first, weights[:best_k], rng) + _cut(second, weights[best_k:], rng)


def _lng(x: float) -> float:
    lng0 = data.CENTER_LNG - TOWN_WIDTH_M / 2 / M_PER_DEG_LNG
    return round(lng0 + x / M_PER_DEG_LNG, COORD_DIGITS)


def _lat(y: float) -> float:
    lat0 = data.CENTER_LAT - TOWN_HEIGHT_M / 2 / M_PER_DEG_LAT
    return round(lat0 + y / M_PER_DEG_LAT, COORD_DIGITS)


def _ring(points: Sequence[tuple[float, float]]) -> list[list[float]]:
    """A closed GeoJSON ring in degrees, counter-clockwise as RFC 7946 asks for exteriors."""
    ring = [[_lng(x), _lat(y)] for x, y in points]
    signed = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    if signed < 0:
        ring.reverse()
    return [*ring, ring[0]]


def _rect_polygon(rect: Rect) -> dict:
    minx, miny, maxx, maxy = rect
    ring = _ring([(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)])
    return {"type": "Polygon", "coordinates": [ring]}


def _town_polygon(area_rects: list[Rect]) -> dict:
    """The union of the area rectangles as one polygon (an L-shape: the notch is cut away)."""
    import shapely
    from shapely.geometry import box

    union = shapely.unary_union([box(*r) for r in area_rects])
    # Tolerance 0 drops only exactly collinear vertices (the ends of internal edges).
    union = shapely.simplify(union, 0)
    if union.geom_type != "Polygon" or len(union.interiors):
        raise DemoBuildError("the demo town's areas do not form one simple polygon")
    return {"type": "Polygon", "coordinates": [_ring(list(union.exterior.coords)[:-1])]}


def _numeral(n: int) -> str:
    """Chinese numerals for 1–99 (第一 … 第十二 …), as micro-grid names are written."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def _short(name: str) -> str:
    return name.removesuffix("居委")


def _micro_counts(rng: random.Random) -> dict[str, int]:
    """Micro-grids per 居委/村 (seeded) summing to the report's 311; parks keep their fixed count."""
    counts: dict[str, int] = {}
    spread: list[Community] = []
    for area in data.AREAS:
        for c in area.communities:
            if c.micro is not None:
                counts[c.name] = c.micro
            else:
                lo, hi = data.MICRO_RANGE[c.kind]
                counts[c.name] = rng.randint(lo, hi)
                spread.append(c)
    target = data.MICRO_GRIDS_IN_COMMUNITIES
    while (total := sum(counts[c.name] for c in spread)) != target:
        c = rng.choice(spread)
        lo, hi = data.MICRO_RANGE[c.kind]
        if total < target and counts[c.name] < hi + 2:
            counts[c.name] += 1
        elif total > target and counts[c.name] > lo - 1:
            counts[c.name] -= 1
    return counts


def _plan_nodes(rng: random.Random) -> tuple[list[NodeSpec], dict]:
    micro_counts = _micro_counts(rng)
    groups: dict[str, list[int]] = {
        name: [rng.randint(*data.GROUPS_PER_MICRO) for _ in range(n)]
        for name, n in micro_counts.items()
    }

    def land(c: Community) -> float:
        return data.LAND_WEIGHT[c.kind] * micro_counts[c.name]

    area_weights = [sum(land(c) for c in a.communities) for a in data.AREAS]
    notch = sum(area_weights) * NOTCH_SHARE
    town_rect: Rect = (0.0, 0.0, TOWN_WIDTH_M, TOWN_HEIGHT_M)
    # The notch is last, so it lands in the south-east corner and is dropped.
    area_rects = _cut(town_rect, [*area_weights, notch], rng)[:-1]

    nodes = [
        NodeSpec(TOWN_CODE, data.TOWN_NAME, 1, "town", None, town_rect),
    ]
    for ai, (area, arect) in enumerate(zip(data.AREAS, area_rects, strict=True), start=1):
        acode = f"{TOWN_CODE}{ai}"
        nodes.append(NodeSpec(acode, area.name, 2, "area", TOWN_CODE, arect))
        crects = _cut(arect, [land(c) for c in area.communities], rng)
        for ci, (com, crect) in enumerate(zip(area.communities, crects, strict=True), start=1):
            ccode = f"{acode}{ci:02d}"
            nodes.append(NodeSpec(ccode, com.name, 3, str(com.kind), acode, crect, com.name))
            counts = groups[com.name]
            # Micro-grid land in proportion to its groups, with some noise, so sizes vary.
            mweights = [g * rng.uniform(0.8, 1.2) for g in counts]
            mrects = _cut(crect, mweights, rng)
            group_no = 0
            gkind, gword = (
                ("team", "村民小组") if com.kind == "village" else ("building_group", "楼组")
            )
            for mi, (ngroups, mrect) in enumerate(zip(counts, mrects, strict=True), start=1):
                mcode = f"{ccode}{mi:03d}"
                mname = f"{_short(com.name)}第{_numeral(mi)}微网格"
                nodes.append(NodeSpec(mcode, mname, 4, "micro", ccode, mrect, com.name))
                grects = _cut(mrect, [rng.uniform(0.7, 1.3) for _ in range(ngroups)], rng)
                for gi, grect in enumerate(grects, start=1):
                    group_no += 1
                    gname = f"{_short(com.name)}第{group_no}{gword}"
                    nodes.append(
                        NodeSpec(f"{mcode}{gi:03d}", gname, 5, gkind, mcode, grect, com.name)
                    )

    features = []
    for n in nodes:
        geometry = _town_polygon(area_rects) if n.level == 1 else _rect_polygon(n.rect)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "code": n.code,
                    "name": n.name,
                    "level": n.level,
                    "kind": n.kind,
                    "parent_code": n.parent_code,
                },
            }
        )
    return nodes, {"type": "FeatureCollection", "features": features}


class _Names:
    """Unique plausible Chinese names and unique work phone numbers from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.phones: set[str] = set()

    def name(self) -> str:
        while True:
            given_len = 1 if self.rng.random() < 0.35 else 2
            name = self.rng.choice(data.SURNAMES) + "".join(
                self.rng.choice(data.GIVEN_CHARS) for _ in range(given_len)
            )
            if name not in self.names:
                self.names.add(name)
                return name

    def phone(self) -> str:
        # Shanghai landlines are 8 digits; the town's work numbers are in the 5xxxxxxx block.
        while True:
            phone = f"021-5{self.rng.randrange(10**7):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone


def _cover(
    micro: list[NodeSpec], people: int, rng: random.Random, keep_single: set[str]
) -> list[list[str]]:
    """Share ``len(micro)`` grids among ``people`` so every grid has one: the few who hold two
    grids hold neighbours in the same community (one walk covers both)."""
    doubles = len(micro) - people
    candidates = [
        i
        for i in range(len(micro) - 1)
        if micro[i].parent_code == micro[i + 1].parent_code
        and not {micro[i].code, micro[i + 1].code} & keep_single
    ]
    chosen: set[int] = set()
    for i in rng.sample(candidates, len(candidates)):
        if len(chosen) == doubles:
            break
        if not {i - 1, i, i + 1} & chosen:
            chosen.add(i)
    out, i = [], 0
    while i < len(micro):
        if i in chosen:
            out.append([micro[i].code, micro[i + 1].code])
            i += 2
        else:
            out.append([micro[i].code])
            i += 1
    return out


def plan_demo_town(seed: int = 2023) -> DemoPlan:
    """The whole demo town as plain data (no database): nodes, GeoJSON, staff and their grids."""
    rng = random.Random(seed)
    nodes, fc = _plan_nodes(rng)
    micro = [n for n in nodes if n.level == 4]
    # The demo logins' micro-grid: the first of 联勤村, inside the demo area and community logins.
    demo_micro = next(n.code for n in micro if n.community == data.DEMO_SCOPE_COMMUNITY)

    names = _Names(rng)
    staff: list[StaffSpec] = []
    seconds = set(rng.sample([n.code for n in micro if n.code != demo_micro], 6))
    for n in micro:
        staff.append(StaffSpec(names.name(), names.phone(), "leader", [n.code]))
    for code in sorted(seconds):
        staff.append(StaffSpec(names.name(), names.phone(), "leader", [code]))
    for grids in _cover(micro, data.FULL_TIME_WORKERS, rng, {demo_micro}):
        staff.append(StaffSpec(names.name(), names.phone(), "full_time", grids))
    for grids in _cover(micro, data.PART_TIME_WORKERS, rng, {demo_micro}):
        staff.append(StaffSpec(names.name(), names.phone(), "part_time", grids))
    return DemoPlan(nodes=nodes, staff=staff, demo_micro=demo_micro, feature_collection=fc)


def generate_feature_collection(seed: int = 2023) -> dict:
    """The demo town's five levels as a GeoJSON FeatureCollection (code, name, level, kind,
    parent_code), the format ``grids.actions.import_geojson`` reads."""
    return plan_demo_town(seed).feature_collection


# ---------------------------------------------------------------------------------------------
# Database


def demo_town_exists() -> bool:
    """Whether the demo town has been built into this database (its town node and logins)."""
    from towngrid.accounts.models import User
    from towngrid.grids.models import GridNode

    return (
        GridNode.objects.filter(code=TOWN_CODE).exists()
        and User.objects.filter(is_demo=True, username=data.SUPERUSER.username).exists()
    )


def remove_demo_town() -> None:
    """Delete what the demo build wrote (grids, staff, duties, demo logins, its departments), so
    ``towngrid demo --rebuild`` can build afresh. Audit events stay: the log is append-only.
    Raises django.db.models.ProtectedError if other data (cases, houses …) still uses the grid."""
    from towngrid.accounts.models import Department, User
    from towngrid.cases.models import Case, Category
    from towngrid.demo.extras import remove_demo_extras
    from towngrid.grids.actions import bump_revision
    from towngrid.grids.models import DutyAssignment, GridNode, GridStaff

    with transaction.atomic():
        # Registry, codes, sensing, programs and roll-ups stand on the grid: they go first.
        remove_demo_extras()
        # Cases point at the grid (PROTECT): the demo's cases go first; events, reporters and
        # attachment rows go with them.
        Case.objects.filter(grid_code__startswith=TOWN_CODE).delete()
        User.objects.filter(is_demo=True).delete()
        duties = DutyAssignment.objects.filter(grid__code__startswith=TOWN_CODE)
        staff_ids = set(duties.values_list("staff_id", flat=True))
        duties.delete()
        # Only the town's own staff, and only those left with no duty elsewhere.
        GridStaff.objects.filter(pk__in=staff_ids, duties__isnull=True).delete()
        for level in (5, 4, 3, 2, 1):  # children first: parents are PROTECTed
            GridNode.objects.filter(code__startswith=TOWN_CODE, level=level).delete()
        # Departments the category catalogue names stay with the catalogue (town configuration).
        Department.objects.filter(
            code__in=[d.code for d in data.DEPARTMENTS], users__isnull=True
        ).exclude(pk__in=Category.objects.values("default_department")).delete()
        bump_revision()


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator:
    from tqdm import tqdm

    bar = tqdm(total=total, desc="北蔡演示镇", unit="步", disable=not enabled, leave=True)
    try:
        yield bar
    finally:
        bar.close()


def _ensure_roles() -> dict:
    """The default roles by code. They come from a data migration, but a test database flushed by
    a transactional test has lost them, so put back any that are missing."""
    from towngrid.accounts.models import Role
    from towngrid.accounts.roles import DEFAULT_ROLES

    roles = {r.code: r for r in Role.objects.all()}
    for sort, (code, name, scope_kind, caps, description) in enumerate(DEFAULT_ROLES, start=1):
        if code not in roles:
            roles[code] = Role.objects.create(
                code=code,
                name=name,
                scope_kind=scope_kind,
                capabilities=caps,
                description=description,
                sort=sort,
            )
    return roles


def _import_grid(fc: dict, progress: Callable[[str], None] | None = None) -> None:
    from towngrid.grids import actions

    result = actions.import_geojson(fc, reason="北蔡演示镇", progress=progress)
    if not result.ok:
        shown = "; ".join(str(e) for e in list(result.errors)[:5])
        raise DemoBuildError(f"grid import refused {len(result.errors)} feature(s): {shown}")


def build_demo_town(*, progress: bool = True, seed: int = 2023) -> dict:
    """Build the Beicai demo town into the current database, in one transaction. Returns a
    summary: counts, the demo logins and the seconds taken. Refused (DemoBuildError, nothing
    written) in production mode, over an existing grid under the town code, or when a demo
    username is taken; check ``demo_town_exists`` first."""
    from towngrid.accounts.models import Department, User
    from towngrid.core.audit import record
    from towngrid.grids.actions import assign_duty, create_staff
    from towngrid.grids.models import GridNode

    if settings.PRODUCTION:
        raise DemoBuildError("the demo town is not built in production mode (TOWNGRID_PRODUCTION)")
    if GridNode.objects.filter(code__startswith=TOWN_CODE).exists():
        # The import matches nodes by code and would overwrite a grid someone imported for real.
        raise DemoBuildError(
            f"this database already holds grid nodes under {TOWN_CODE} that the demo did not "
            "build (or the demo town is already there); use a fresh --data-dir, or --rebuild"
        )
    usernames = [login.username for login in [*data.DEMO_LOGINS, data.SUPERUSER]]
    taken = sorted(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    if taken:
        raise DemoBuildError(
            f"the demo usernames {', '.join(taken)} are taken in this database; "
            "use a fresh --data-dir, or --rebuild (which deletes the demo logins)"
        )
    started = time.perf_counter()
    plan = plan_demo_town(seed)
    staff_ticks = math.ceil(len(plan.staff) / 100)
    # Ticks: the plan, the grid import, departments, logins, then one per hundred staff.
    with _progress(4 + staff_ticks, progress) as bar:
        bar.set_postfix_str("生成边界")
        bar.update(1)
        with transaction.atomic():
            bar.set_postfix_str("导入网格")
            _import_grid(plan.feature_collection, lambda label: bar.set_postfix_str(label))
            nodes = {n.code: n for n in GridNode.objects.filter(code__startswith=TOWN_CODE)}
            bar.update(1)

            bar.set_postfix_str("部门")
            departments = {}
            for sort, spec in enumerate(data.DEPARTMENTS, start=1):
                dept, created = Department.objects.get_or_create(
                    code=spec.code,
                    defaults={"name": spec.name, "short_name": spec.short_name, "sort": sort},
                )
                if created:
                    record(None, "accounts.department_created", dept, reason="北蔡演示镇")
                departments[spec.code] = dept
            bar.update(1)

            bar.set_postfix_str("演示账户")
            users = _create_logins(plan, nodes, departments)
            bar.update(1)

            bar.set_postfix_str("网格人员")
            linked = {
                ("leader", plan.demo_micro): users["gridleader"],
                ("full_time", plan.demo_micro): users["gridworker"],
            }
            for i, spec in enumerate(plan.staff, start=1):
                user = linked.pop((spec.post, spec.grids[0]), None)
                staff = create_staff(spec.name, work_phone=spec.work_phone, user=user)
                if user is not None:
                    user.display_name = spec.name
                    user.save(update_fields=["display_name"])
                for code in spec.grids:
                    assign_duty(staff, nodes[code], spec.post, reason="北蔡演示镇")
                if i % 100 == 0 or i == len(plan.staff):
                    bar.update(1)
        bar.set_postfix_str("完成")

    levels = [n.level for n in plan.nodes]
    return {
        "town": TOWN_CODE,
        "nodes": len(plan.nodes),
        "areas": levels.count(2),
        "communities": levels.count(3),
        "micro_grids": levels.count(4),
        "groups": levels.count(5),
        "leaders": sum(s.post == "leader" for s in plan.staff),
        "full_time": sum(s.post == "full_time" for s in plan.staff),
        "part_time": sum(s.post == "part_time" for s in plan.staff),
        "departments": len(data.DEPARTMENTS),
        "logins": demo_logins(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _create_logins(plan: DemoPlan, nodes: dict, departments: dict) -> dict:
    from towngrid.accounts.models import User
    from towngrid.core.audit import record

    roles = _ensure_roles()
    area = next(n for n in nodes.values() if n.level == 2 and n.name == data.DEMO_SCOPE_AREA)
    community = next(
        n for n in nodes.values() if n.level == 3 and n.name == data.DEMO_SCOPE_COMMUNITY
    )
    scopes = {"area": area, "community": community, "micro": nodes[plan.demo_micro]}
    # Not accounts.actions.create_user: it hashes each password (Argon2, ~0.3 s apiece here) and
    # cannot make demo or superuser accounts. One hash serves all: the password is the same
    # published demo password for every login, so a shared salt gives nothing away. The audit
    # event is the one create_user writes.
    password = make_password(data.DEMO_PASSWORD)
    now = timezone.now()
    users = {}
    for login in [*data.DEMO_LOGINS, data.SUPERUSER]:
        is_super = login is data.SUPERUSER
        user = User.objects.create(
            username=login.username,
            password=password,
            password_changed_at=now,
            display_name=login.display_name,
            role=None if is_super else roles[login.role],
            scope=scopes.get(login.scope),
            department=departments.get(login.department),
            is_demo=True,
            is_staff=is_super,
            is_superuser=is_super,
        )
        record(
            None,
            "accounts.user_created",
            user,
            changes={
                "username": user.username,
                "role": user.role.code if user.role else None,
                "scope": user.scope.code if user.scope else None,
                "department": user.department.code if user.department else None,
                "is_demo": True,
            },
            reason="北蔡演示镇",
        )
        users[login.username] = user
    return users


def demo_logins() -> list[dict]:
    """The demo logins for printing: username, password, role name and scope."""
    from towngrid.accounts.models import User

    rows = []
    order = [login.username for login in [*data.DEMO_LOGINS, data.SUPERUSER]]
    users = {
        u.username: u
        for u in User.objects.filter(is_demo=True, username__in=order).select_related(
            "role", "scope", "department"
        )
    }
    for username in order:
        user = users.get(username)
        if user is None:
            continue
        if user.is_superuser:
            role, scope = "超级管理员", "全部"
        else:
            role = user.role.name if user.role else ""
            scope = (
                user.scope.name
                if user.scope
                else user.department.name
                if user.department
                else user.role.get_scope_kind_display()
                if user.role
                else ""
            )
        rows.append(
            {
                "username": username,
                "password": data.DEMO_PASSWORD,
                "role": role,
                "scope": scope,
                "name": user.display_name,
            }
        )
    return rows


__all__ = [
    "DemoBuildError",
    "DemoPlan",
    "build_demo_town",
    "demo_logins",
    "demo_town_exists",
    "generate_feature_collection",
    "plan_demo_town",
    "remove_demo_town",
]
