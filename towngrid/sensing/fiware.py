"""FIWARE Smart Data Models (keyValues) → the compact message form.

Supported entity types: WaterQualityObserved, FloodMonitoring, Device, Alert. Entity ids are
``urn:ngsi-ld:<Type>:<id>``. The device is ``refDevice`` (or ``alertSource`` for an Alert) when
given, else the last part of the entity id. Entities carry no message id, so the message id is
``<entity id>@<observation time>``: the same observation delivered twice is stored once.

Local extensions (the models have no gas-leak or garbage subCategory): Alert ``subCategory`` may
be one of ``EVENT_KINDS`` (or the Chinese kind itself) and may carry ``confidence`` and
``snapshot``; WaterQualityObserved may carry ``transparency`` (cm) and ``tp`` (total phosphorus).
"""

from __future__ import annotations

from typing import Any

URN_PREFIX = "urn:ngsi-ld:"
TYPES = ("WaterQualityObserved", "FloodMonitoring", "Device", "Alert")

# WaterQualityObserved attribute → our metric code.
WATER_QUALITY = {
    "temperature": "temperature",
    "pH": "ph",
    "orp": "orp",
    "O2": "do",
    "conductivity": "conductivity",
    "turbidity": "turbidity",
    "NH4": "nh3n",
    "bod": "bod5",
    "cod": "cod",
    "codMn": "codmn",
    "tp": "tp",
    "transparency": "transparency",
}

# Alert subCategory (local extension values) → the event kind our rules match.
EVENT_KINDS = {
    "exposedGarbage": "暴露垃圾",
    "smallBagGarbage": "小包垃圾",
    "streetVending": "占道经营",
    "illegalParking": "乱停车",
    "crowdGathering": "人员聚集",
    "gasLeak": "燃气泄漏",
    "ebikeInElevator": "电瓶车入梯",
}


def is_entity(obj: dict) -> bool:
    # "type" first: compact messages have none, and this runs for every reading.
    return "type" in obj and isinstance(obj.get("id"), str) and obj["id"].startswith(URN_PREFIX)


def _urn_id(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    if value.startswith(URN_PREFIX):
        return value.rsplit(":", 1)[-1]
    return value


def device_code_of(entity: dict) -> str:
    ref = entity.get("refDevice") or (
        entity.get("alertSource") if entity.get("type") == "Alert" else None
    )
    if isinstance(ref, list) and ref:
        ref = ref[0]
    return _urn_id(ref) or _urn_id(entity.get("id"))


def _reason(field_name: str, message: str) -> dict:
    return {"field": field_name, "message": message}


def to_compact(entity: dict) -> tuple[dict, list[dict]]:
    """The compact message for one keyValues entity, or the reasons it cannot be read."""
    kind = entity.get("type")
    entity_id = entity["id"]
    if kind not in TYPES:
        return {}, [_reason("type", f"不支持的 FIWARE 实体类型：{kind}。")]
    if not entity_id.startswith(f"{URN_PREFIX}{kind}:") or entity_id.endswith(":"):
        return {}, [_reason("id", f"实体编号应为 urn:ngsi-ld:{kind}:<编号>。")]
    code = device_code_of(entity)
    values: dict = {}
    problems: list[dict] = []
    time_key = {"Device": "dateLastValueReported", "Alert": "dateIssued"}.get(kind, "dateObserved")
    time = entity.get(time_key)
    if time is None:
        problems.append(_reason(time_key, f"缺少 {time_key}。"))
    out: dict = {"device": code, "time": time, "id": f"{entity_id}@{time}"}
    if kind == "WaterQualityObserved":
        for attr, metric in WATER_QUALITY.items():
            if attr in entity:
                values[metric] = entity[attr]
    elif kind == "FloodMonitoring":
        level = entity.get("currentLevel")
        if level is None and "referenceLevel" in entity and "measuredDistance" in entity:
            try:
                level = float(entity["referenceLevel"]) - float(entity["measuredDistance"])
            except (TypeError, ValueError):
                problems.append(
                    _reason("measuredDistance", "referenceLevel/measuredDistance 须为数值。")
                )
        if level is not None:
            values["water_level"] = level
        for attr, metric in (("precipitation", "rainfall"), ("floodLevelStatus", "flood_status")):
            if attr in entity:
                values[metric] = entity[attr]
    elif kind == "Device":
        battery = entity.get("batteryLevel")
        if battery is not None:
            # The data model states batteryLevel as a fraction 0–1; ours is a percentage.
            if isinstance(battery, int | float) and not isinstance(battery, bool) and battery <= 1:
                battery = round(battery * 100, 1)
            out["battery"] = battery
        state = entity.get("deviceState")
        out["_state"] = state if isinstance(state, str) and state else "heartbeat"
        value = entity.get("value")
        if isinstance(value, dict):
            values.update(value)
    elif kind == "Alert":
        sub = entity.get("subCategory")
        if not isinstance(sub, str) or not sub:
            problems.append(_reason("subCategory", "告警缺少 subCategory。"))
        else:
            values["event"] = EVENT_KINDS.get(sub, sub)
        for attr in ("confidence", "snapshot"):
            if attr in entity:
                values[attr] = entity[attr]
    out["values"] = values
    return out, problems
