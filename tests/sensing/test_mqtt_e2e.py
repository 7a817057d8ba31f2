"""End to end against the real Mosquitto broker on this machine: publish → stored → rule → alarm
→ case, through ``towngrid worker mqtt`` running as a subprocess.

Each test gets its own copy of a prepared data directory (SQLite, migrated, the demo town's grid
and logins, the case catalogue, the sensing catalogue and a few devices; always SQLite, even when
the suite runs on PostgreSQL: the worker is another process and cannot see the test's
transaction), its own topic prefix and client id, so parallel runs never share a topic or a
session. Skipped only when the broker is unreachable and CI is unset.

The helpers here (``world``, ``Worker``, ``publisher`` …) are shared with test_mqtt_fault.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKER_URL = os.environ.get("TOWNGRID_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
DB_FILE = "towngrid.sqlite3"

# The devices the prepared world holds: code → (type, protocol).
DEVICES = {
    "E2E-GAS-01": ("gas_detector", "mqtt"),
    "E2E-PUMP-01": ("rain_pump_station", "mqtt"),
    "E2E-WQ-01": ("water_quality", "fiware"),
    "E2E-CAM-01": ("ai_camera", "mqtt"),
    **{f"E2E-FLT-{i:02d}": ("rain_pump_station", "mqtt") for i in range(10)},
}

SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from shapely.geometry import shape
from towngrid.cases.catalogue import install_catalogue
from towngrid.demo.build import build_demo_town
from towngrid.sensing import actions, catalogue
build_demo_town(progress=False)
install_catalogue()
catalogue.install()
from towngrid.accounts.models import User
micro = User.objects.get(username="gridworker").scope
point = shape(micro.boundary).representative_point()
devices = json.loads(sys.argv[1])
for code, (type_code, protocol) in devices.items():
    actions.create_device(actor=None, code=code, name=code, device_type=type_code,
                          lng=point.x, lat=point.y, grid=micro, protocol=protocol)
print(json.dumps({"grid_code": micro.code, "lng": point.x, "lat": point.y}))
"""


def broker_reachable(url: str = BROKER_URL) -> bool:
    from towngrid.sensing.mqtt import parse_broker_url

    broker = parse_broker_url(url)
    try:
        with socket.create_connection((broker.host, broker.port), timeout=2):
            return True
    except OSError:
        return False


def subprocess_env(data_dir: Path) -> dict:
    """Always the embedded SQLite in ``data_dir``, never production mode."""
    drop = {"DATABASE_URL", "TOWNGRID_PRODUCTION", "TOWNGRID_SECRET_KEY", "MQTT_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["TOWNGRID_DATA_DIR"] = str(data_dir)
    env["DJANGO_SETTINGS_MODULE"] = "towngrid.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def broker_url() -> str:
    if not broker_reachable(BROKER_URL):
        message = f"no MQTT broker at {BROKER_URL} (mosquitto -d -c /etc/mosquitto/mosquitto.conf)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return BROKER_URL


# One prepared data directory per test session, shared by the modules that import the fixture
# (each importing module would otherwise build its own).
_TEMPLATE: dict[str, tuple[Path, dict]] = {}


@pytest.fixture(scope="session")
def world_template(broker_url, tmp_path_factory) -> tuple[Path, dict]:
    if "world" in _TEMPLATE:
        return _TEMPLATE["world"]
    data_dir = tmp_path_factory.mktemp("mqtt-world")
    done = subprocess.run(
        [sys.executable, "-c", SETUP, json.dumps(DEVICES)],
        cwd=REPO,
        env=subprocess_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    _TEMPLATE["world"] = (data_dir, info)
    return data_dir, info


@dataclass
class World:
    data_dir: Path
    url: str
    tag: str
    prefix: str
    client_id: str
    grid_code: str
    workers: list = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        con = sqlite3.connect(self.db_path, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def scalar(self, sql: str, params: tuple = ()):
        return self.query(sql, params)[0][0]

    def topic(self, device_code: str) -> str:
        return f"{self.prefix}/devices/{device_code}/up"

    def fiware_topic(self, entity_type: str) -> str:
        return f"{self.prefix}/fiware/{entity_type}"

    def worker(self, *extra: str) -> Worker:
        w = Worker(self, list(extra))
        self.workers.append(w)
        return w


@pytest.fixture
def world(world_template, tmp_path) -> World:
    template, info = world_template
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    tag = uuid.uuid4().hex[:10]
    w = World(
        data_dir=data_dir,
        url=BROKER_URL,
        tag=tag,
        prefix=f"towngrid-test-{tag}",
        client_id=f"towngrid-test-{tag}",
        grid_code=info["grid_code"],
    )
    yield w
    for worker in w.workers:
        worker.kill()
    from towngrid.sensing.mqtt import forget_session

    forget_session(BROKER_URL, w.client_id)


class Worker:
    """``towngrid worker mqtt`` in a subprocess, its output in a log file."""

    def __init__(self, world: World, extra: list[str]) -> None:
        self.world = world
        self.log_path = world.data_dir / f"worker-{len(world.workers)}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "towngrid",
                "worker",
                "mqtt",
                "--url",
                world.url,
                "--client-id",
                world.client_id,
                "--topic-prefix",
                world.prefix,
                "--report-every",
                "1",
                # The readings are from 2023: the heartbeat sweep would expire their event alarms.
                "--sweep-every",
                "0",
                *extra,
            ],
            cwd=REPO,
            env=subprocess_env(world.data_dir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log_path.read_text()

    def wait_subscribed(self, timeout: float = 60) -> None:
        wait_for(lambda: "已订阅" in self.text(), timeout, f"worker subscribed\n{self.text()}")

    def wait_for_log(self, needle: str, timeout: float = 30, start: int = 0) -> None:
        wait_for(lambda: needle in self.text()[start:], timeout, f"{needle!r}\n{self.text()}")

    def terminate(self, timeout: float = 30) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self.log.closed:
            self.log.close()

    def final_stats(self) -> dict:
        for line in reversed(self.text().splitlines()):
            if "已停止：" in line:
                return json.loads(line.split("已停止：", 1)[1])
        raise AssertionError(f"no final stats in the worker's log:\n{self.text()}")


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def publisher(world):
    """A paho MQTT 5 client connected to the broker; ``publish(topic, obj)`` sends QoS 1 and
    waits for the broker's PUBACK."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{world.tag}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    from towngrid.sensing.mqtt import parse_broker_url

    broker = parse_broker_url(world.url)
    client.connect(broker.host, broker.port)
    client.loop_start()

    def publish(topic: str, payload, qos: int = 1, wait: bool = True):
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        info = client.publish(topic, data, qos=qos)
        if wait:
            info.wait_for_publish(10)
        return info

    publish.client = client
    yield publish
    client.disconnect()
    client.loop_stop()


def compact(device: str, mid: str, time_text: str, values: dict) -> dict:
    return {"id": mid, "device": device, "time": time_text, "values": values}


# --- the tests ---------------------------------------------------------------------------------


def test_publish_stored_rule_alarm_case(world, publisher):
    worker = world.worker("--batch-ms", "50")
    worker.wait_subscribed()
    gas = "E2E-GAS-01"
    publisher(world.topic(gas), compact(gas, "g-1", "2023-06-20T11:40:00+08:00", {"lel": 2.0}))
    publisher(
        world.topic(gas),
        [
            compact(gas, "g-2", "2023-06-20T11:41:00+08:00", {"lel": 26.0}),
            compact(gas, "g-3", "2023-06-20T11:42:00+08:00", {"lel": 61.5, "alarm": True}),
        ],
    )
    alarm = wait_for(
        lambda: world.query(
            "SELECT a.id, a.severity, a.status, a.case_id, a.grid_code FROM sensing_alarm a "
            "JOIN sensing_device d ON d.id = a.device_id "
            "WHERE d.code = ? AND a.alarm_type = 'gas_leak' AND a.case_id IS NOT NULL",
            (gas,),
        ),
        30,
        "a gas alarm with a case",
    )[0]
    _, severity, status, case_id, grid_code = alarm
    assert (severity, status, grid_code) == ("critical", "active_unack", world.grid_code)
    stored = world.query(
        "SELECT o.message_id FROM sensing_observation o JOIN sensing_device d "
        "ON d.id = o.device_id WHERE d.code = ? ORDER BY o.observed_at",
        (gas,),
    )
    assert [r[0] for r in stored] == ["g-1", "g-2", "g-3"]
    source, case_grid, category = world.query(
        "SELECT c.source, c.grid_code, k.name FROM cases_case c "
        "JOIN cases_category k ON k.id = c.category_id WHERE c.id = ?",
        (case_id,),
    )[0]
    assert (source, category) == ("sensor", "燃气泄漏")
    assert case_grid.startswith(world.grid_code)  # the micro-grid or a 楼组 inside it
    assert world.scalar("SELECT count(*) FROM sensing_alarm WHERE alarm_type = 'gas_leak'") == 1

    # The same message again (a redelivery, or a device resending): stored once.
    publisher(
        world.topic(gas),
        compact(gas, "g-3", "2023-06-20T11:42:00+08:00", {"lel": 61.5, "alarm": True}),
    )
    # FIWARE keyValues on the fiware topic, with the water-quality class derived on ingestion.
    publisher(
        world.fiware_topic("WaterQualityObserved"),
        {
            "id": "urn:ngsi-ld:WaterQualityObserved:E2E-WQ-01",
            "type": "WaterQualityObserved",
            "dateObserved": "2023-06-20T12:00:00+08:00",
            "O2": 1.5,
            "NH4": 2.6,
            "pH": 7.1,
        },
    )
    # Garbage on a device topic: a dead letter that names the topic, the stream goes on.
    publisher(world.topic(gas), b"{not json")
    publisher(world.topic(gas), compact(gas, "g-4", "2023-06-20T11:43:00+08:00", {"lel": 3.0}))

    # Within a batch the worker stores device-topic messages before FIWARE ones (one ingest
    # call for the former, one per topic for the latter), so wait for all of them.
    wait_for(
        lambda: (
            world.scalar("SELECT count(*) FROM sensing_observation") == 5
            and world.scalar("SELECT count(*) FROM sensing_deadletter") == 1
        ),
        30,
        "g-4, the water-quality entity and the dead letter",
    )
    wq = world.query(
        'SELECT o."values" FROM sensing_observation o JOIN sensing_device d '
        "ON d.id = o.device_id WHERE d.code = 'E2E-WQ-01'"
    )
    assert len(wq) == 1
    values = json.loads(wq[0][0])
    assert values["do"] == 1.5 and values["wq_class"] == 6
    dead = world.query("SELECT transport, topic, reasons FROM sensing_deadletter")
    assert len(dead) == 1
    assert dead[0][:2] == ("mqtt", f"towngrid/devices/{gas}/up")
    assert "JSON" in dead[0][2]

    assert worker.terminate() == 0  # SIGTERM: commit what arrived, acknowledge, leave
    stats = worker.final_stats()
    assert stats["duplicates"] == 1
    assert stats["rejected"] == 1
    assert stats["stored"] == 5  # g-1, g-2, g-3, the water-quality entity, g-4
    assert world.scalar("SELECT count(*) FROM sensing_observation") == 5


def test_messages_published_while_the_worker_is_down_wait_for_it(world, publisher):
    """The persistent session: after a clean stop the broker keeps queueing for the client id."""
    worker = world.worker()
    worker.wait_subscribed()
    assert worker.terminate() == 0
    pump = "E2E-PUMP-01"
    for i in range(50):
        publisher(
            world.topic(pump),
            compact(pump, f"p-{i}", f"2023-06-20T10:{i:02d}:00+08:00", {"water_level": 1.2}),
        )
    again = world.worker()
    wait_for(
        lambda: world.scalar("SELECT count(*) FROM sensing_observation") == 50,
        30,
        f"50 queued messages\n{again.text()}",
    )
    assert again.terminate() == 0
    assert "恢复会话" in again.text()
