"""The sensing API: device-authenticated batch ingestion, devices, observations, alarms and their
actions, dead letters and replay; structured errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from towngrid.sensing import api as sensing_api
from towngrid.sensing.models import Alarm, DeadLetter, Observation

from .conftest import msg

INGEST = "/api/v1/sensing/ingest/"


def recent(device, minutes_ago: float, values: dict, **extra) -> dict:
    m = msg(device, 0, values, **extra)
    m["time"] = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    m["id"] = f"{device.code}-{minutes_ago}"
    return m


def post(client, device, body, secret=None, content_type="application/json"):
    return client.post(
        INGEST,
        data=body,
        content_type=content_type,
        HTTP_X_DEVICE_CODE=device.code,
        HTTP_X_DEVICE_SECRET=secret if secret is not None else device.secret,
    )


def test_ingest_json_array(client, make_device):
    gas = make_device("gas_detector")
    body = json.dumps(
        [recent(gas, 3, {"lel": 2}), recent(gas, 2, {"lel": 60}), recent(gas, 1, {"lel": 999})]
    )
    response = post(client, gas, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["stored"], data["rejected"], data["alarms_raised"]) == (2, 1, 1)
    assert data["rejections"][0]["reasons"][0]["field"] == "values.lel"
    again = post(client, gas, body).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)


def test_ingest_json_lines_and_fiware(client, make_device):
    wq = make_device("water_quality")
    lines = "\n".join(json.dumps(recent(wq, m, {"ph": 7})) for m in (5, 4))
    response = post(client, wq, lines, content_type="application/x-ndjson")
    assert response.json()["stored"] == 2
    entity = {
        "id": f"urn:ngsi-ld:WaterQualityObserved:{wq.code}",
        "type": "WaterQualityObserved",
        "dateObserved": timezone.now().isoformat(),
        "pH": 7.4, "O2": 5.5, "NH4": 0.8, "temperature": 21.5,
    }  # fmt: skip
    response = post(client, wq, json.dumps(entity))
    assert response.json()["stored"] == 1
    stored = Observation.objects.filter(device=wq).order_by("-observed_at").first()
    assert stored.values["do"] == 5.5 and stored.values["nh3n"] == 0.8
    assert stored.values["wq_class"] == 3


def test_ingest_authentication(client, make_device):
    gas = make_device("gas_detector")
    other = make_device("gas_detector")
    body = json.dumps(recent(gas, 1, {"lel": 1}))
    bad = post(client, gas, body, secret="wrong")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthorized"
    assert client.post(INGEST, data=body, content_type="application/json").status_code == 401
    # A device may only report for itself.
    response = post(client, other, body)
    assert response.json()["rejected"] == 1
    assert Observation.objects.count() == 0


def test_ingest_size_limit_and_empty(client, make_device, monkeypatch):
    gas = make_device("gas_detector")
    monkeypatch.setattr(sensing_api, "MAX_BODY_BYTES", 100)
    response = post(client, gas, json.dumps([recent(gas, i, {"lel": 1}) for i in range(5)]))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert post(client, gas, "  ").json()["error"]["code"] == "invalid"
    assert Observation.objects.count() == 0


def test_rotated_secret(client, make_device):
    from towngrid.sensing import actions

    gas = make_device("gas_detector")
    new = actions.rotate_secret(gas, actor=None)
    body = json.dumps(recent(gas, 1, {"lel": 1}))
    assert post(client, gas, body).status_code == 401
    assert post(client, gas, body, secret=new).status_code == 200


@pytest.fixture
def shift_lead(user_factory):
    return user_factory(role="ops_shift_lead")


def test_devices_and_observations(client, make_device, shift_lead, user_factory, micro):
    from towngrid.sensing import actions

    pump = make_device("rain_pump_station")
    t0 = timezone.now() - timedelta(hours=2)
    messages = [
        {"id": f"p{i}", "device": pump.code, "time": (t0 + timedelta(minutes=i)).isoformat(),
         "values": {"water_level": 1.0 + i / 100}}
        for i in range(60)
    ]  # fmt: skip
    actions.ingest(messages, transport="http")
    client.force_login(shift_lead)
    listed = client.get("/api/v1/sensing/devices/?type=rain_pump_station").json()
    assert [d["code"] for d in listed["results"]] == [pump.code]
    assert listed["results"][0]["latest"]["values"]["water_level"] == pytest.approx(1.59)
    series = client.get(
        f"/api/v1/sensing/devices/{pump.code}/observations/",
        {"metric": "water_level", "from": t0.isoformat(),
         "to": (t0 + timedelta(minutes=60)).isoformat(), "buckets": 6},
    ).json()  # fmt: skip
    points = series["metrics"]["water_level"]
    assert len(points) == 6
    assert (
        points[0]["n"] == 10 and points[0]["min"] == 1.0 and points[0]["max"] == pytest.approx(1.09)
    )
    assert points[0]["avg"] == pytest.approx(1.045)
    bad = client.get(f"/api/v1/sensing/devices/{pump.code}/observations/", {"buckets": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    # A grid worker elsewhere sees nothing of it.
    from towngrid.grids.models import GridNode, Kind, Level

    other = GridNode.objects.create(code="990000001101002", name="别处", level=Level.MICRO,
                                    kind=Kind.MICRO, parent=micro.parent)  # fmt: skip
    client.force_login(user_factory(role="grid_worker", scope=other))
    assert client.get("/api/v1/sensing/devices/").json()["results"] == []
    assert client.get(f"/api/v1/sensing/devices/{pump.code}/").status_code == 404


def test_alarm_ack_and_clear(client, make_device, shift_lead, user_factory):
    from towngrid.sensing import actions

    gas = make_device("gas_detector")
    actions.ingest([recent(gas, 1, {"lel": 70})], transport="http")
    alarm = Alarm.objects.get()
    client.force_login(user_factory(role="resident"))
    assert client.post(f"/api/v1/sensing/alarms/{alarm.pk}/ack/").status_code in (403, 404)
    client.force_login(shift_lead)
    listed = client.get("/api/v1/sensing/alarms/?active=1").json()["results"]
    assert [a["id"] for a in listed] == [alarm.pk]
    stale = client.post(f"/api/v1/sensing/alarms/{alarm.pk}/ack/", {"expected_version": 99},
                        content_type="application/json")  # fmt: skip
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    acked = client.post(f"/api/v1/sensing/alarms/{alarm.pk}/ack/", {"note": "收到"},
                        content_type="application/json")  # fmt: skip
    assert acked.json()["status"] == "active_ack"
    cleared = client.post(f"/api/v1/sensing/alarms/{alarm.pk}/clear/")
    assert cleared.json()["status"] == "cleared_ack"
    again = client.post(f"/api/v1/sensing/alarms/{alarm.pk}/clear/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_cleared"
    counts = client.get("/api/v1/sensing/alarm-counts/", {"grid": gas.grid_code[:12]}).json()
    assert counts["total"]["active"] == 0


def test_dead_letters_and_replay(client, make_device, user_factory, shift_lead):
    from towngrid.sensing import actions

    wq = make_device("water_quality")
    actions.ingest([json.dumps(recent(wq, 1, {"ph": 20}))], transport="http")
    dl = DeadLetter.objects.get()
    client.force_login(shift_lead)  # no sensing.configure
    assert client.get("/api/v1/sensing/dead-letters/").status_code == 403
    client.force_login(user_factory(role="sysadmin"))
    listed = client.get("/api/v1/sensing/dead-letters/").json()["results"]
    assert listed[0]["reasons"][0]["field"] == "values.ph"
    fixed = json.dumps(recent(wq, 1, {"ph": 7}))
    response = client.post(f"/api/v1/sensing/dead-letters/{dl.pk}/replay/", {"payload": fixed},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["result"]["stored"] == 1
    assert Observation.objects.filter(device=wq).count() == 1


def test_create_device_api(client, user_factory, sensing_catalogue, micro, monkeypatch):
    from towngrid.sensing import actions

    monkeypatch.setattr(actions, "_micro_grid", lambda lng, lat: micro)
    client.force_login(user_factory(role="sysadmin"))
    body = {
        "code": "GAS-9",
        "name": "九号报警器",
        "device_type": "gas_detector",
        "lng": 121.5,
        "lat": 31.2,
    }
    response = client.post("/api/v1/sensing/devices/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert actions.authenticate_device("GAS-9", secret) is not None
    dup = client.post("/api/v1/sensing/devices/", body, content_type="application/json")
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "invalid"
    client.force_login(user_factory(role="ops_shift_lead"))
    assert (
        client.post("/api/v1/sensing/devices/", body, content_type="application/json").status_code
        == 403
    )


def test_ingest_body_above_django_upload_limit(client, make_device, settings):
    gas = make_device("gas_detector")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps([recent(gas, i, {"lel": 1}) for i in range(30)])
    assert len(body) > 1000
    response = post(client, gas, body)
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 30
