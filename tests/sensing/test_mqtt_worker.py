"""The MQTT worker's own logic without a broker: URL parsing, topics, batching, and above all
that a message is acknowledged only after the batch holding it was stored, and only on the
connection it arrived on."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from towngrid.sensing import mqtt
from towngrid.sensing.mqtt import Broker, BrokerUrlError, MqttWorker, Received, parse_broker_url


class FakeClient:
    def __init__(self) -> None:
        self.acks: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append((mid, qos))


class Result:
    def __init__(self, stored: int = 0, duplicates: int = 0, rejected: int = 0) -> None:
        self.stored, self.duplicates, self.rejected = stored, duplicates, rejected


def make_worker(ingest, **kwargs) -> MqttWorker:
    worker = MqttWorker(
        url="mqtt://127.0.0.1:1", client_id="unit", ingest=ingest, say=lambda s: None, **kwargs
    )
    worker._client = FakeClient()
    worker._connection, worker._connected = 1, True
    # No database here (the ingest is fake): connection housekeeping is the e2e tests' part.
    worker._db_ready = worker._close_db = lambda: None
    return worker


def received(mid: int, topic: str, body, connection: int = 1, dup: bool = False) -> Received:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Received(connection=connection, mid=mid, qos=1, topic=topic, payload=payload, dup=dup)


def reading(device: str, mid: str) -> dict:
    return {"id": mid, "device": device, "time": "2023-06-20T08:00:00+08:00", "values": {"x": 1}}


@pytest.mark.parametrize(
    "url, broker",
    [
        ("mqtt://127.0.0.1:1883", Broker("127.0.0.1", 1883)),
        ("mqtt://broker", Broker("broker", 1883)),
        (
            "mqtts://u%40x:p%3Aw@broker.example:8884",
            Broker("broker.example", 8884, True, "u@x", "p:w"),
        ),
        ("tcp://10.0.0.1", Broker("10.0.0.1", 1883)),
    ],
)
def test_parse_broker_url(url, broker):
    assert parse_broker_url(url) == broker


@pytest.mark.parametrize("url", ["", "   ", "http://x:1883", "mqtt://", "mqtt://host:99999"])
def test_bad_broker_urls_say_why_in_chinese(url):
    with pytest.raises(BrokerUrlError) as exc:
        parse_broker_url(url)
    assert "MQTT" in str(exc.value)


def test_topics_and_prefix():
    assert mqtt.subscriptions() == ["towngrid/devices/+/up", "towngrid/fiware/+"]
    assert mqtt.subscriptions("site-a/") == ["site-a/devices/+/up", "site-a/fiware/+"]
    assert mqtt.canonical_topic("site-a/devices/P1/up", "site-a") == "towngrid/devices/P1/up"
    assert mqtt.canonical_topic("towngrid/devices/P1/up") == "towngrid/devices/P1/up"
    assert mqtt.device_topic("P1", "t") == "t/devices/P1/up"


def test_acknowledges_only_after_the_batch_is_stored():
    calls = []

    def ingest(items, *, transport, topic):
        # Nothing of this batch is acknowledged while it is being stored.
        assert worker._client.acks == []
        calls.append((topic, items))
        return Result(stored=len(items))

    worker = make_worker(ingest)
    batch = [
        received(1, "towngrid/devices/A/up", reading("A", "a1")),
        received(2, "towngrid/devices/B/up", [reading("B", "b1"), reading("B", "b2")]),
        received(3, "towngrid/fiware/WaterQualityObserved", {"id": "urn:ngsi-ld:X:1"}),
        received(4, "towngrid/devices/A/up", b"{broken"),
        received(5, "towngrid/devices/A/up", reading("B", "wrong device")),
    ]
    worker._commit(batch)
    # One call for the well-formed compact messages of every device …
    assert calls[0] == ("", [reading("A", "a1"), reading("B", "b1"), reading("B", "b2")])
    # … and one per topic for the rest, so their dead letters name the topic.
    assert calls[1][0] == "towngrid/fiware/WaterQualityObserved"
    assert calls[2] == ("towngrid/devices/A/up", [b"{broken", batch[4].payload])
    assert worker._client.acks == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]
    assert worker.stats.received == 5 and worker.stats.batches == 1


def test_messages_of_an_earlier_connection_are_not_acknowledged_on_this_one():
    worker = make_worker(lambda items, **kw: Result(stored=len(items)))
    worker._connection = 3  # reconnected since messages 7 and 8 arrived
    worker._commit(
        [
            received(7, "towngrid/devices/A/up", reading("A", "1"), connection=2),
            received(8, "towngrid/devices/A/up", reading("A", "2"), connection=3),
        ]
    )
    assert worker._client.acks == [(8, 1)]


def test_nothing_is_acknowledged_while_disconnected():
    worker = make_worker(lambda items, **kw: Result(stored=len(items)))
    worker._connected = False
    worker._commit([received(1, "towngrid/devices/A/up", reading("A", "1"))])
    assert worker._client.acks == []


def test_database_down_retries_and_a_stop_leaves_the_batch_unacknowledged():
    attempts = []

    def ingest(items, **kw):
        attempts.append(1)
        if len(attempts) == 2:
            worker.request_stop()
        raise OperationalError("database is locked")

    worker = make_worker(ingest)
    worker._commit([received(1, "towngrid/devices/A/up", reading("A", "1"))])
    assert len(attempts) == 2
    assert worker._client.acks == []
    assert worker.stats.batches == 0


def test_database_comes_back_then_the_batch_is_stored_and_acknowledged():
    attempts = []

    def ingest(items, **kw):
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return Result(stored=len(items))

    worker = make_worker(ingest)
    worker._commit([received(1, "towngrid/devices/A/up", reading("A", "1"))])
    assert worker._client.acks == [(1, 1)]
    assert worker.stats.stored == 1 and worker.stats.failures == 1


def test_a_message_that_breaks_ingest_does_not_block_the_others():
    stored = []

    def ingest(items, **kw):
        if any(item.get("id") == "poison" for item in items):
            raise ValueError("bug")
        stored.extend(item["id"] for item in items)
        return Result(stored=len(items))

    worker = make_worker(ingest)
    worker._commit(
        [
            received(1, "towngrid/devices/A/up", reading("A", "ok-1")),
            received(2, "towngrid/devices/A/up", reading("A", "poison")),
            received(3, "towngrid/devices/A/up", reading("A", "ok-2")),
        ]
    )
    assert stored == ["ok-1", "ok-2"]
    assert worker._client.acks == [(1, 1), (2, 1), (3, 1)]


def test_collect_batches_by_size_and_window():
    worker = make_worker(lambda items, **kw: Result(), batch_size=3, batch_ms=10)
    for i in range(7):
        worker._inbox.put(received(i, "towngrid/devices/A/up", reading("A", str(i))))
    sizes = [len(worker._collect(wait=0.01)) for _ in range(4)]
    assert sizes == [3, 3, 1, 0]


def test_receive_maximum_covers_two_batches():
    worker = make_worker(lambda items, **kw: Result(), batch_size=500)
    assert worker._connect_properties().ReceiveMaximum == 1000
    assert worker._connect_properties().SessionExpiryInterval == mqtt.DEFAULT_SESSION_EXPIRY


def test_worker_command_needs_a_broker(settings):
    settings.MQTT_URL = ""
    with pytest.raises(CommandError, match="需要一个 MQTT 代理"):
        call_command("worker", "mqtt")
    with pytest.raises(CommandError, match="协议无效"):
        call_command("worker", "mqtt", "--url", "http://127.0.0.1:1883")
    with pytest.raises(CommandError, match="batch-size"):
        call_command("worker", "mqtt", "--url", "mqtt://127.0.0.1:1883", "--batch-size", "0")


def test_the_heartbeat_sweep_runs_between_batches_at_its_interval():
    sweeps = []
    worker = make_worker(
        lambda items, **kw: Result(), sweep_every=60, sweep=lambda: sweeps.append(1)
    )
    worker._maybe_sweep()
    assert sweeps == []  # not yet due
    worker._last_sweep -= 61
    worker._maybe_sweep()
    worker._maybe_sweep()
    assert sweeps == [1]
    worker = make_worker(
        lambda items, **kw: Result(), sweep_every=0, sweep=lambda: sweeps.append(1)
    )
    worker._last_sweep -= 10**6
    worker._maybe_sweep()
    assert sweeps == [1]


def test_a_failing_sweep_does_not_stop_the_worker():
    def broken():
        raise RuntimeError("boom")

    worker = make_worker(lambda items, **kw: Result(), sweep_every=1, sweep=broken)
    worker._last_sweep -= 5
    worker._maybe_sweep()  # logged, not raised
