"""The ingest state cache (sensing/state.py): a process keeps each device's latest value, rule
states and active alarms between batches, and whatever anyone else changed meanwhile wins.

These tests commit (``transactional_db``): the cache is filled only when a batch commits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from towngrid.sensing import actions, state, store
from towngrid.sensing.models import Alarm, DeviceType, LatestValue, RuleState

from .conftest import T0, msg

pytestmark = pytest.mark.usefixtures("transactional_db")


def feed(device, minutes, values, at_minutes=None):
    at = T0 + timedelta(minutes=at_minutes if at_minutes is not None else minutes + 1)
    return actions.ingest([msg(device, minutes, values)], transport="http", at=at)


@pytest.fixture
def admin():
    from towngrid.accounts.models import User

    # A superuser: transactional tests lose the roles the migrations install.
    return User.objects.create_superuser("cache-admin", password=None)


def active(device, alarm_type):
    return Alarm.objects.filter(
        device=device, alarm_type=alarm_type, status__in=["active_unack", "active_ack"]
    ).first()


def test_a_committed_batch_leaves_its_state_for_the_next(make_device):
    gas = make_device("gas_detector")
    feed(gas, 0, {"lel": 60})
    assert len(state.cache) == 1
    entry = state.cache.take([gas.pk])[gas.pk]
    assert entry.version == LatestValue.objects.get(device=gas).version == 1
    assert entry.latest[1]["lel"] == 60
    assert set(entry.states) == {"lel_low", "lel_high"}
    assert set(entry.alarms) == {(gas.pk, "gas_leak")}
    state.cache.put({gas.pk: entry})
    # The next batch reads none of it back: it refreshes the alarm from what it kept.
    feed(gas, 1, {"lel": 61})
    alarm = active(gas, "gas_leak")
    assert alarm.count == 2 and alarm.details["value"] == 61
    assert LatestValue.objects.get(device=gas).version == 2


def test_an_acknowledgement_made_meanwhile_is_kept(make_device, admin):
    gas = make_device("gas_detector")
    feed(gas, 0, {"lel": 60})
    actions.acknowledge(active(gas, "gas_leak"), actor=admin, note="已通知燃气公司")
    # The cached alarm still says "unacknowledged"; its version check sends the batch back to
    # the database, and the refresh keeps the acknowledgement.
    result = feed(gas, 1, {"lel": 62})
    assert result.stored == 1
    alarm = active(gas, "gas_leak")
    assert alarm.status == "active_ack" and alarm.acknowledged_by == admin
    assert alarm.count == 2 and alarm.details["value"] == 62


def test_a_manual_clear_made_meanwhile_is_kept(make_device, admin):
    gas = make_device("gas_detector")
    feed(gas, 0, {"lel": 60})
    cleared = actions.clear(active(gas, "gas_leak"), actor=admin)
    # Still high: the rule is still active, so the next reading raises a new alarm rather than
    # reviving the cleared one.
    feed(gas, 1, {"lel": 61})
    cleared.refresh_from_db()
    assert cleared.status in ("cleared_ack", "cleared_unack")
    assert cleared.count == 1
    assert active(gas, "gas_leak").pk != cleared.pk


def test_another_process_writing_the_device_is_noticed(make_device):
    pump = make_device("rain_pump_station")
    feed(pump, 0, {"water_level": 3.2})
    assert active(pump, "water_level") is not None
    # Another process (the cache of this one knows nothing of it) brings the level down and
    # clears the alarm: its batch wrote the device's state.
    cached = state.cache.take([pump.pk])
    feed(pump, 1, {"water_level": 1.0})
    assert active(pump, "water_level") is None
    state.cache.clear()
    state.cache.put(cached)  # this process's stale view, as if it had not seen that batch
    # This process's next reading is above the warning level again: a new alarm, from the
    # state in the database (the stale one would have refreshed the cleared alarm).
    result = feed(pump, 2, {"water_level": 3.1})
    assert result.stored == 1 and result.alarms_raised == 1
    assert Alarm.objects.filter(device=pump, alarm_type="water_level").count() == 2
    assert LatestValue.objects.get(device=pump).values["water_level"] == 3.1
    assert RuleState.objects.get(device=pump, rule_code="level_warning").active


def test_the_heartbeat_sweep_is_noticed(make_device):
    gas = make_device("gas_detector")
    DeviceType.objects.filter(code="gas_detector").update(silence_minutes=30)
    actions.clear_caches()
    feed(gas, 0, {"lel": 1}, at_minutes=0)
    assert len(state.cache) == 1
    assert actions.check_silent_devices(T0 + timedelta(minutes=31))["offline"] == 1
    # The cached state has no offline alarm; the sweep's version bump makes the next batch read
    # it, and clear it because the device reports again.
    feed(gas, 45, {"lel": 1}, at_minutes=45)
    assert active(gas, "offline") is None
    gas.refresh_from_db()
    assert gas.state == "online"


def test_a_rolled_back_batch_leaves_nothing_in_the_cache(make_device):
    from django.db import transaction

    gas = make_device("gas_detector")
    with pytest.raises(RuntimeError), transaction.atomic():
        feed(gas, 0, {"lel": 60})
        raise RuntimeError("the caller's transaction fails")
    assert len(state.cache) == 0
    assert not LatestValue.objects.filter(device=gas).exists()
    feed(gas, 1, {"lel": 60})
    assert active(gas, "gas_leak").count == 1


def test_stale_twice_in_a_row_is_still_right(make_device, monkeypatch):
    """A batch that finds the state changed again on its retry tries once more."""
    gas = make_device("gas_detector")
    feed(gas, 0, {"lel": 60})
    real = store.write_latest
    calls = {"n": 0}

    def racing(rows):
        calls["n"] += 1
        if calls["n"] == 1:
            store.bump_versions([gas.pk])  # someone else wrote just before us
        return real(rows)

    monkeypatch.setattr(store, "write_latest", racing)
    result = feed(gas, 1, {"lel": 61})
    assert result.stored == 1 and calls["n"] == 2
    assert active(gas, "gas_leak").count == 2


def test_a_batch_redone_after_a_late_conflict_still_marks_the_device_online(
    make_device, monkeypatch
):
    """The cached device learns "online, seen now" only when the batch commits: a batch rolled
    back after writing it (here: an alarm changed by someone else, found at the alarm flush)
    writes it again when it is redone."""
    from towngrid.sensing import alarms
    from towngrid.sensing.models import Device

    gas = make_device("gas_detector")
    feed(gas, 0, {"lel": 60})
    Device.objects.filter(pk=gas.pk).update(state="offline")
    actions.clear_caches()
    real = alarms.write_alarms
    calls = {"n": 0}

    def conflicting(rows, base):
        calls["n"] += 1
        if calls["n"] == 1:
            raise store.StaleState("changed meanwhile")
        return real(rows, base)

    monkeypatch.setattr(alarms, "write_alarms", conflicting)
    result = feed(gas, 1, {"lel": 61})
    assert result.stored == 1 and calls["n"] >= 2
    gas.refresh_from_db()
    assert gas.state == "online"
    assert active(gas, "gas_leak").count == 2
