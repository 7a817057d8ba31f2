"""Rule semantics with known answers: duration, repetition, hysteresis, rate of change,
per-device overrides, severity escalation within one alarm type, silence."""

from __future__ import annotations

from datetime import timedelta

from towngrid.sensing import actions
from towngrid.sensing.models import Alarm, DeviceType, Rule

from .conftest import T0, msg

NOW = T0 + timedelta(days=1)


def feed(device, readings):
    """readings: [(minutes, {values})]"""
    return actions.ingest([msg(device, m, v) for m, v in readings], transport="http", at=NOW)


def active(device, alarm_type):
    return Alarm.objects.filter(
        device=device, alarm_type=alarm_type, status__in=["active_unack", "active_ack"]
    ).first()


def test_duration_condition_does_not_fire_on_a_short_spike(make_device):
    pump = make_device("rain_pump_station")
    # heavy_rain: rainfall ≥ 30 for at least 10 minutes.
    feed(pump, [(0, {"rainfall": 45}), (5, {"rainfall": 12}), (10, {"rainfall": 50})])
    assert active(pump, "heavy_rain") is None
    feed(pump, [(15, {"rainfall": 40})])  # held 5 minutes since the 10-minute reading
    assert active(pump, "heavy_rain") is None
    feed(pump, [(20, {"rainfall": 35})])  # now held 10 minutes
    alarm = active(pump, "heavy_rain")
    assert alarm is not None and alarm.started_at == T0 + timedelta(minutes=20)


def test_hysteresis_on_clearing(make_device):
    pump = make_device("rain_pump_station")
    # level_warning: ≥ 3.0, clears at ≤ 2.8.
    feed(pump, [(0, {"water_level": 3.1})])
    alarm = active(pump, "water_level")
    assert alarm.severity == "major"
    feed(pump, [(1, {"water_level": 2.9}), (2, {"water_level": 2.85})])  # inside the band
    assert active(pump, "water_level").pk == alarm.pk
    feed(pump, [(3, {"water_level": 3.05})])  # a repeat refreshes the same alarm
    alarm.refresh_from_db()
    assert alarm.count == 2 and alarm.status == "active_unack"
    feed(pump, [(4, {"water_level": 2.8})])  # at the clear threshold: cleared
    alarm.refresh_from_db()
    assert alarm.status == "cleared_unack"
    assert alarm.cleared_at == T0 + timedelta(minutes=4)
    assert active(pump, "water_level") is None


def test_escalation_and_one_alarm_per_type(make_device):
    pump = make_device("rain_pump_station")
    feed(pump, [(0, {"water_level": 3.1}), (1, {"water_level": 3.6})])
    alarms = Alarm.objects.filter(device=pump, alarm_type="water_level")
    assert alarms.count() == 1
    assert alarms.get().severity == "critical"
    # Danger clears at ≤ 3.3 but warning is still active: severity back to major.
    feed(pump, [(2, {"water_level": 3.2})])
    assert active(pump, "water_level") is not None
    feed(pump, [(3, {"water_level": 3.1})])
    assert active(pump, "water_level").severity == "major"


def test_repeat_count(make_device):
    wq = make_device("water_quality")
    # ph_low: pH < 6 two readings in a row.
    feed(wq, [(0, {"ph": 5.5}), (5, {"ph": 6.5}), (10, {"ph": 5.6})])
    assert active(wq, "ph") is None
    feed(wq, [(15, {"ph": 5.4})])
    assert active(wq, "ph") is not None


def test_rate_of_change(make_device):
    pump = make_device("rain_pump_station")
    # level_rising: > 0.05 m/min three times in a row.
    feed(pump, [(0, {"water_level": 1.0}), (1, {"water_level": 1.1}), (2, {"water_level": 1.2})])
    assert active(pump, "water_rising") is None
    feed(pump, [(3, {"water_level": 1.3})])
    assert active(pump, "water_rising") is not None


def test_per_device_override(make_device):
    a = make_device("rain_pump_station")
    b = make_device("rain_pump_station")
    Rule.objects.create(
        device_type=a.device_type,
        device=a,
        code="level_warning",
        name="前池水位超警戒（本站）",
        metric="water_level",
        operator="ge",
        threshold=4.0,
        clear_threshold=3.8,
        severity="major",
        alarm_type="water_level",
    )
    feed(a, [(0, {"water_level": 3.2})])
    feed(b, [(0, {"water_level": 3.2})])
    assert active(a, "water_level") is None
    assert active(b, "water_level") is not None


def test_inactive_override_switches_a_rule_off(make_device):
    a = make_device("gas_detector")
    Rule.objects.create(
        device_type=a.device_type,
        device=a,
        code="lel_low",
        name="off",
        metric="lel",
        operator="ge",
        threshold=20,
        severity="major",
        alarm_type="gas_leak",
        is_active=False,
    )
    feed(a, [(0, {"lel": 25})])
    assert active(a, "gas_leak") is None
    feed(a, [(1, {"lel": 55})])
    assert active(a, "gas_leak").severity == "critical"


def test_event_rule_is_not_cleared_by_a_quiet_reading(make_device):
    lift = make_device("elevator_ebike")
    feed(lift, [(0, {"ebike": True}), (1, {"ebike": False})])
    alarm = active(lift, "ebike_in_elevator")
    assert alarm is not None
    # auto_clear_minutes = 10: the sweep clears it once it has not repeated for that long.
    actions.check_silent_devices(T0 + timedelta(minutes=5))
    assert active(lift, "ebike_in_elevator") is not None
    result = actions.check_silent_devices(T0 + timedelta(minutes=11))
    assert result["expired"] == 1
    assert active(lift, "ebike_in_elevator") is None


def test_gas_flag_clears_when_false(make_device):
    gas = make_device("gas_detector")
    feed(gas, [(0, {"alarm": True})])
    assert active(gas, "gas_leak").severity == "critical"
    feed(gas, [(1, {"alarm": False})])
    assert active(gas, "gas_leak") is None


def test_silent_device_alarm_and_recovery(make_device):
    gas = make_device("gas_detector")
    DeviceType.objects.filter(code="gas_detector").update(silence_minutes=30)
    actions.ingest([msg(gas, 0, {"lel": 1})], transport="http", at=T0)
    assert actions.check_silent_devices(T0 + timedelta(minutes=20))["offline"] == 0
    assert actions.check_silent_devices(T0 + timedelta(minutes=31))["offline"] == 1
    gas.refresh_from_db()
    assert gas.state == "offline"
    offline = active(gas, "offline")
    assert offline.severity == "major"
    # Running the sweep again does not raise a second alarm.
    actions.check_silent_devices(T0 + timedelta(minutes=40))
    assert Alarm.objects.filter(device=gas, alarm_type="offline").count() == 1
    # The device reports again: online, offline alarm cleared.
    actions.ingest([msg(gas, 45, {"lel": 1})], transport="http", at=T0 + timedelta(minutes=45))
    gas.refresh_from_db()
    assert gas.state == "online"
    assert active(gas, "offline") is None


def test_acknowledge_and_manual_clear(make_device, user_factory):
    from towngrid.sensing.errors import SensingError

    gas = make_device("gas_detector")
    feed(gas, [(0, {"lel": 60})])
    alarm = active(gas, "gas_leak")
    leader = user_factory(role="ops_shift_lead")
    alarm = actions.acknowledge(alarm, actor=leader, note="已通知燃气公司")
    assert alarm.status == "active_ack" and alarm.acknowledged_by == leader
    alarm = actions.clear(alarm, actor=leader)
    assert alarm.status == "cleared_ack"
    try:
        actions.clear(alarm, actor=leader)
    except SensingError as exc:
        assert exc.code == "already_cleared"
    else:
        raise AssertionError("a cleared alarm cannot be cleared again")
    resident = user_factory(role="resident")
    feed(gas, [(1, {"lel": 70})])  # condition persists → a new alarm
    fresh = active(gas, "gas_leak")
    assert fresh.pk != alarm.pk
    try:
        actions.acknowledge(fresh, actor=resident)
    except SensingError as exc:
        assert exc.code == "forbidden"
    else:
        raise AssertionError("a resident cannot acknowledge")


def test_per_device_silence_setting(make_device):
    quick = make_device("gas_detector", settings={"silence_minutes": 5})
    slow = make_device("gas_detector")
    actions.ingest([msg(quick, 0, {"lel": 1}), msg(slow, 0, {"lel": 1})], transport="http", at=T0)
    assert actions.check_silent_devices(T0 + timedelta(minutes=6))["offline"] == 1
    quick.refresh_from_db()
    slow.refresh_from_db()
    assert (quick.state, slow.state) == ("offline", "online")
