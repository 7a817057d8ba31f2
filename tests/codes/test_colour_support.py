"""Fixtures of the colour tests (imported by the test_colour_* modules): a tiny grid of its own
(no demo town, so these tests are fast and run first), the default rule sets, the case
catalogue, and helpers to make houses and enterprises and to move a case through the workflow.
"""

from __future__ import annotations

import io
from decimal import Decimal
from itertools import count

import pytest

from tests.grids.test_geo_fixtures import IN_MICRO_ONLY, TOWN, build_tiny_grid, reset_index

MICRO = TOWN + "101001"
OTHER_MICRO = TOWN + "201001"
_numbers = count(1)


@pytest.fixture
def grid(db):
    reset_index()
    build_tiny_grid()
    from towngrid.grids.models import GridNode

    yield GridNode.objects.get(code=MICRO)
    reset_index()


@pytest.fixture
def rules(db):
    from towngrid.codes.colours import clear_rule_cache
    from towngrid.codes.rules_default import install_default_colour_rules

    install_default_colour_rules()
    clear_rule_cache()
    yield
    clear_rule_cache()


@pytest.fixture
def catalogue(db):
    from towngrid.cases import actions, timelimits
    from towngrid.cases.catalogue import install_catalogue

    install_catalogue()
    timelimits.clear_cache()
    actions._category_cache.clear()


def make_house(node, **fields):
    """A house written directly (no signal): the tests decide when the engine runs."""
    from towngrid.registry.models import House

    base = {
        "grid": node,
        "grid_code": node.code,
        "lng": IN_MICRO_ONLY[0],
        "lat": IN_MICRO_ONLY[1],
        "road": "莲溪路",
        "lane": "100",
        "number": str(next(_numbers)),
        "room": "101",
        "floor_area": Decimal("80"),
        "living_area": Decimal("50"),
        "rooms": 3,
        "occupants": 3,
        "is_family_occupancy": True,
    }
    base.update(fields)
    return House.objects.create(**base)


def rented_fields(**extra) -> dict:
    fields = {
        "is_rented": True,
        "use": "rented",
        "tenant_count": 2,
        "occupants": 2,
        "is_family_occupancy": False,
        "rented_rooms": 1,
    }
    fields.update(extra)
    return fields


def make_enterprise(node, **fields):
    from towngrid.core.checksums import make_credit_code
    from towngrid.registry.models import Enterprise

    n = next(_numbers)
    base = {
        "grid": node,
        "grid_code": node.code,
        "lng": IN_MICRO_ONLY[0],
        "lat": IN_MICRO_ONLY[1],
        "name": f"测试企业{n}",
        "credit_code": make_credit_code("310115", 900000 + n),
    }
    base.update(fields)
    return Enterprise.objects.create(**base)


def png():
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 160, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile("after.png", buffer.getvalue(), content_type="image/png")


def report_on(obj, *, category: str = "E0102"):
    from towngrid.cases import actions

    return actions.report(
        category=category,
        description="楼道堆物",
        lng=obj.lng,
        lat=obj.lat,
        source="grid_worker",
        actor=None,
        subject=obj,
    )


def close_case(case) -> None:
    """The whole workflow as the system: accept (a grid worker's report skips 核实), open,
    dispatch, feedback with an after-photo, re-check, close."""
    from towngrid.cases import actions

    actions.accept(case, actor=None)
    actions.open_case(case, actor=None)
    actions.dispatch(case, actor=None)
    actions.feedback(case, actor=None, note="已清理", photos=[png()])
    actions.recheck(case, actor=None)
    actions.close(case, actor=None)


def make_colour_samples(world) -> None:
    """Colour rows for the scope matrix's fixture town (tests/accounts/scope_world.py): the
    colour state and history of every house there (the codes samples make one per micro-grid),
    an override on every other one, so the colour endpoints can be told from an empty list.
    Called from tests/codes/scope_samples.py."""
    from datetime import timedelta

    from django.utils import timezone

    from towngrid.codes import colours
    from towngrid.codes.rules_default import install_default_colour_rules
    from towngrid.registry.models import House

    install_default_colour_rules()
    colours.clear_rule_cache()
    houses = list(House.objects.filter(grid__in=world.micro_grids).order_by("pk"))
    if not houses:  # the codes samples made none: one per micro-grid of our own
        houses = [
            House.objects.create(
                grid=micro,
                grid_code=micro.code,
                lng=121.5 + i * 0.001,
                lat=31.2,
                road="三色矩阵路",
                number=str(i + 1),
            )
            for i, micro in enumerate(world.micro_grids)
        ]
    colours.recompute_many(houses)
    now = timezone.now()
    for house in houses[::2]:
        colours.override(
            house, "red", reason="矩阵测试", expires_at=now + timedelta(days=30), at=now
        )
