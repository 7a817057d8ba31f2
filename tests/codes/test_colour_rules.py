# ruff: noqa: F811  (fixtures imported from test_colour_support are used as parameters)
"""The rule engine itself: the condition language, its validation, reasons, patrol intervals.
``evaluate`` with explicit facts is pure; the rule sets come from the database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from towngrid.codes import colours
from towngrid.codes.colour_models import ColourRule, ColourRuleSet
from towngrid.codes.colours import ColourError, Facts, Finding, evaluate, validate_condition

from .test_colour_support import (  # noqa: F401
    grid,
    make_enterprise,
    make_house,
    rented_fields,
    rules,
)


def now():
    return timezone.now()


def ev(obj, **facts):
    return evaluate(obj, facts=Facts(**facts), now=facts.pop("now", None) or now())


# --- the default house rules ---------------------------------------------------------------------


def test_a_family_home_is_green_with_its_reason(grid, rules):
    colour, reasons, interval = ev(make_house(grid))
    assert (colour, interval) == ("green", 21)
    assert reasons == [{"rule": reasons[0]["rule"], "colour": "green", "text": "无风险因素"}]


def test_a_rented_house_is_yellow_every_14_days(grid, rules):
    colour, reasons, interval = ev(make_house(grid, **rented_fields(tenant_count=2)))
    assert (colour, interval) == ("yellow", 14)
    assert reasons[0]["text"] == "出租房屋（承租居住 2 人）"


def test_a_group_rental_is_red_every_7_days_with_the_explanation(grid, rules):
    house = make_house(grid, **rented_fields(occupants=5, rooms=1, living_area=Decimal("16")))
    colour, reasons, interval = ev(house)
    assert (colour, interval) == ("red", 7)
    assert reasons[0]["text"].startswith("群租：人均居住面积 3.2 m²，低于 5 m²")
    assert "每间居住 5 人，超过 2 人" in reasons[0]["text"]
    # The milder reasons follow for context; green ones are left out once something matched.
    assert [r["colour"] for r in reasons] == ["red", "yellow"]


def test_flags_and_open_cases(grid, rules):
    mixed = make_house(grid, flags=["三合一场所"])
    assert ev(mixed)[0] == "red"
    assert ev(mixed)[1][0]["text"] == "存在三合一场所（住人、生产、仓储混合）"
    home = make_house(grid)
    assert ev(home, open_cases=1)[:3:2] == ("yellow", 14)
    colour, reasons, _ = ev(home, open_cases=3)
    assert colour == "red" and reasons[0]["text"] == "有 3 件未结案件"


def test_recent_findings_count_within_their_window(grid, rules):
    home = make_house(grid)
    t = now()
    one = [Finding(t - timedelta(days=3), "楼道堆物")]
    assert ev(home, findings=one)[0] == "yellow"
    assert ev(home, findings=one)[1][0]["text"] == "近 14 天巡查发现问题：楼道堆物"
    two = one + [Finding(t - timedelta(days=1), "电瓶车室内充电")]
    assert ev(home, findings=two)[0] == "red"
    old = [Finding(t - timedelta(days=15), "楼道堆物")]
    assert ev(home, findings=old)[0] == "green"


def test_findings_ageing_out_set_the_review_time(grid, rules):
    home = make_house(grid)
    t = now()
    rule_set = colours.rule_set_for("house")
    result = colours.evaluate_with(
        home, rule_set, Facts(findings=[Finding(t - timedelta(days=3), "x")]), t
    )
    assert result.review_at == t - timedelta(days=3) + timedelta(days=14)


def test_key_enterprise_with_findings_is_red_on_the_enterprise_list(grid, rules):
    key = make_enterprise(grid, is_key=True)
    assert ev(key)[:3:2] == ("yellow", 14)
    found = [Finding(now() - timedelta(days=5), "消防通道堵塞")]
    colour, reasons, interval = ev(key, findings=found)
    assert (colour, interval) == ("red", 7)
    assert reasons[0]["text"] == "重点企业近 30 天发现问题 1 项：消防通道堵塞"
    plain = make_enterprise(grid)
    assert ev(plain) == ("green", [ev(plain)[1][0]], 30)


# --- configurable rules --------------------------------------------------------------------------


@pytest.fixture
def custom(db):
    ColourRuleSet.objects.filter(colour_kind="house").update(active=False)
    colours.clear_rule_cache()
    rule_set = ColourRuleSet.objects.create(
        colour_kind="house",
        name="测试规则",
        green_interval_days=30,
        yellow_interval_days=10,
        red_interval_days=3,
    )
    yield rule_set
    colours.clear_rule_cache()


def add(rule_set, colour, condition, reason="{name}", order=10):
    validate_condition(condition)
    return ColourRule.objects.create(
        rule_set=rule_set, colour=colour, name="r", condition=condition, reason=reason, order=order
    )


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 80, True),
        ("ne", 80, False),
        ("gt", 79.99, True),
        ("gt", 80, False),
        ("ge", 80, True),
        ("lt", 80.01, True),
        ("le", 79, False),
        ("in", ["rented", "owner_occupied"], True),
    ],
)
def test_field_comparisons(grid, custom, op, value, expected):
    field = "use" if op == "in" else "floor_area"
    add(custom, "red", {"field": field, "op": op, "value": value}, "命中")
    colour = ev(make_house(grid, floor_area=Decimal("80.00")))[0]
    assert (colour == "red") is expected


def test_contains_empty_all_any_not(grid, custom):
    add(custom, "yellow", {"field": "flags", "op": "contains", "value": "违法建筑"}, "违建")
    add(
        custom,
        "red",
        {
            "all": [
                {"field": "flags", "op": "not_empty"},
                {"any": [{"open_cases": {"op": "ge", "value": 5}}, {"not": {"always": True}}]},
            ]
        },
        "多案",
    )
    house = make_house(grid, flags=["违法建筑"])
    assert ev(house)[0] == "yellow"
    assert ev(house, open_cases=5)[0] == "red"
    assert ev(make_house(grid))[0] == "green"  # nothing matched: green, interval of green
    assert ev(make_house(grid))[1][0]["text"] == colours.NO_RULE_REASON
    assert ev(make_house(grid))[2] == 30


def test_the_patrol_interval_is_the_rule_sets(grid, custom):
    add(custom, "yellow", {"field": "is_rented", "op": "eq", "value": True}, "出租")
    assert ev(make_house(grid, is_rented=True))[2] == 10
    custom.yellow_interval_days = 12
    custom.save()
    assert ev(make_house(grid, is_rented=True))[2] == 12


def test_reasons_never_show_personal_fields(grid, custom):
    add(custom, "red", {"always": True}, "房东 {owner_name} 电话 {owner_phone} {owner_phone_enc}")
    house = make_house(grid, owner_name="张三")
    house.set_personal("owner_phone", "13812345678", check=False)
    text = ev(house)[1][0]["text"]
    assert text == "房东 张三 电话 {owner_phone} {owner_phone_enc}"
    assert "138" not in text


def test_an_inactive_rule_set_means_no_colour(grid, custom):
    custom.active = False
    custom.save()
    with pytest.raises(ColourError) as err:
        evaluate(make_house(grid))
    assert err.value.code == "no_rules"
    assert colours.recompute(make_house(grid)) is None


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ([], "非空的 JSON 对象"),
        ({}, "非空的 JSON 对象"),
        ({"field": "use", "op": "like", "value": "x"}, "未知的比较符 like"),
        ({"field": "use"}, "缺少 value"),
        ({"field": "owner_phone_enc", "op": "eq", "value": "x"}, "不能按字段"),
        ({"field": "use", "op": "in", "value": "rented"}, "in 的 value 应为列表"),
        ({"all": []}, "all 应为非空的条件列表"),
        ({"any": [{"always": True}, {"bogus": 1}]}, "condition.any[1]"),
        ({"open_cases": -1}, "不能为负"),
        ({"open_cases": {"op": "ge", "value": "2"}}, "非负整数"),
        ({"recent_findings": {"op": "ge", "value": 1}}, "days 应为 1–366"),
        ({"recent_findings": 2}, "应为 {days, op, value}"),
        ({"flag": ""}, "标记名称"),
        ({"group_rental": "yes"}, "true 或 false"),
        ({"always": True, "flag": "x"}, "只能有一个键"),
    ],
)
def test_bad_conditions_are_refused_in_chinese(condition, message):
    with pytest.raises(ColourError) as err:
        validate_condition(condition)
    assert err.value.code == "invalid"
    assert message in err.value.message
