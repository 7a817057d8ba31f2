"""Fixtures of the codes tests (imported by test modules): the tiny grid of tests/grids with a
grid worker on duty, the default colour rules and the case catalogue, users of the roles that
scan, and a helper to make houses. No demo town, so these tests are fast."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest

from tests.grids.test_geo_fixtures import (
    IN_GROUP,
    IN_MICRO_ONLY,
    TOWN,
    build_tiny_grid,
    reset_index,
)

MICRO = TOWN + "101001"
GROUP = MICRO + "001"
OTHER_MICRO = TOWN + "201001"
WORK_PHONE = "021-58930001"
OWNER_PHONE = "13812345678"
_numbers = count(1)

__all__ = [
    "GROUP",
    "IN_GROUP",
    "IN_MICRO_ONLY",
    "MICRO",
    "OTHER_MICRO",
    "OWNER_PHONE",
    "WORK_PHONE",
    "make_house",
    "town",
    "_town_module",
    "worker",
    "other_worker",
    "manager",
    "offset",
]


def _build_town():
    from towngrid.cases import actions, timelimits
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.codes.colours import clear_rule_cache
    from towngrid.codes.rules_default import install_default_colour_rules
    from towngrid.grids.models import DutyAssignment, GridNode, GridStaff, Post

    reset_index()
    build_tiny_grid()
    install_default_colour_rules()
    clear_rule_cache()
    install_catalogue()
    timelimits.clear_cache()
    actions._category_cache.clear()
    micro = GridNode.objects.get(code=MICRO)
    staff = GridStaff.objects.create(name="王晓燕", work_phone=WORK_PHONE)
    DutyAssignment.objects.create(staff=staff, grid=micro, post=Post.FULL_TIME)


@pytest.fixture(scope="module")
def _town_module(django_db_setup, django_db_blocker):
    """Built once per test module inside a transaction rolled back at its end (each test then
    runs in a savepoint of it), like the scope matrix's world."""
    from django.db import transaction

    from towngrid.cases import actions, timelimits
    from towngrid.codes.colours import clear_rule_cache

    with django_db_blocker.unblock(), transaction.atomic():
        _build_town()
        yield
        transaction.set_rollback(True)
    clear_rule_cache()
    timelimits.clear_cache()
    actions._category_cache.clear()
    reset_index()


@pytest.fixture
def town(_town_module, db):
    """The tiny grid with a full-time grid worker on duty in MICRO, the colour rules and the
    case catalogue."""
    from towngrid.grids.models import GridNode

    reset_index()
    yield GridNode.objects.get(code=MICRO)
    reset_index()


@pytest.fixture
def worker(town, user_factory):
    from towngrid.grids.models import GridStaff

    user = user_factory(role="grid_worker", scope=MICRO, username="gw-micro")
    GridStaff.objects.filter(name="王晓燕").update(user=user)
    return user


@pytest.fixture
def other_worker(town, user_factory):
    return user_factory(role="grid_worker", scope=OTHER_MICRO, username="gw-other")


@pytest.fixture
def manager(town, user_factory):
    return user_factory(role="community_staff", scope=TOWN + "101", username="community-1")


def make_house(node=None, *, at=None, **fields):
    """A house written directly (no registry action), with an owner whose name and phone must
    never reach the public card."""
    from towngrid.grids.models import GridNode
    from towngrid.registry.models import House

    node = node or GridNode.objects.get(code=MICRO)
    number = str(next(_numbers))
    base = {
        "grid": node,
        "grid_code": node.code,
        "lng": IN_MICRO_ONLY[0],
        "lat": IN_MICRO_ONLY[1],
        "road": "莲溪路",
        "lane": "100",
        "number": number,
        "room": "101",
        "address": f"莲溪路100弄{number}号101室",
        "floor_area": Decimal("80"),
        "living_area": Decimal("50"),
        "rooms": 3,
        "occupants": 3,
        "is_family_occupancy": True,
        "owner_name": "赵秘密",
    }
    base.update(fields)
    house = House(**base)
    house.set_personal("owner_phone", OWNER_PHONE)
    house.save()
    return house


def offset(point: tuple[float, float], metres_east: float) -> tuple[float, float]:
    """A point ``metres_east`` east of ``point`` (1° of longitude ≈ 95.2 km at 31.16° N)."""
    import math

    lng, lat = point
    return (lng + metres_east / (111_320 * math.cos(math.radians(lat))), lat)
