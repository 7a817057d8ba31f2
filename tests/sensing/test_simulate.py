"""``towngrid simulate sensors``: the day's story (deterministic), the clocks, and the replay
through ``ingest`` (alarms and cases), the HTTP endpoint (a live server) and MQTT (the worker)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from towngrid.sensing import simulate
from towngrid.sensing.simulate import BEIJING, ListSink, SimDevice, plan_day, replay

from .test_mqtt_e2e import REPO, broker_url, subprocess_env, wait_for, world, world_template  # noqa: F401

DAY = date(2023, 6, 20)
DEVICES = [
    SimDevice("S-PS-1", "rain_pump_station"),
    SimDevice("S-PS-2", "rain_pump_station"),
    SimDevice("S-PS-3", "rain_pump_station", warning=2.5, danger=3.0),
    SimDevice("S-WQ-1", "water_quality", protocol="fiware"),
    SimDevice("S-WQ-2", "water_quality"),
    SimDevice("S-GS-1", "gas_detector"),
    SimDevice("S-GS-2", "gas_detector"),
    SimDevice("S-EL-1", "elevator_ebike"),
    SimDevice("S-CAM-1", "ai_camera", protocol="http"),
    SimDevice("S-CAM-2", "ai_camera", protocol="http"),
]


def messages(readings, day=DAY) -> list[dict]:
    sink = ListSink()
    replay(readings, day, sink, now=lambda: datetime(2030, 1, 1, tzinfo=BEIJING))
    return [m.body for m in sink.messages]


def series(readings, code: str, metric: str) -> list[tuple[float, object]]:
    return [(r.minute, r.values.get(metric)) for r in readings if r.device.code == code]


def test_the_day_is_deterministic():
    first = messages(plan_day(DEVICES, DAY, seed=7))
    assert first == messages(plan_day(DEVICES, DAY, seed=7))
    assert first != messages(plan_day(DEVICES, DAY, seed=8))
    assert first != messages(plan_day(DEVICES, date(2023, 6, 21), seed=7))
    ids = [m["id"] for m in first if "device" in m]
    assert len(ids) == len(set(ids))


def test_the_storm_raises_forebays_and_starts_pumps():
    readings = plan_day(DEVICES, DAY)
    for code, crosses in (("S-PS-1", True), ("S-PS-2", False), ("S-PS-3", False)):
        device = next(d for d in DEVICES if d.code == code)
        levels = series(readings, code, "water_level")
        pumps = dict(series(readings, code, "pumps_running"))
        assert len(levels) == 288  # every 5 minutes
        peak_minute, peak = max(levels, key=lambda p: p[1])
        assert 15 * 60 <= peak_minute <= 17 * 60  # behind the 15:30 rain peak
        morning = [v for m, v in levels if m < 13 * 60]
        assert max(morning) < device.warning - 1.4 and all(
            pumps[m] == 0 for m, _ in levels if m < 13 * 60
        )
        assert pumps[peak_minute] >= 2  # pumps run at the peak …
        assert pumps[23 * 60 + 55] == 0  # … and stop once the storm has drained
        above = [m for m, v in levels if v >= device.warning]
        if crosses:
            assert 30 <= len(above) * 5 <= 90  # warning crossed for under an hour or so
            assert peak < device.danger
            assert pumps[peak_minute] == 4
        else:
            assert above == [] and peak >= device.warning - 0.65
    rain = dict(series(readings, "S-PS-1", "rainfall"))
    assert rain[10 * 60] == 0 and rain[15 * 60 + 30] > 50 and rain[20 * 60] == 0


def test_one_river_section_drops_after_the_storm():
    from towngrid.sensing.water import surface_water_class

    readings = plan_day(DEVICES, DAY)
    worst = {}
    for code in ("S-WQ-1", "S-WQ-2"):
        rows = [r for r in readings if r.device.code == code]
        assert len(rows) == 96
        worst[code] = {
            "before": max(surface_water_class(r.values) for r in rows if r.minute < 17 * 60),
            "drop": max(
                surface_water_class(r.values) for r in rows if 18 * 60 <= r.minute < 20 * 60
            ),
            "min_do": min(r.values["do"] for r in rows),
        }
    assert worst["S-WQ-1"]["before"] <= 5 and worst["S-WQ-1"]["min_do"] > 3
    assert worst["S-WQ-2"]["drop"] == 6 and worst["S-WQ-2"]["min_do"] < 2  # 劣Ⅴ, black-odorous DO
    assert worst["S-WQ-2"]["before"] <= 5


def test_gas_leak_cameras_and_lifts():
    readings = plan_day(DEVICES, DAY)
    leak = [(m, v) for m, v in series(readings, "S-GS-1", "lel") if v >= 20]
    assert leak and 11 * 60 + 30 <= leak[0][0] <= 12 * 60 and max(v for _, v in leak) >= 50
    assert max(v for _, v in series(readings, "S-GS-2", "lel")) < 5
    beats = [r for r in readings if r.device.code == "S-CAM-1" and r.kind == "heartbeat"]
    assert len(beats) == 48
    out = messages(readings)
    kinds = {m["type"] for m in out if "type" in m}
    assert kinds == {"Device", "WaterQualityObserved"}  # heartbeats and the FIWARE station
    compact_wq = [m for m in out if m.get("device") == "S-WQ-2"]
    assert len(compact_wq) == 96 and "nh3n" in compact_wq[0]["values"]


def test_instant_holds_back_the_future_and_paced_waits():
    readings = plan_day(DEVICES[:1], DAY)
    noon = datetime(2023, 6, 20, 12, 0, tzinfo=BEIJING)
    sink = ListSink()
    result = replay(readings, DAY, sink, now=lambda: noon)
    assert result.sent == 145 and result.held_back == 143  # 00:00–12:00 inclusive

    clock = [0.0]
    sink = ListSink()
    result = replay(
        readings, DAY, sink, speed=600, start_minute=23 * 60,
        now=lambda: datetime(2030, 1, 1, tzinfo=BEIJING),
        sleep=lambda s: clock.__setitem__(0, clock[0] + s), monotonic=lambda: clock[0],
    )  # fmt: skip
    assert result.sent == 12  # 23:00–23:55
    assert 5.5 < clock[0] <= 6.0  # an hour of the day at 600× takes 6 s
    assert sink.messages[0].body["time"] == "2023-06-20T23:00:00+08:00"

    stamps = iter(
        datetime(2024, 1, 1, 8, 0, tzinfo=BEIJING) + timedelta(seconds=s) for s in range(10**6)
    )
    sink = ListSink()
    replay(readings, DAY, sink, speed=600, live=True, start_minute=23 * 60,
           now=lambda: next(stamps), sleep=lambda s: None)  # fmt: skip
    assert [m.body["time"][:10] for m in sink.messages] == ["2024-01-01"] * 12
    assert len({m.body["id"] for m in sink.messages}) == 12


# --- through the database -----------------------------------------------------------------------


def _sim_devices(demo_town, prefix="SIM-"):
    """One device of each kind in the gridworker's micro-grid of the demo town (so cases can
    be located), with codes that sort in the story's order."""
    from shapely.geometry import shape

    from towngrid.sensing import actions

    micro = demo_town.user("grid_worker").scope
    point = shape(micro.boundary).representative_point()
    made = {}
    for code, type_code, protocol in [
        (f"{prefix}PS-1", "rain_pump_station", "mqtt"),
        (f"{prefix}PS-2", "rain_pump_station", "mqtt"),
        (f"{prefix}WQ-1", "water_quality", "fiware"),
        (f"{prefix}WQ-2", "water_quality", "fiware"),
        (f"{prefix}GS-1", "gas_detector", "mqtt"),
        (f"{prefix}EL-1", "elevator_ebike", "mqtt"),
        (f"{prefix}CAM-1", "ai_camera", "http"),
    ]:
        device, secret = actions.create_device(
            actor=None, code=code, name=code, device_type=type_code, lng=point.x, lat=point.y,
            grid=micro, protocol=protocol,
        )  # fmt: skip
        made[code] = secret
    return made


@pytest.fixture
def sim_world(demo_town):
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.sensing import actions, catalogue, policies, rules

    install_catalogue()
    catalogue.install()
    actions.devices.invalidate()
    rules.cache.invalidate()
    policies.cache.invalidate()
    return _sim_devices(demo_town)


def test_replay_into_the_database_raises_the_days_alarms_and_cases(sim_world, capsys):
    from towngrid.sensing.models import Alarm, Observation

    args = ["simulate", "sensors", "--to", "db", "--date", "2023-06-20", "--devices", "SIM-"]
    call_command(*args, "--instant", "--no-progress")
    planned = len(plan_day(simulate.devices_from_db("SIM-"), DAY))
    stored = Observation.objects.filter(device__code__startswith="SIM-").count()
    assert stored == planned  # camera heartbeats (FIWARE Device entities) included
    summary = json.loads(capsys.readouterr().err.split("完成：")[1])
    assert summary["sent"] == planned and summary["rejected"] == 0

    alarms = {(a.device.code, a.alarm_type): a for a in Alarm.objects.select_related("device")}
    level = alarms[("SIM-PS-1", "water_level")]
    assert level.severity == "major"  # warning crossed, danger not
    assert level.status == "cleared_unack"  # the level fell back below 2.8 m
    assert ("SIM-PS-2", "water_level") not in alarms
    assert ("SIM-WQ-2", "do_low") in alarms or ("SIM-WQ-2", "black_odour") in alarms
    assert not [k for k in alarms if k[0] == "SIM-WQ-1" and k[1] != "heavy_rain"]
    gas = alarms[("SIM-GS-1", "gas_leak")]
    # Critical at the peak (which opened the case), eased as the gas thinned, then cleared.
    assert gas.status == "cleared_unack" and gas.case is not None
    assert gas.case.source == "sensor" and gas.case.category.name == "燃气泄漏"

    # Replaying the same day again stores nothing new: every message id is known.
    capsys.readouterr()
    call_command(*args, "--instant", "--no-progress")
    again = json.loads(capsys.readouterr().err.split("完成：")[1])
    assert again["stored"] == 0 and again["duplicates"] == planned
    assert Observation.objects.filter(device__code__startswith="SIM-").count() == stored


def test_bad_options_say_why(db):
    with pytest.raises(CommandError, match="日期格式无效"):
        call_command("simulate", "sensors", "--date", "20-06-2023", "--to", "db")
    with pytest.raises(CommandError, match="--live"):
        call_command("simulate", "sensors", "--live", "--to", "db")
    with pytest.raises(CommandError, match="没有可模拟的设备"):
        call_command("simulate", "sensors", "--to", "db", "--devices", "NONE-")


def test_replay_over_http_to_a_live_server(live_server, make_device, tmp_path, capsys):
    from towngrid.sensing.models import Observation

    secrets = {}
    for type_code in ("gas_detector", "water_quality"):
        device = make_device(type_code, code=f"HTTP-{type_code}")
        secrets[device.code] = device.secret
    (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    call_command(
        "simulate", "sensors", "--to", "http", "--url", live_server.url, "--devices", "HTTP-",
        "--date", "2023-06-20", "--start", "11:00", "--instant", "--no-progress",
        "--secrets", str(tmp_path / "secrets.json"),
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().err.split("完成：")[1])
    # 11:00–24:00: gas every 10 minutes plus the leak's extra readings, water every 15 minutes.
    assert summary["stored"] == summary["sent"] == Observation.objects.count() > 100
    # One request per device per minute of the day that had readings, like the devices.
    planned = [r for r in plan_day(simulate.devices_from_db("HTTP-"), DAY) if r.minute >= 11 * 60]
    assert summary["requests"] == len({(r.device.code, int(r.minute)) for r in planned})
    # A wrong secret is refused with the API's error, nothing is stored.
    (tmp_path / "secrets.json").write_text(json.dumps({c: "wrong" for c in secrets}))
    with pytest.raises(CommandError, match="401"):
        call_command(
            "simulate", "sensors", "--to", "http", "--url", live_server.url, "--devices", "HTTP-",
            "--date", "2023-06-21", "--instant", "--no-progress",
            "--secrets", str(tmp_path / "secrets.json"),
        )  # fmt: skip


def test_replay_into_mqtt_through_the_worker(world, tmp_path):  # noqa: F811
    """The whole demo path: simulate → Mosquitto → towngrid worker mqtt → the database."""
    worker = world.worker("--batch-ms", "100")
    worker.wait_subscribed()
    done = subprocess.run(
        [
            sys.executable, "-m", "towngrid", "simulate", "sensors", "--to", "mqtt",
            "--url", world.url, "--topic-prefix", world.prefix, "--devices", "E2E-",
            "--date", "2023-06-20", "--start", "13:00", "--instant", "--no-progress",
        ],
        cwd=REPO, env=subprocess_env(world.data_dir), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stderr.split("完成：")[1])["sent"]
    wait_for(
        lambda: world.scalar("SELECT count(*) FROM sensing_observation") >= sent,
        120,
        f"{sent} stored\n{worker.text()}",
    )
    assert worker.terminate() == 0
    assert world.scalar("SELECT count(*) FROM sensing_observation") == sent
    assert world.scalar("SELECT count(*) FROM sensing_deadletter") == 0
    crossed = world.query(
        "SELECT d.code, a.severity FROM sensing_alarm a JOIN sensing_device d "
        "ON d.id = a.device_id WHERE a.alarm_type = 'water_level'"
    )
    assert crossed == [("E2E-FLT-00", "major")]  # the first station by code, and only it
