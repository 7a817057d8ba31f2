"""Bad payloads of every kind land in the dead-letter table with reasons; nothing else is
affected; an admin can replay them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from towngrid.sensing import actions
from towngrid.sensing.models import Alarm, DeadLetter, LatestValue, Observation

from .conftest import T0, msg

NOW = T0 + timedelta(hours=1)


def bad_payloads(wq, cam, other):
    good_time = T0.isoformat()
    return [
        ("not json", "{oops", ""),
        ("not an object", json.dumps("text"), ""),
        ("empty", "   ", ""),
        ("no device", json.dumps({"time": good_time, "values": {"ph": 7}}), "device"),
        ("unknown device", json.dumps(msg(wq, 0, {"ph": 7}) | {"device": "NOPE"}), "device"),
        ("no time", json.dumps({"device": wq.code, "values": {"ph": 7}}), "time"),
        ("bad time", json.dumps(msg(wq, 0, {"ph": 7}) | {"time": "yesterday"}), "time"),
        ("future", json.dumps(msg(wq, 60 * 24 * 30, {"ph": 7})), "time"),
        ("no values", json.dumps(msg(wq, 0, {})), "values"),
        ("unknown metric", json.dumps(msg(wq, 0, {"lel": 3})), "values.lel"),
        ("out of range", json.dumps(msg(wq, 0, {"ph": 15})), "values.ph"),
        ("wrong kind", json.dumps(msg(wq, 0, {"ph": "seven"})), "values.ph"),
        ("nan", json.dumps(msg(wq, 0, {"ph": 1})).replace("1}", "NaN}"),
         "values.ph"),
        ("derived", json.dumps(msg(wq, 0, {"wq_class": 1})), "values.wq_class"),
        ("bad choice", json.dumps(msg(cam, 0, {"event": "飞碟"})), "values.event"),
        ("bad snapshot", json.dumps(msg(cam, 0, {"event": "小包垃圾", "snapshot": "!!"})),
         "values.snapshot"),
        ("bad battery", json.dumps(msg(wq, 0, {"ph": 7}, battery=140)), "battery"),
        ("extra field", json.dumps(msg(wq, 0, {"ph": 7}, colour="red")), "colour"),
        ("bad id", json.dumps(msg(wq, 0, {"ph": 7}) | {"id": True}), "id"),
        ("inactive", json.dumps(msg(other, 0, {"lel": 1})), "device"),
        ("fiware type", json.dumps({"id": "urn:ngsi-ld:Parking:1", "type": "Parking"}), "type"),
        ("fiware no date", json.dumps({"id": f"urn:ngsi-ld:WaterQualityObserved:{wq.code}",
                                       "type": "WaterQualityObserved", "pH": 7}), "dateObserved"),
    ]  # fmt: skip


def test_every_kind_of_bad_payload_is_dead_lettered(make_device):
    wq = make_device("water_quality")
    cam = make_device("ai_camera")
    other = make_device("gas_detector")
    actions.set_device_active(other, actor=None, active=False)
    actions.ingest([msg(wq, -5, {"ph": 7.2})], transport="http", at=NOW)
    before = (Observation.objects.count(), dict(LatestValue.objects.get(device=wq).values))
    cases = bad_payloads(wq, cam, other)
    good = json.dumps(msg(wq, 1, {"ph": 7.4}))
    result = actions.ingest([p for _, p, _ in cases] + [good], transport="http", at=NOW)
    assert result.stored == 1
    assert result.rejected == len(cases)
    letters = {dl.pk: dl for dl in DeadLetter.objects.all()}
    assert sorted(letters) == sorted(result.dead_letters)
    by_payload = {dl.payload: dl for dl in letters.values()}
    for label, payload, field in cases:
        dl = by_payload[payload]
        assert dl.reasons, label
        assert all(r["message"] for r in dl.reasons), label
        if field:
            assert field in [r["field"] for r in dl.reasons], (label, dl.reasons)
    # Only the good reading was added; nothing else changed.
    assert Observation.objects.count() == before[0] + 1
    assert not Alarm.objects.exists()


def test_json_lines_with_one_bad_line(make_device):
    gas = make_device("gas_detector")
    body = "\n".join(
        [json.dumps(msg(gas, 0, {"lel": 1})), "{bad", json.dumps(msg(gas, 1, {"lel": 2}))]
    )
    result = actions.ingest([body.encode()], transport="http", at=NOW)
    assert (result.stored, result.rejected) == (2, 1)
    assert DeadLetter.objects.get().payload == "{bad"


def test_replay_after_registering_the_device(make_device):
    gas = make_device("gas_detector")
    payload = json.dumps({"id": "late-1", "device": "GAS-NEW", "time": T0.isoformat(),
                          "values": {"lel": 2}})  # fmt: skip
    actions.ingest([payload], transport="mqtt", topic="towngrid/devices/GAS-NEW/up", at=NOW)
    dl = DeadLetter.objects.get()
    assert dl.device_code == "GAS-NEW"
    # Still unknown: the replay fails, the dead letter keeps its reasons, no new one appears.
    result = actions.replay_dead_letter(dl, actor=None, at=NOW)
    assert result.stored == 0 and DeadLetter.objects.count() == 1
    dl.refresh_from_db()
    assert dl.replay_result["rejected"] == 1
    actions.create_device(actor=None, code="GAS-NEW", name="新报警器", device_type="gas_detector",
                          lng=121.5, lat=31.2, grid=gas.grid)  # fmt: skip
    result = actions.replay_dead_letter(dl, actor=None, at=NOW)
    assert result.stored == 1
    dl.refresh_from_db()
    assert dl.replayed_at is not None and dl.replay_result["stored"] == 1
    from towngrid.sensing.errors import SensingError

    with pytest.raises(SensingError):
        actions.replay_dead_letter(dl, actor=None, at=NOW)


def test_replay_with_corrected_payload(make_device):
    wq = make_device("water_quality")
    actions.ingest([json.dumps(msg(wq, 0, {"ph": 17}))], transport="http", at=NOW)
    dl = DeadLetter.objects.get()
    fixed = json.dumps(msg(wq, 0, {"ph": 7}))
    assert actions.replay_dead_letter(dl, actor=None, payload=fixed, at=NOW).stored == 1
    dl.refresh_from_db()
    assert dl.payload == fixed
