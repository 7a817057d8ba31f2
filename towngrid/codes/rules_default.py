"""The default three-colour rules, as data: what a town starts with and then edits in the admin,
the API or the rule page (``colours.configure``).

Houses follow rental-house colour practice (green 宽管, yellow 关注, red 严管, patrols every 3
weeks / 2 weeks / week): red for a group rental, a 三合一场所, or two or more open cases; yellow
for a let house, an illegal structure, an open case or a recent patrol finding. Enterprises make
the 重点企业颜色清单: a key enterprise with a recent safety finding is red, any key enterprise at
least yellow. ``install_default_colour_rules`` adds a kind's rule set only when the kind has none,
so a town's own edits are never overwritten (the data migration and the demo both call it).
"""

from __future__ import annotations

from typing import Any

RULE_SETS: list[dict[str, Any]] = [
    {
        "colour_kind": "house",
        "name": "实有房屋三色管理",
        "description": "群租、三合一场所、未结案件和巡查发现决定房屋颜色；出租房屋至少为黄色。",
        "intervals": (21, 14, 7),
        "rules": [
            ("red", "群租", {"group_rental": True}, "群租：{group_rental}"),
            ("red", "三合一场所", {"flag": "三合一场所"}, "存在三合一场所（住人、生产、仓储混合）"),
            (
                "red",
                "多件未结案件",
                {"open_cases": {"op": "ge", "value": 2}},
                "有 {open_cases} 件未结案件",
            ),
            (
                "red",
                "近期多次发现问题",
                {"recent_findings": {"days": 14, "op": "ge", "value": 2}},
                "近 {days} 天巡查发现问题 {recent_findings} 次：{findings}",
            ),
            (
                "yellow",
                "出租房屋",
                {
                    "any": [
                        {"field": "is_rented", "op": "eq", "value": True},
                        {"field": "use", "op": "eq", "value": "rented"},
                    ]
                },
                "出租房屋（承租居住 {tenant_count} 人）",
            ),  # fmt: skip
            ("yellow", "违法建筑", {"flag": "违法建筑"}, "存在违法建筑"),
            (
                "yellow",
                "未结案件",
                {"open_cases": {"op": "eq", "value": 1}},
                "有 1 件未结案件",
            ),
            (
                "yellow",
                "近期巡查发现问题",
                {"recent_findings": {"days": 14, "op": "ge", "value": 1}},
                "近 {days} 天巡查发现问题：{findings}",
            ),
            ("green", "正常", {"always": True}, "无风险因素"),
        ],
    },
    {
        "colour_kind": "enterprise",
        "name": "重点企业颜色清单",
        "description": "重点企业按安全检查发现和未结案件分级管理。",
        "intervals": (30, 14, 7),
        "rules": [
            (
                "red",
                "重点企业发现安全问题",
                {
                    "all": [
                        {"field": "is_key", "op": "eq", "value": True},
                        {"recent_findings": {"days": 30, "op": "ge", "value": 1}},
                    ]
                },
                "重点企业近 {days} 天发现问题 {recent_findings} 项：{findings}",
            ),  # fmt: skip
            (
                "red",
                "多件未结案件",
                {"open_cases": {"op": "ge", "value": 2}},
                "有 {open_cases} 件未结案件",
            ),
            ("yellow", "重点企业", {"field": "is_key", "op": "eq", "value": True}, "重点企业"),
            (
                "yellow",
                "近期发现问题",
                {"recent_findings": {"days": 30, "op": "ge", "value": 1}},
                "近 {days} 天发现问题：{findings}",
            ),
            (
                "yellow",
                "未结案件",
                {"open_cases": {"op": "eq", "value": 1}},
                "有 1 件未结案件",
            ),
            ("green", "正常", {"always": True}, "经营正常"),
        ],
    },
    {
        "colour_kind": "shop",
        "name": "沿街商户三色管理",
        "description": "未结案件和巡查发现决定商户颜色。",
        "intervals": (30, 14, 7),
        "rules": [
            (
                "red",
                "多件未结案件",
                {"open_cases": {"op": "ge", "value": 2}},
                "有 {open_cases} 件未结案件",
            ),
            (
                "yellow",
                "未结案件",
                {"open_cases": {"op": "eq", "value": 1}},
                "有 1 件未结案件",
            ),
            (
                "yellow",
                "近期巡查发现问题",
                {"recent_findings": {"days": 14, "op": "ge", "value": 1}},
                "近 {days} 天巡查发现问题：{findings}",
            ),
            ("green", "正常", {"always": True}, "经营正常"),
        ],
    },
    {
        "colour_kind": "component",
        "name": "城市部件三色管理",
        "description": "部件完好程度和未结案件决定颜色。",
        "intervals": (30, 14, 7),
        "rules": [
            (
                "red",
                "部件丢失",
                {"field": "status", "op": "in", "value": ["lost"]},
                "部件丢失",
            ),
            (
                "red",
                "多件未结案件",
                {"open_cases": {"op": "ge", "value": 2}},
                "有 {open_cases} 件未结案件",
            ),
            ("yellow", "部件破损", {"field": "status", "op": "eq", "value": "damaged"}, "部件破损"),
            (
                "yellow",
                "未结案件",
                {"open_cases": {"op": "eq", "value": 1}},
                "有 1 件未结案件",
            ),
            ("green", "正常", {"always": True}, "部件完好"),
        ],
    },
    {
        "colour_kind": "underground",
        "name": "地下空间三色管理",
        "description": "未结案件和巡查发现决定颜色。",
        "intervals": (21, 14, 7),
        "rules": [
            (
                "red",
                "多件未结案件",
                {"open_cases": {"op": "ge", "value": 2}},
                "有 {open_cases} 件未结案件",
            ),
            (
                "yellow",
                "未结案件或巡查发现",
                {
                    "any": [
                        {"open_cases": {"op": "eq", "value": 1}},
                        {"recent_findings": {"days": 14, "op": "ge", "value": 1}},
                    ]
                },
                "有未结案件或近期巡查发现问题",
            ),  # fmt: skip
            ("green", "正常", {"always": True}, "无风险因素"),
        ],
    },
]


def install_default_colour_rules(apps=None) -> int:
    """Add the default rule set of every kind that has none (active or not). Returns how many
    were added. ``apps`` is the migration's app registry in a data migration."""
    if apps is None:
        from django.apps import apps
    rule_set_model = apps.get_model("codes", "ColourRuleSet")
    rule_model = apps.get_model("codes", "ColourRule")
    added = 0
    for spec in RULE_SETS:
        if rule_set_model.objects.filter(colour_kind=spec["colour_kind"]).exists():
            continue
        green, yellow, red = spec["intervals"]
        rule_set = rule_set_model.objects.create(
            colour_kind=spec["colour_kind"],
            name=spec["name"],
            description=spec["description"],
            green_interval_days=green,
            yellow_interval_days=yellow,
            red_interval_days=red,
        )
        rule_model.objects.bulk_create(
            rule_model(
                rule_set=rule_set,
                order=(i + 1) * 10,
                colour=colour,
                name=name,
                condition=condition,
                reason=reason,
            )
            for i, (colour, name, condition, reason) in enumerate(spec["rules"])
        )
        added += 1
    if added:
        from .colours import clear_rule_cache

        clear_rule_cache()
    return added
