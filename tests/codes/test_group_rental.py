"""群租 by Shanghai's criteria (codes/group_rental.py): each criterion, its boundary, the family
exception, and the explanation with its figures. Pure: unsaved houses, no database."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from towngrid.codes import group_rental
from towngrid.registry.models import House


def rented(**fields) -> House:
    base = {
        "is_rented": True,
        "use": "rented",
        "occupants": 2,
        "tenant_count": 2,
        "rooms": 2,
        "living_area": Decimal("40"),
        "floor_area": Decimal("60"),
        "rented_rooms": 1,
        "non_bedroom_sleeping": [],
    }
    base.update(fields)
    return House(**base)


def codes(house) -> list[str]:
    return [f.code for f in group_rental.assess(house)]


def test_a_roomy_rental_is_not_a_group_rental():
    assert group_rental.assess(rented()) == []


def test_living_area_per_person_under_5_with_figures():
    findings = group_rental.assess(rented(living_area=Decimal("16"), occupants=5, rooms=3))
    assert [f.code for f in findings] == ["area_per_person"]
    f = findings[0]
    assert f.text.startswith("人均居住面积 3.2 m²，低于 5 m²")
    assert f.figures == {"area": 16.0, "area_kind": "living", "people": 5, "per_person": 3.2}


def test_exactly_5_m2_per_person_is_allowed():
    assert codes(rented(living_area=Decimal("20.00"), occupants=4, rooms=2)) == []
    assert codes(rented(living_area=Decimal("19.99"), occupants=4, rooms=2)) == ["area_per_person"]


def test_per_person_is_shown_rounded_down_never_as_5():
    f = group_rental.assess(rented(living_area=Decimal("14.99"), occupants=3, rooms=2))[0]
    assert "人均居住面积 4.99 m²" in f.text


def test_floor_area_stands_in_for_an_unknown_living_area():
    f = group_rental.assess(rented(living_area=None, floor_area=Decimal("12"), occupants=3))[0]
    assert f.code == "area_per_person"
    assert "人均建筑面积 4 m²" in f.text and "居住面积只会更小" in f.text
    # Building area of 5 m² per person or more proves nothing about the living area.
    assert codes(rented(living_area=None, floor_area=Decimal("15"), occupants=3)) == []


def test_more_than_two_people_per_room():
    findings = group_rental.assess(rented(rooms=2, occupants=5, living_area=Decimal("60")))
    assert [f.code for f in findings] == ["people_per_room"]
    assert findings[0].text == "每间居住 2.5 人，超过 2 人（2 间，居住 5 人）"
    assert findings[0].figures == {"rooms": 2, "people": 5, "per_room": 2.5}


def test_two_people_per_room_is_allowed():
    assert codes(rented(rooms=2, occupants=4, living_area=Decimal("60"))) == []


def test_families_are_excepted_from_the_room_rule_only():
    crowded_family = rented(
        rooms=1, occupants=4, living_area=Decimal("30"), is_family_occupancy=True
    )
    assert codes(crowded_family) == []
    # The area rule still holds for a family.
    small_family = rented(rooms=1, occupants=4, living_area=Decimal("12"), is_family_occupancy=True)
    assert codes(small_family) == ["area_per_person"]


def test_each_non_bedroom_used_as_a_bedroom():
    for space, name in [
        ("kitchen", "厨房"),
        ("bathroom", "卫生间"),
        ("balcony", "阳台"),
        ("basement", "地下储藏室"),
    ]:
        findings = group_rental.assess(rented(non_bedroom_sleeping=[space]))
        assert [f.code for f in findings] == ["non_bedroom"]
        assert findings[0].text == f"{name}被用作卧室出租居住"
        assert findings[0].figures == {"space": space}
    both = group_rental.assess(rented(non_bedroom_sleeping=["balcony", "kitchen"]))
    assert [f.figures["space"] for f in both] == ["kitchen", "balcony"]


def test_partitioning_more_rooms_let_than_designed():
    findings = group_rental.assess(rented(rooms=2, rented_rooms=4, occupants=4))
    assert [f.code for f in findings] == ["partitioned"]
    assert "出租 4 间，超过原始设计 2 间" in findings[0].text


def test_a_house_that_is_not_let_is_never_a_group_rental():
    crowded = House(
        is_rented=False,
        use="owner_occupied",
        tenant_count=0,
        occupants=9,
        rooms=1,
        living_area=Decimal("10"),
        non_bedroom_sleeping=["balcony"],
    )
    assert group_rental.assess(crowded) == []
    crowded.use = "mixed"  # 三合一/混合 use counts as let
    assert set(codes(crowded)) == {"area_per_person", "people_per_room", "non_bedroom"}


def test_people_counted_is_the_larger_of_occupants_and_tenants():
    house = rented(occupants=0, tenant_count=6, rooms=2, living_area=Decimal("60"))
    assert codes(house) == ["people_per_room"]


def test_explain_joins_every_finding():
    house = rented(rooms=1, occupants=3, living_area=Decimal("9"), non_bedroom_sleeping=["kitchen"])
    text = group_rental.explain(group_rental.assess(house))
    assert text.count("；") == 2 and "厨房" in text and "3 m²" in text


@given(
    area=st.decimals(min_value=0, max_value=500, places=2),
    people=st.integers(min_value=1, max_value=40),
)
def test_area_rule_matches_the_arithmetic(area, people):
    house = rented(living_area=area, occupants=people, tenant_count=0, rooms=100)
    flagged = "area_per_person" in codes(house)
    assert flagged == (area / people < 5)


@given(
    rooms=st.integers(min_value=1, max_value=10),
    people=st.integers(min_value=0, max_value=40),
    family=st.booleans(),
)
def test_room_rule_matches_the_arithmetic(rooms, people, family):
    house = rented(
        rooms=rooms,
        occupants=people,
        tenant_count=0,
        living_area=Decimal(1000),
        is_family_occupancy=family,
    )
    flagged = "people_per_room" in codes(house)
    assert flagged == (people > 2 * rooms and not family)
