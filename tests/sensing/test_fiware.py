"""FIWARE Smart Data Models (keyValues) payloads."""

from __future__ import annotations

from datetime import timedelta

from towngrid.sensing import actions, fiware
from towngrid.sensing.models import Alarm, DeadLetter, Device, Observation

from .conftest import T0

NOW = T0 + timedelta(hours=1)


def test_flood_monitoring_computes_the_level(make_device):
    pump = make_device("rain_pump_station")
    entity = {
        "id": f"urn:ngsi-ld:FloodMonitoring:{pump.code}", "type": "FloodMonitoring",
        "dateObserved": T0.isoformat(), "referenceLevel": 5.0, "measuredDistance": 1.6,
        "floodLevelStatus": "warning",
    }  # fmt: skip
    result = actions.ingest([entity, dict(entity)], transport="fiware", at=NOW)
    assert (result.stored, result.duplicates) == (1, 1)
    obs = Observation.objects.get()
    assert obs.values["water_level"] == 3.4 and obs.values["flood_status"] == "warning"
    assert Alarm.objects.get(device=pump).alarm_type == "water_level"


def test_device_entity_is_a_heartbeat_with_battery(make_device):
    gas = make_device("gas_detector")
    entity = {
        "id": f"urn:ngsi-ld:Device:{gas.code}", "type": "Device", "deviceState": "ok",
        "batteryLevel": 0.42, "dateLastValueReported": T0.isoformat(),
    }  # fmt: skip
    assert actions.ingest([entity], transport="fiware", at=NOW).stored == 1
    gas.refresh_from_db()
    assert gas.battery == 42 and gas.state == "online"


def test_alert_with_local_subcategory(make_device):
    cam = make_device("ai_camera")
    entity = {
        "id": "urn:ngsi-ld:Alert:a-1", "type": "Alert", "alertSource": f"urn:ngsi-ld:Device:{cam.code}",
        "category": "environment", "subCategory": "smallBagGarbage", "severity": "medium",
        "dateIssued": T0.isoformat(), "confidence": 0.88,
    }  # fmt: skip
    assert actions.ingest([entity], transport="fiware", at=NOW).stored == 1
    assert Observation.objects.get().values["event"] == "小包垃圾"
    assert Alarm.objects.get(device=cam).alarm_type == "ai_small_bag"


def test_water_quality_refdevice_and_unknown_type():
    entity = {"id": "urn:ngsi-ld:WaterQualityObserved:x", "type": "WaterQualityObserved",
              "refDevice": "urn:ngsi-ld:Device:WQ-7", "dateObserved": "2023-06-01T08:00:00Z",
              "pH": 7.0}  # fmt: skip
    compact, problems = fiware.to_compact(entity)
    assert not problems and compact["device"] == "WQ-7" and compact["values"] == {"ph": 7.0}
    _, problems = fiware.to_compact({"id": "urn:ngsi-ld:Alert:", "type": "Alert"})
    assert problems


def test_bad_fiware_entity_goes_to_dead_letters(make_device):
    cam = make_device("ai_camera")
    entity = {"id": "urn:ngsi-ld:Alert:a-2", "type": "Alert", "alertSource": cam.code,
              "dateIssued": T0.isoformat()}  # fmt: skip
    result = actions.ingest([entity], transport="fiware", at=NOW)
    assert result.rejected == 1
    assert DeadLetter.objects.get().reasons[0]["field"] == "subCategory"
    assert Device.objects.get(pk=cam.pk).state == "unknown"
