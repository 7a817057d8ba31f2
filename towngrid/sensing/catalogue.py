"""The sensing catalogue as data: device types with their metrics, the type-level rules and the
alarm → case policies. ``install()`` writes them idempotently (matched by code); the demo build
and ``towngrid sensing install`` call it. Administrators then edit them in the admin.

Thresholds: pump-station forebay warning/danger levels are the town's defaults (stations get
per-device overrides); %LEL low/high alarms at 20 % and 50 % (the usual two-stage setting of
combustible gas detectors); water quality alarms on the derived GB 3838 class and 黑臭 level
(see water.py) and on pH outside 6–9 and dissolved oxygen below the class Ⅴ limit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

N, B, T, IMG = "number", "bool", "text", "image"


def _m(name: str, unit: str = "", kind: str = N, **extra: Any) -> dict:
    return {"name": name, "unit": unit, "kind": kind, **extra}


AI_EVENTS = ["暴露垃圾", "小包垃圾", "占道经营", "乱停车", "人员聚集"]

DEVICE_TYPES: dict[str, dict[str, Any]] = {
    "rain_pump_station": {
        "name": "雨水泵站",
        "silence_minutes": 15,
        "metrics": {
            "water_level": _m("前池水位", "m", min=-5, max=20),
            "rainfall": _m("降雨量", "mm/h", min=0, max=300),
            "pumps_running": _m("运行泵数", "台", min=0, max=12),
            "pump_1": _m("1#泵运行", kind=B),
            "pump_2": _m("2#泵运行", kind=B),
            "pump_3": _m("3#泵运行", kind=B),
            "pump_4": _m("4#泵运行", kind=B),
            "flow": _m("排水流量", "m³/h", min=0, max=100000),
            "flood_status": _m("水位状态", kind=T),
        },
    },
    "water_quality": {
        "name": "水质监测站",
        "silence_minutes": 60,
        "metrics": {
            "ph": _m("pH", "", min=0, max=14),
            "do": _m("溶解氧", "mg/L", min=0, max=25),
            "nh3n": _m("氨氮", "mg/L", min=0, max=200),
            "turbidity": _m("浊度", "NTU", min=0, max=4000),
            "transparency": _m("透明度", "cm", min=0, max=1000),
            "orp": _m("氧化还原电位", "mV", min=-2000, max=2000),
            "temperature": _m("水温", "℃", min=-5, max=50),
            "conductivity": _m("电导率", "μS/cm", min=0, max=200000),
            "cod": _m("化学需氧量", "mg/L", min=0, max=10000),
            "codmn": _m("高锰酸盐指数", "mg/L", min=0, max=1000),
            "bod5": _m("五日生化需氧量", "mg/L", min=0, max=5000),
            "tp": _m("总磷", "mg/L", min=0, max=100),
            # Derived by the platform (water.py), listed for names and units on pages.
            "wq_class": _m("水质类别", "", derived=True),
            "black_odour": _m("黑臭等级", "", derived=True),
        },
    },
    "gas_detector": {
        "name": "燃气泄漏报警器",
        "silence_minutes": 30,
        "metrics": {
            "lel": _m("可燃气体浓度", "%LEL", min=0, max=100),
            "alarm": _m("报警状态", kind=B),
            "event": _m("事件", kind=T),
            "temperature": _m("温度", "℃", min=-40, max=100),
        },
    },
    "elevator_ebike": {
        "name": "电梯阻车检测",
        "silence_minutes": 60,
        "metrics": {
            "ebike": _m("电瓶车入梯", kind=B),
            "door_blocked": _m("阻止关门", kind=B),
            "event": _m("事件", kind=T),
            "confidence": _m("置信度", "", min=0, max=1),
            "snapshot": _m("抓拍", kind=IMG),
        },
    },
    "ai_camera": {
        "name": "AI摄像头",
        "silence_minutes": 60,
        "metrics": {
            "event": _m("识别事件", kind=T, choices=AI_EVENTS),
            "confidence": _m("置信度", "", min=0, max=1),
            "count": _m("目标数", "个", min=0, max=10000),
            "snapshot": _m("抓拍", kind=IMG),
        },
    },
}


def _r(code: str, name: str, metric: str, operator: str, threshold=None, *, severity: str,
       alarm_type: str, alarm_name: str = "", **extra: Any) -> dict:  # fmt: skip
    return {
        "code": code, "name": name, "metric": metric, "operator": operator,
        "threshold": threshold, "severity": severity, "alarm_type": alarm_type,
        "alarm_name": alarm_name or name, **extra,
    }  # fmt: skip


RULES: dict[str, list[dict]] = {
    "rain_pump_station": [
        _r("level_warning", "前池水位超警戒", "water_level", "ge", 3.0, clear_threshold=2.8,
           severity="major", alarm_type="water_level"),
        _r("level_danger", "前池水位超危险", "water_level", "ge", 3.5, clear_threshold=3.3,
           severity="critical", alarm_type="water_level"),
        _r("level_rising", "前池水位快速上涨", "water_level", "rate_gt", 0.05, repeat_count=3,
           severity="minor", alarm_type="water_rising"),
        _r("heavy_rain", "短时强降雨", "rainfall", "ge", 30, duration_minutes=10,
           clear_threshold=20, severity="warning", alarm_type="heavy_rain"),
    ],
    "water_quality": [
        _r("worse_than_v", "水质劣Ⅴ类", "wq_class", "ge", 6, duration_minutes=60,
           clear_threshold=5, severity="major", alarm_type="wq_class"),
        _r("black_odour_light", "轻度黑臭", "black_odour", "ge", 1, repeat_count=3,
           clear_threshold=0, severity="major", alarm_type="black_odour"),
        _r("black_odour_heavy", "重度黑臭", "black_odour", "ge", 2, repeat_count=3,
           clear_threshold=1, severity="critical", alarm_type="black_odour"),
        _r("ph_low", "pH 偏低", "ph", "lt", 6, clear_threshold=6.2, repeat_count=2,
           severity="minor", alarm_type="ph", alarm_name="pH 超出 6–9"),
        _r("ph_high", "pH 偏高", "ph", "gt", 9, clear_threshold=8.8, repeat_count=2,
           severity="minor", alarm_type="ph", alarm_name="pH 超出 6–9"),
        _r("do_low", "溶解氧低于Ⅴ类", "do", "lt", 2, duration_minutes=30, clear_threshold=3,
           severity="major", alarm_type="do_low"),
    ],
    "gas_detector": [
        _r("lel_low", "燃气浓度低报", "lel", "ge", 20, clear_threshold=10, severity="major",
           alarm_type="gas_leak", alarm_name="燃气泄漏"),
        _r("lel_high", "燃气浓度高报", "lel", "ge", 50, clear_threshold=40, severity="critical",
           alarm_type="gas_leak", alarm_name="燃气泄漏"),
        _r("alarm_flag", "报警器报警", "alarm", "true", severity="critical",
           alarm_type="gas_leak", alarm_name="燃气泄漏"),
        _r("alert_event", "燃气泄漏事件", "event", "is", text_value="燃气泄漏",
           severity="critical", alarm_type="gas_leak", alarm_name="燃气泄漏",
           auto_clear_minutes=30),
    ],
    "elevator_ebike": [
        _r("ebike", "电瓶车入梯", "ebike", "true", severity="major",
           alarm_type="ebike_in_elevator", auto_clear_minutes=10),
    ],
    "ai_camera": [
        _r("ai_small_bag", "小包垃圾", "event", "is", text_value="小包垃圾", severity="minor",
           alarm_type="ai_small_bag", auto_clear_minutes=30),
        _r("ai_exposed_garbage", "暴露垃圾", "event", "is", text_value="暴露垃圾",
           severity="minor", alarm_type="ai_exposed_garbage", auto_clear_minutes=30),
        _r("ai_street_vending", "占道经营", "event", "is", text_value="占道经营",
           severity="minor", alarm_type="ai_street_vending", auto_clear_minutes=30),
        _r("ai_illegal_parking", "乱停车", "event", "is", text_value="乱停车",
           severity="minor", alarm_type="ai_illegal_parking", auto_clear_minutes=30),
        _r("ai_crowd", "人员聚集", "event", "is", text_value="人员聚集", severity="warning",
           alarm_type="ai_crowd", auto_clear_minutes=15),
    ],
}  # fmt: skip

# alarm type → (event category name, min severity, min confidence, join window minutes)
POLICIES: list[dict[str, Any]] = [
    {"alarm_type": "ai_small_bag", "category": "暴露垃圾", "name": "AI 小包垃圾转暴露垃圾案件",
     "min_severity": "minor", "min_confidence": 0.8, "join_window_minutes": 120},
    {"alarm_type": "ai_exposed_garbage", "category": "暴露垃圾", "name": "AI 暴露垃圾立案",
     "min_severity": "minor", "min_confidence": 0.8, "join_window_minutes": 120},
    {"alarm_type": "ai_street_vending", "category": "占道经营", "name": "AI 占道经营立案",
     "min_severity": "minor", "min_confidence": 0.8, "join_window_minutes": 120},
    {"alarm_type": "ai_illegal_parking", "category": "车辆乱停放", "name": "AI 乱停车立案",
     "min_severity": "minor", "min_confidence": 0.85, "join_window_minutes": 60},
    {"alarm_type": "gas_leak", "category": "燃气泄漏", "name": "燃气泄漏报警立案",
     "min_severity": "critical", "min_confidence": None, "join_window_minutes": 240},
    {"alarm_type": "ebike_in_elevator", "category": "电动自行车进电梯",
     "name": "电瓶车入梯立案", "min_severity": "major", "min_confidence": None,
     "join_window_minutes": 60},
]  # fmt: skip


def install(*, actor=None) -> dict[str, int]:
    """Create or update the device types, type-level rules and policies; returns counts.
    Policies whose category is missing (catalogue not installed) are skipped."""
    from towngrid.cases.models import Category, CategoryKind
    from towngrid.core import audit

    from .models import CasePolicy, DeviceType, Rule

    counts = {"device_types": 0, "rules": 0, "policies": 0}
    with transaction.atomic():
        types: dict[str, DeviceType] = {}
        for code, spec in DEVICE_TYPES.items():
            obj, _ = DeviceType.objects.update_or_create(
                code=code,
                defaults={
                    "name": spec["name"],
                    "metrics": spec["metrics"],
                    "silence_minutes": spec["silence_minutes"],
                },
            )
            types[code] = obj
            counts["device_types"] += 1
        for type_code, rows in RULES.items():
            for row in rows:
                row = dict(row)
                defaults = {k: v for k, v in row.items() if k != "code" and v is not None}
                defaults.setdefault("threshold", None)
                Rule.objects.update_or_create(
                    device_type=types[type_code], device=None, code=row["code"], defaults=defaults
                )
                counts["rules"] += 1
        for row in POLICIES:
            category = (
                Category.objects.filter(name=row["category"], major__kind=CategoryKind.EVENT)
                .select_related("default_department")
                .first()
            )
            if category is None:
                continue
            CasePolicy.objects.update_or_create(
                alarm_type=row["alarm_type"],
                category=category,
                defaults={
                    "name": row["name"],
                    "min_severity": row["min_severity"],
                    "min_confidence": row["min_confidence"],
                    "join_window_minutes": row["join_window_minutes"],
                    "department": category.default_department,
                },
            )
            counts["policies"] += 1
        audit.record(
            actor,
            "sensing.install_catalogue",
            None,
            changes=counts,
            object_type="sensing.catalogue",
        )
    return counts
