"""A small five-level town of its own for the scope matrix, independent of the demo town.

    310115901                       town   (a division code the demo does not use)
    ├── 3101159011                  area A
    │   ├── 310115901101            community A1 ── micro-grids …001, …002 ── groups …001, …002
    │   └── 310115901102            community A2 ── …
    └── 3101159012                  area B
        ├── 310115901201            community B1 ── …
        └── 310115901202            community B2 ── …

Each micro-grid has one person on duty (a DutyAssignment). Other apps add rows of their own scoped
models to the world by putting a ``tests/<app>/scope_samples.py`` with
``make_samples(world) -> None`` next to their tests: create at least one object in each of
``world.micro_grids`` (two or more in different branches at the very least), so that the matrix
can tell a leak from an empty list.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

TOWN = "310115901"
AREAS = ["1", "2"]
COMMUNITIES = ["01", "02"]
MICROS = ["001", "002"]
GROUPS = ["001", "002"]


@dataclass
class Principal:
    """A user of the matrix: a role, and where its scope is."""

    key: str  # test id
    role: str | None  # role code; None for the superuser
    scope: str | None = None  # grid code
    department: bool = False
    superuser: bool = False


# Every role of roles.DEFAULT_ROLES appears (test_every_role_is_in_the_matrix checks), grid roles at
# the level they work at, plus the edge cases.
PRINCIPALS = [
    Principal("town_leader", "town_leader"),
    Principal("ops_registrar", "ops_registrar"),
    Principal("ops_shift_lead", "ops_shift_lead"),
    Principal("ops_dispatcher", "ops_dispatcher"),
    Principal("dept_handler", "dept_handler", department=True),
    Principal("area_staff", "area_staff", scope=TOWN + "1"),
    Principal("community_staff", "community_staff", scope=TOWN + "1" + "01"),
    Principal("grid_leader", "grid_leader", scope=TOWN + "1" + "01" + "001"),
    Principal("grid_worker", "grid_worker", scope=TOWN + "1" + "01" + "001"),
    Principal("grid_worker_b", "grid_worker", scope=TOWN + "2" + "02" + "002"),
    Principal("grid_worker_group", "grid_worker", scope=TOWN + "2" + "01" + "002" + "001"),
    Principal("grid_worker_unscoped", "grid_worker"),
    Principal("resident", "resident"),
    Principal("sysadmin", "sysadmin"),
    Principal("security_admin", "security_admin"),
    Principal("audit_admin", "audit_admin"),
    Principal("superuser", None, superuser=True),
]
PRINCIPAL_KEYS = [p.key for p in PRINCIPALS]


@dataclass
class World:
    town: object
    nodes: dict = field(default_factory=dict)  # code → GridNode
    micro_grids: list = field(default_factory=list)
    department: object = None
    users: dict = field(default_factory=dict)  # principal key → User
    principals: dict = field(default_factory=dict)  # principal key → Principal

    def node(self, code: str):
        return self.nodes[code]


def _roles():
    from towngrid.accounts.models import Role
    from towngrid.accounts.roles import DEFAULT_ROLES

    # Installed by migration 0003; recreated here if a test database was built without it.
    for sort, (code, name, kind, caps, desc) in enumerate(DEFAULT_ROLES):
        Role.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "scope_kind": kind,
                "capabilities": caps,
                "description": desc,
                "sort": sort,
            },
        )
    return {r.code: r for r in Role.objects.all()}


def build_world() -> World:
    from towngrid.accounts.models import Department, User
    from towngrid.grids.models import DutyAssignment, GridNode, GridStaff, Kind, Level, Post

    def node(code, name, level, kind, parent):
        return GridNode.objects.create(code=code, name=name, level=level, kind=kind, parent=parent)

    town = node(TOWN, "矩阵镇", Level.TOWN, Kind.TOWN, None)
    world = World(town=town, nodes={TOWN: town})
    for a in AREAS:
        area = node(TOWN + a, f"矩阵片区{a}", Level.AREA, Kind.AREA, town)
        world.nodes[area.code] = area
        for c in COMMUNITIES:
            kind = Kind.RESIDENTIAL if c == "01" else Kind.VILLAGE
            comm = node(area.code + c, f"矩阵居村{a}{c}", Level.COMMUNITY, kind, area)
            world.nodes[comm.code] = comm
            for m in MICROS:
                micro = node(comm.code + m, f"矩阵微网格{a}{c}{m}", Level.MICRO, Kind.MICRO, comm)
                world.nodes[micro.code] = micro
                world.micro_grids.append(micro)
                for g in GROUPS:
                    group = node(
                        micro.code + g,
                        f"矩阵楼组{a}{c}{m}{g}",
                        Level.GROUP,
                        Kind.BUILDING_GROUP,
                        micro,
                    )
                    world.nodes[group.code] = group
                staff = GridStaff.objects.create(name=f"矩阵网格长{micro.code[-6:]}")
                DutyAssignment.objects.create(staff=staff, grid=micro, post=Post.LEADER)

    world.department = Department.objects.create(code="matrix-dept", name="矩阵测试部门")
    roles = _roles()
    for p in PRINCIPALS:
        user = User.objects.create(
            username=f"matrix-{p.key}",
            role=roles[p.role] if p.role else None,
            scope=world.nodes[p.scope] if p.scope else None,
            department=world.department if p.department else None,
            is_superuser=p.superuser,
            is_staff=p.superuser,
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        world.users[p.key] = user
        world.principals[p.key] = p

    for module in sample_modules():
        module.make_samples(world)
    return world


def sample_modules():
    """``tests/<app>/scope_samples.py`` modules of every app, imported."""
    root = Path(__file__).resolve().parents[1]
    modules = []
    for path in sorted(root.glob("*/scope_samples.py")):
        modules.append(importlib.import_module(f"tests.{path.parent.name}.scope_samples"))
    return modules
