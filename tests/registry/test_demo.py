"""The registry of the demo town at the test scale: the report's figures, every object inside
its micro-grid, identifiers valid by checksum but not real, deterministic by seed."""

from __future__ import annotations

import pytest
import shapely
from django.db import transaction
from shapely.geometry import shape

from towngrid.core import personal
from towngrid.core.checksums import is_valid_credit_code, is_valid_id_number
from towngrid.demo.extras import TEST_SCALE
from towngrid.grids.models import GridNode
from towngrid.registry import demo
from towngrid.registry.models import (
    Component,
    Enterprise,
    House,
    Household,
    LandParcel,
    Resident,
    Shop,
    UndergroundSpace,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def registry(_demo_town_built, django_db_blocker):
    """The registry built once for the module on the demo grid, rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        if demo.exists():
            demo.remove()
        yield demo.build(scale=TEST_SCALE)
        transaction.set_rollback(True)


def test_figures_of_the_report(registry):
    assert demo.exists()
    assert House.objects.count() == registry["house"] == round(demo.HOUSES * TEST_SCALE)
    assert Household.objects.count() == registry["household"] > 0
    assert Resident.objects.count() == registry["resident"]
    # About a quarter of a million at scale 1.
    assert 200_000 < registry["resident"] / TEST_SCALE < 300_000
    alliance = Shop.objects.filter(alliance="北中路商户联盟", is_alliance_member=True)
    assert alliance.count() == 149
    assert set(alliance.values_list("street", flat=True)) == {"北中路"}
    communities = {g.code: g.parent.name for g in GridNode.objects.filter(level=4)}
    assert {communities[c] for c in alliance.values_list("grid_code", flat=True)} == {"北中居委"}
    assert Component.objects.filter(kind="pump_station").count() == demo.PUMP_STATIONS
    assert Component.objects.filter(kind="camera").count() == demo.CAMERAS
    assert Component.objects.filter(kind="elevator").exists()
    assert Component.objects.filter(kind="manhole").exists()
    parcel = LandParcel.objects.get(name="901 单元 15-04 地块")
    assert (parcel.households_total, parcel.households_signed) == (37, 37)
    old_town = LandParcel.objects.get(name__startswith="老集镇")
    assert (old_town.households_total, old_town.households_signed) == (37, 18)
    pair = LandParcel.objects.filter(name__contains="拔点")
    signed = sum(p.households_signed for p in pair) / sum(p.households_total for p in pair)
    assert round(signed * 100, 1) == 99.8
    assert UndergroundSpace.objects.exists() and Enterprise.objects.exists()


def test_rural_houses_stand_in_the_villages(registry):
    kinds = {g.code: g.parent.kind for g in GridNode.objects.filter(level=4)}
    rural = House.objects.filter(house_type="rural_self_built")
    assert rural.count() == registry["rural_self_built"] > 0
    assert {kinds[c] for c in rural.values_list("grid_code", flat=True)} == {"village"}
    others = House.objects.exclude(house_type="rural_self_built")
    assert "village" not in {kinds[c] for c in others.values_list("grid_code", flat=True)}


@pytest.mark.parametrize(
    "model", [House, Household, Resident, Enterprise, Shop, Component, UndergroundSpace, LandParcel]
)
def test_every_object_lies_in_its_micro_grid(registry, model):
    polygons = {g.code: shape(g.boundary) for g in GridNode.objects.filter(level__in=(4, 5))}
    rows = list(model.objects.values_list("grid_code", "group__code", "lng", "lat")[:400])
    assert rows
    for grid_code, group_code, lng, lat in rows:
        assert len(grid_code) == 15
        assert shapely.contains_xy(polygons[grid_code], lng, lat), (model, grid_code)
        if group_code:
            assert group_code.startswith(grid_code)
            assert shapely.intersects_xy(polygons[group_code], lng, lat)


def test_identifiers_are_valid_but_not_real(registry):
    for person in Resident.objects.all()[:500]:
        number = personal.plain_value(person, "id_number")
        assert is_valid_id_number(number)
        assert number[2:6] == "9099"  # a prefecture no province has
        assert person.birth_date.strftime("%Y%m%d") == number[6:14]
        assert person.gender == ("male" if int(number[16]) % 2 else "female")
    codes = list(Enterprise.objects.values_list("credit_code", flat=True))
    assert all(is_valid_credit_code(c) for c in codes) and len(set(codes)) == len(codes)
    hashes = list(Resident.objects.values_list("id_number_hash", flat=True))
    assert len(set(hashes)) == len(hashes)
    house = House.objects.exclude(owner_phone_enc="").first()
    assert personal.plain_value(house, "owner_phone").isdigit()


def test_deterministic_by_seed_and_removable(registry):
    def snapshot():
        return (
            list(House.objects.order_by("id").values_list("address", "grid_code", "lng")[:50]),
            list(Resident.objects.order_by("id").values_list("name", "birth_date")[:50]),
            list(Shop.objects.order_by("id").values_list("name", "address")[:20]),
        )

    first = snapshot()
    demo.remove()
    assert not demo.exists() and not Resident.objects.exists()
    demo.build(scale=TEST_SCALE)
    assert snapshot() == first
