"""The MQTT worker killed with SIGKILL in the middle of a stream of 10,000 QoS 1 messages, twice,
and restarted with the same client id: afterwards every message is stored exactly once.

Why it holds (docs/sensing-worker.md): the worker acknowledges a message only after the batch
holding it has committed, so what a kill interrupts is delivered again to the restarted session,
and ``ingest`` stores each (device, message id) once.

The publisher keeps at most ``MAX_AHEAD`` messages published but not yet stored, like devices
that wait for their gateway: Mosquitto's default ``max_queued_messages`` (1000) drops QoS 1
messages beyond that for a client that is offline, which would be the broker losing them, not
the worker.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .test_mqtt_e2e import broker_url, publisher, wait_for, world, world_template  # noqa: F401

TOTAL = 10_000
DEVICES = [f"E2E-FLT-{i:02d}" for i in range(10)]
MAX_AHEAD = 800
KILL_AT = (2_500, 6_000)  # stored counts at which the worker is killed
T0 = datetime(2023, 6, 20, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def message(i: int, tag: str) -> tuple[str, dict]:
    """Message i: devices in turn, one reading a minute each; the forebay level swings through
    the warning and danger levels so rules and alarms work along the way."""
    device = DEVICES[i % len(DEVICES)]
    n = i // len(DEVICES)
    level = round(2.4 + 1.3 * ((n % 120) / 60 - 1) ** 2, 3)  # 2.4 … 3.7 m and back
    return device, {
        "id": f"{tag}-{i}",
        "device": device,
        "time": (T0 + timedelta(minutes=n)).isoformat(),
        "values": {"water_level": level, "pumps_running": int(level > 2.8) + int(level > 3.2)},
    }


def stored(w) -> int:
    return w.scalar("SELECT count(*) FROM sensing_observation")


def test_sigkill_mid_stream_stores_every_message_exactly_once(world, publisher):  # noqa: F811
    worker = world.worker("--batch-size", "200", "--batch-ms", "50")
    worker.wait_subscribed()
    client = publisher.client
    errors: list[BaseException] = []
    published = [0]

    def publish_all() -> None:
        try:
            pending = []
            allowed = MAX_AHEAD  # how far we may publish before looking at the store again
            for i in range(TOTAL):
                while i >= allowed:
                    allowed = stored(world) + MAX_AHEAD
                    if i >= allowed:
                        time.sleep(0.05)
                device, body = message(i, world.tag)
                pending.append(client.publish(world.topic(device), json.dumps(body), qos=1))
                published[0] = i + 1
            for info in pending:
                info.wait_for_publish(30)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=publish_all, daemon=True)
    thread.start()
    kills = []
    for target in KILL_AT:
        wait_for(lambda t=target: stored(world) >= t, 120, f"{target} stored\n{worker.text()}")
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(10)
        kills.append((stored(world), published[0]))
        worker = world.worker("--batch-size", "200", "--batch-ms", "50")
    thread.join(180)
    assert not thread.is_alive(), "the publisher did not finish"
    assert not errors, errors
    wait_for(lambda: stored(world) >= TOTAL, 120, f"all {TOTAL} stored\n{worker.text()}")
    # Anything still to come would be a duplicate: give a redelivery the chance to show up.
    time.sleep(1.0)
    assert worker.terminate() == 0

    # Mid-stream: each kill happened with messages published but not yet stored.
    assert all(
        stored_then < TOTAL and published_then < TOTAL for stored_then, published_then in kills
    ), kills
    assert stored(world) == TOTAL
    ids = world.query("SELECT message_id FROM sensing_observation")
    assert len({m for (m,) in ids}) == TOTAL
    assert {m for (m,) in ids} == {f"{world.tag}-{i}" for i in range(TOTAL)}
    per_device = dict(
        world.query(
            "SELECT d.code, count(*) FROM sensing_observation o JOIN sensing_device d "
            "ON d.id = o.device_id GROUP BY d.code"
        )
    )
    assert per_device == {code: TOTAL // len(DEVICES) for code in DEVICES}
    assert world.scalar("SELECT count(*) FROM sensing_deadletter") == 0
    # The rules ran over the stream exactly once per reading too: the latest value is each
    # device's last reading, and at most one alarm per device and type is active.
    latest = world.query(
        'SELECT d.code, l."values" FROM sensing_latestvalue l JOIN sensing_device d '
        "ON d.id = l.device_id WHERE d.code LIKE 'E2E-FLT-%'"
    )
    for code, values in latest:
        last = TOTAL - len(DEVICES) + DEVICES.index(code)
        assert json.loads(values) == message(last, world.tag)[1]["values"]
    assert world.scalar("SELECT count(*) FROM sensing_alarm WHERE alarm_type = 'water_level'") > 0
    active = world.scalar(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM sensing_alarm "
        "WHERE status IN ('active_unack', 'active_ack') GROUP BY device_id, alarm_type)"
    )
    assert active <= 1
