# ruff: noqa: F811 - the shared fixtures are imported from test_workflow
"""Duplicate suggestions: same subclass, open, within the configured radius (default 50 m)."""

from __future__ import annotations

import math

from towngrid.cases import actions, queries
from towngrid.cases.models import Status

from .test_workflow import catalogue, new_case, point, town, users  # noqa: F401


def metres_east(point, metres: float) -> tuple[float, float]:
    lng, lat = point
    return lng + metres / (111_320 * math.cos(math.radians(lat))), lat


def test_haversine_known_distance():
    # One degree of latitude is about 111.2 km.
    assert abs(queries.haversine_m(121.5, 31.0, 121.5, 32.0) - 111_195) < 100


def test_radius_category_and_status_decide(users, point):
    first = new_case(point, users["resident"])
    near = metres_east(point, 30)
    far = metres_east(point, 80)
    found = queries.find_duplicates("E0102", *near)
    assert [c.number for c in found] == [first.number]
    assert 25 < found[0].distance_m < 35
    assert queries.find_duplicates("E0102", *far) == []
    assert [c.number for c in queries.find_duplicates("E0102", *far, radius_m=100)] == [
        first.number
    ]
    # Another subclass at the same spot is not a duplicate.
    assert queries.find_duplicates("E0101", *near) == []
    # A closed (here: rejected) case is not offered.
    actions.reject(first, actor=users["ops_shift_lead"], reason="已处理")
    assert first.status == Status.REJECTED
    assert queries.find_duplicates("E0102", *near) == []


def test_configured_radius(users, point):
    from towngrid.core import config

    first = new_case(point, users["resident"])
    far = metres_east(point, 80)
    config.set_value("cases.duplicate_radius_m", 100)
    try:
        assert [c.number for c in queries.find_duplicates("E0102", *far)] == [first.number]
    finally:
        config.reset("cases.duplicate_radius_m")


def test_report_does_not_merge_on_its_own(users, point):
    first = new_case(point, users["resident"])
    second = new_case(metres_east(point, 10), users["resident"])
    assert second.status == Status.REPORTED and second.duplicate_of is None
    found = queries.find_duplicates(second.category, second.lng, second.lat, exclude=second)
    assert [c.number for c in found] == [first.number]


def test_nearest_first_and_scope(users, point):
    a = new_case(metres_east(point, 40), users["resident"])
    b = new_case(metres_east(point, 5), users["resident"])
    found = queries.find_duplicates("E0102", *point)
    assert [c.number for c in found] == [b.number, a.number]
    # Limited to what a department sees: nothing dispatched to it yet.
    visible = queries.visible_cases(users["dept_handler"])
    assert queries.find_duplicates("E0102", *point, queryset=visible) == []
