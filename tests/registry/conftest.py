"""Fixtures of the registry tests: places inside and outside the demo grid worker's scope."""

from __future__ import annotations

import pytest

from towngrid.core.checksums import make_credit_code, make_id_number


def point_in(node) -> tuple[float, float]:
    """A point inside a grid node's boundary (WGS-84)."""
    from shapely.geometry import shape

    p = shape(node.boundary).representative_point()
    return p.x, p.y


@pytest.fixture
def micro(demo_town):
    """The demo grid worker's micro-grid (inside its scope)."""
    return demo_town.micro_grid


@pytest.fixture
def other_micro(demo_town):
    """A micro-grid in another community: outside the grid worker's, grid leader's and
    community's scope."""
    from towngrid.grids.models import GridNode, Level

    return (
        GridNode.objects.filter(level=Level.MICRO, code__startswith=demo_town.town.code)
        .exclude(code__startswith=demo_town.community.code)
        .exclude(boundary=None)
        .order_by("code")
        .first()
    )


@pytest.fixture(scope="session")
def _demo_town_built(django_db_setup, django_db_blocker) -> None:
    """The demo grid and its logins only: these tests create the registry rows they need, so
    they do not wait on (or break with) the other apps' demo extras."""
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Category
    from towngrid.demo.build import build_demo_town, demo_town_exists

    with django_db_blocker.unblock():
        if not demo_town_exists():
            build_demo_town(progress=False)
        if not Category.objects.filter(major__kind="component").exists():
            install_catalogue()


class Numbers:
    """Valid identifiers that no other test uses."""

    def __init__(self):
        self.n = 0

    def id_number(self) -> str:
        from datetime import date

        self.n += 1
        return make_id_number("310115", date(1950 + self.n % 50, 1 + self.n % 12, 3), self.n)

    def phone(self) -> str:
        self.n += 1
        return f"1390{self.n:07d}"

    def credit_code(self) -> str:
        self.n += 1
        return make_credit_code("310115", 7_000_000 + self.n)


@pytest.fixture
def numbers() -> Numbers:
    return Numbers()


@pytest.fixture
def make_house(micro):
    from towngrid.registry import actions
    from towngrid.registry.models import House

    def _make(node=None, **fields):
        node = node or micro
        lng, lat = point_in(node)
        defaults = {
            "road": "莲溪路",
            "lane": "100",
            "number": "5",
            "room": "301",
            "lng": lng,
            "lat": lat,
        }
        defaults.update(fields)
        return actions.create(House, actor=None, **defaults)

    return _make


@pytest.fixture
def make_resident(make_house, numbers):
    from towngrid.registry import actions
    from towngrid.registry.models import Resident

    def _make(house=None, **fields):
        house = house or make_house()
        defaults = {
            "name": "张三",
            "house": house,
            "id_number": numbers.id_number(),
            "phone": numbers.phone(),
        }
        defaults.update(fields)
        return actions.create(Resident, actor=None, **defaults)

    return _make
