"""GB 3838-2002 class boundaries and the 黑臭 criteria (known answers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from towngrid.sensing import water


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        # Dissolved oxygen ≥ 7.5 / 6 / 5 / 3 / 2: each limit belongs to its class.
        ("do", 7.5, 1), ("do", 7.49, 2), ("do", 6.0, 2), ("do", 5.0, 3), ("do", 4.99, 4),
        ("do", 3.0, 4), ("do", 2.0, 5), ("do", 1.99, 6),
        # Ammonia nitrogen ≤ 0.15 / 0.5 / 1.0 / 1.5 / 2.0.
        ("nh3n", 0.15, 1), ("nh3n", 0.16, 2), ("nh3n", 0.5, 2), ("nh3n", 1.0, 3),
        ("nh3n", 1.5, 4), ("nh3n", 2.0, 5), ("nh3n", 2.01, 6),
        # COD ≤ 15 / 15 / 20 / 30 / 40: Ⅰ and Ⅱ share a limit, so 15 is Ⅰ.
        ("cod", 15, 1), ("cod", 15.1, 3), ("cod", 40, 5), ("cod", 40.1, 6),
        # Permanganate index, BOD5, total phosphorus (rivers).
        ("codmn", 2, 1), ("codmn", 15, 5), ("codmn", 15.5, 6),
        ("bod5", 3, 1), ("bod5", 4, 3), ("bod5", 10, 5), ("bod5", 10.1, 6),
        ("tp", 0.02, 1), ("tp", 0.2, 3), ("tp", 0.4, 5), ("tp", 0.41, 6),
        # pH 6–9 in every class.
        ("ph", 6.0, 1), ("ph", 9.0, 1), ("ph", 5.99, 6), ("ph", 9.01, 6),
    ],
)  # fmt: skip
def test_parameter_class_boundaries(metric, value, expected):
    assert water.parameter_class(metric, value) == expected


def test_sample_class_is_its_worst_parameter():
    assert water.surface_water_class({"do": 8, "nh3n": 0.1, "cod": 12}) == 1
    assert water.surface_water_class({"do": 8, "nh3n": 1.2, "cod": 12}) == 4
    assert water.surface_water_class({"do": 8, "nh3n": 0.1, "ph": 9.5}) == 6
    assert water.surface_water_class({"ph": 7.0}) is None  # pH alone classes nothing
    assert water.surface_water_class({"turbidity": 30}) is None


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("transparency", 25, 0), ("transparency", 24.9, 1), ("transparency", 10, 1),
        ("transparency", 9.9, 2),
        ("do", 2.0, 0), ("do", 1.99, 1), ("do", 0.2, 1), ("do", 0.19, 2),
        ("orp", 50, 0), ("orp", 49, 1), ("orp", -200, 1), ("orp", -201, 2),
        ("nh3n", 8.0, 0), ("nh3n", 8.1, 1), ("nh3n", 15, 1), ("nh3n", 15.1, 2),
    ],
)  # fmt: skip
def test_black_odour_indicator_boundaries(metric, value, expected):
    assert water.indicator_level(metric, value) == expected


def test_one_indicator_decides_a_reading():
    clean = {"transparency": 60, "do": 6, "orp": 150, "nh3n": 0.5}
    assert water.black_odour_level(clean) == water.NONE
    assert water.black_odour_level({**clean, "orp": -50}) == water.LIGHT
    assert water.black_odour_level({**clean, "orp": -50, "do": 0.1}) == water.HEAVY
    assert water.black_odour_level({"ph": 7}) is None


def test_point_level_follows_the_60_30_rule():
    heavy_do = {"do": 0.1, "transparency": 30, "orp": 100, "nh3n": 1}
    light = {"do": 1.0, "transparency": 20, "orp": 0, "nh3n": 9}
    clean = {"do": 5, "transparency": 40, "orp": 100, "nh3n": 1}
    # One indicator heavy in 3 of 5 readings (60 %): 重度.
    assert water.point_level([heavy_do] * 3 + [light] * 2) == water.HEAVY
    # One indicator heavy in 2 of 5 (40 %) and no second indicator: 轻度.
    assert water.point_level([heavy_do] * 2 + [light] * 3) == water.LIGHT
    # Two indicators each heavy in 2 of 5 readings (40 % ≥ 30 %): 重度.
    both = {"do": 0.1, "transparency": 5, "orp": 100, "nh3n": 1}
    assert water.point_level([both] * 2 + [light] * 3) == water.HEAVY
    assert water.point_level([clean] * 4) == water.NONE
    assert water.point_level([]) is None


@given(st.dictionaries(st.sampled_from(["do", "nh3n", "cod", "codmn", "bod5", "tp", "ph"]),
                       st.floats(min_value=0, max_value=50), min_size=1))  # fmt: skip
def test_class_is_the_maximum_of_parameter_classes(values):
    cls = water.surface_water_class(values)
    classes = [water.parameter_class(k, v) for k, v in values.items()]
    if set(values) == {"ph"}:
        assert cls in (None, 6)
    else:
        assert cls == max(classes)


def test_water_quality_alarms_from_derived_metrics(make_device):
    from datetime import timedelta

    from towngrid.sensing import actions
    from towngrid.sensing.models import Alarm, Observation

    from .conftest import T0, msg

    wq = make_device("water_quality")
    bad = {"do": 0.1, "transparency": 8, "orp": -250, "nh3n": 16, "ph": 7}
    actions.ingest(
        [msg(wq, i * 10, bad) for i in range(3)], transport="http", at=T0 + timedelta(hours=2)
    )
    stored = Observation.objects.filter(device=wq).first()
    assert stored.values["wq_class"] == 6 and stored.values["black_odour"] == 2
    alarm = Alarm.objects.get(device=wq, alarm_type="black_odour")
    assert alarm.severity == "critical"
