"""Ingestion: storage, idempotency, out-of-order readings, latest values, batch forms."""

from __future__ import annotations

import json
from datetime import timedelta

from towngrid.sensing import actions
from towngrid.sensing.models import DeadLetter, Device, LatestValue, Observation

from .conftest import T0, msg

NOW = T0 + timedelta(hours=1)


def test_store_and_latest(make_device):
    wq = make_device("water_quality")
    result = actions.ingest(
        [msg(wq, 0, {"ph": 7.1, "do": 6.5}), msg(wq, 5, {"ph": 7.3, "nh3n": 0.4})],
        transport="http",
        at=NOW,
    )
    assert (result.stored, result.duplicates, result.rejected) == (2, 0, 0)
    assert Observation.objects.filter(device=wq).count() == 2
    latest = LatestValue.objects.get(device=wq)
    assert latest.observed_at == T0 + timedelta(minutes=5)
    assert latest.values["ph"] == 7.3 and latest.values["do"] == 6.5
    # Derived water metrics are stored with the reading.
    first = Observation.objects.get(device=wq, message_id=f"{wq.code}-0")
    assert first.values["wq_class"] == 2
    wq.refresh_from_db()
    assert wq.state == "online" and wq.last_seen_at == NOW


def test_redelivery_is_stored_once(make_device):
    wq = make_device("water_quality")
    m = msg(wq, 0, {"ph": 7.0})
    assert actions.ingest([m, m], transport="mqtt", at=NOW).as_dict()["duplicates"] == 1
    again = actions.ingest([json.dumps(m)], transport="mqtt", at=NOW)
    assert (again.stored, again.duplicates) == (0, 1)
    assert Observation.objects.count() == 1


def test_a_reused_message_id_at_another_time_is_a_new_reading(make_device):
    """Devices reuse their message ids (a counter reset by a reboot): only an exact copy, the
    same id at the same time, is a redelivery."""
    gas = make_device("gas_detector")
    actions.ingest([msg(gas, 0, {"lel": 1.0}, mid="seq-1")], transport="mqtt", at=NOW)
    again = actions.ingest(
        [msg(gas, 30, {"lel": 2.0}, mid="seq-1"), msg(gas, 0, {"lel": 1.0}, mid="seq-1")],
        transport="mqtt",
        at=NOW,
    )
    assert (again.stored, again.duplicates) == (1, 1)
    assert sorted(Observation.objects.filter(device=gas).values_list("values__lel", flat=True)) == [
        1.0,
        2.0,
    ]
    assert LatestValue.objects.get(device=gas).values["lel"] == 2.0


def test_out_of_order_is_accepted_by_its_own_time(make_device):
    wq = make_device("water_quality")
    actions.ingest([msg(wq, 10, {"ph": 7.5})], transport="http", at=NOW)
    late = actions.ingest([msg(wq, 2, {"ph": 6.8})], transport="http", at=NOW)
    assert late.stored == 1
    times = list(Observation.objects.filter(device=wq).values_list("observed_at", flat=True))
    assert sorted(times) == [T0 + timedelta(minutes=2), T0 + timedelta(minutes=10)]
    latest = LatestValue.objects.get(device=wq)
    assert latest.values["ph"] == 7.5  # the late reading does not move the latest value


def test_json_lines_and_array_forms(make_device):
    gas = make_device("gas_detector")
    lines = "\n".join(json.dumps(msg(gas, i, {"lel": 1.0 * i})) for i in range(3))
    array = json.dumps([msg(gas, 10 + i, {"lel": 2.0}) for i in range(2)]).encode()
    result = actions.ingest([lines, array], transport="http", at=NOW)
    assert result.stored == 5


def test_message_without_id_dedups_by_content(make_device):
    gas = make_device("gas_detector")
    m = {"device": gas.code, "time": T0.isoformat(), "values": {"lel": 3.0}}
    actions.ingest([m], transport="http", at=NOW)
    assert actions.ingest([dict(m)], transport="http", at=NOW).duplicates == 1


def test_topic_binds_the_device(make_device):
    a = make_device("gas_detector")
    b = make_device("gas_detector")
    result = actions.ingest(
        [
            json.dumps({"id": "x", "time": T0.isoformat(), "values": {"lel": 1}}),
            json.dumps(msg(b, 1, {"lel": 1})),
        ],
        transport="mqtt",
        topic=f"towngrid/devices/{a.code}/up",
        at=NOW,
    )
    assert (result.stored, result.rejected) == (1, 1)
    dl = DeadLetter.objects.get()
    assert dl.reasons[0]["field"] == "device"
    assert Observation.objects.get().device_id == a.pk


def test_battery_updates_device(make_device):
    gas = make_device("gas_detector")
    actions.ingest([msg(gas, 0, {"lel": 1}, battery=64)], transport="http", at=NOW)
    assert Device.objects.get(pk=gas.pk).battery == 64
