"""The MQTT ingestion worker (``towngrid worker mqtt``).

One process holds one persistent MQTT session (a fixed client id, MQTT 5 with a session expiry,
``clean_start=False``) subscribed with QoS 1 to ``<prefix>/devices/+/up`` and
``<prefix>/fiware/+``. Messages are collected in memory for a short window (``batch_ms``) or up to
``batch_size``, handed to ``sensing.actions.ingest`` per topic, and acknowledged (PUBACK) only
after the batch's transaction has committed:

- killed before the commit: nothing was stored and nothing was acknowledged, so the broker
  delivers the messages again when the same client id reconnects;
- killed after the commit but before the PUBACKs left: the broker delivers them again, and
  ``ingest`` stores each message id once per device, so the repeat counts as a duplicate.

Together that is at-least-once delivery made exactly-once in the database (docs/sensing-worker.md).

paho runs the network in its own thread and only queues messages (``on_message``); the main
thread owns the database connection, the batching and the acknowledgements. A packet id means
nothing on a later connection (the broker re-sends unacknowledged messages and reuses freed ids),
so each message remembers the connection it arrived on and is acknowledged only on that one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("towngrid.sensing.mqtt")

DEFAULT_PREFIX = "towngrid"
DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}
# How long the broker keeps the session (subscriptions and unacknowledged/queued messages) while
# the worker is away: long enough to survive a redeploy or a night's outage.
DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600
MAX_RECEIVE_MAXIMUM = 65535


class BrokerUrlError(ValueError):
    """MQTT_URL / --url cannot be used; the message is Chinese, for the CLI."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> Broker:
    """``mqtt://[user[:password]@]host[:port]`` (or ``mqtts://`` for TLS) → Broker."""
    if not url or not url.strip():
        raise BrokerUrlError(
            "未配置 MQTT 代理：请设置环境变量 MQTT_URL 或使用 --url（如 mqtt://127.0.0.1:1883）"
        )
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerUrlError(f"MQTT 地址的协议无效：{url}（应为 mqtt:// 或 mqtts://）")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise BrokerUrlError(f"MQTT 地址的端口无效：{url}") from None
    if not parts.hostname:
        raise BrokerUrlError(f"MQTT 地址缺少主机名：{url}")
    return Broker(
        host=parts.hostname,
        port=port,
        tls=scheme in {"mqtts", "ssl"},
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def subscriptions(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The topic filters the worker subscribes to."""
    prefix = prefix.strip("/")
    return [f"{prefix}/devices/+/up", f"{prefix}/fiware/+"]


def device_topic(device_code: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix.strip('/')}/devices/{device_code}/up"


def fiware_topic(entity_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix.strip('/')}/fiware/{entity_type}"


def canonical_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The topic as ``ingest`` knows it (``towngrid/…``), whatever prefix this deployment (or a
    test run) publishes under, so a device's code is read from the same place either way."""
    prefix = prefix.strip("/")
    if prefix != DEFAULT_PREFIX and topic.startswith(prefix + "/"):
        return DEFAULT_PREFIX + topic[len(prefix) :]
    return topic


@dataclass(slots=True)
class Received:
    """One message as paho handed it over, with the connection it arrived on."""

    connection: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    dup: bool


@dataclass
class Stats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    acked: int = 0
    redelivered: int = 0
    failures: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "batches": self.batches,
            "acked": self.acked,
            "redelivered": self.redelivered,
            "failures": self.failures,
        }


IngestFunc = Callable[..., object]


def _default_ingest(messages: Iterable, *, transport: str, topic: str = "") -> object:
    from towngrid.sensing.actions import ingest

    return ingest(messages, transport=transport, topic=topic)


def _default_sweep() -> object:
    from towngrid.sensing.actions import check_silent_devices

    return check_silent_devices()


class MqttWorker:
    """Consume the device topics into ``ingest`` with at-least-once delivery.

    ``run()`` blocks until ``request_stop()`` (SIGTERM/SIGINT in the command); pending messages
    are committed and acknowledged before it returns.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        batch_size: int = 500,
        batch_ms: int = 200,
        prefix: str = DEFAULT_PREFIX,
        session_expiry: int = DEFAULT_SESSION_EXPIRY,
        ingest: IngestFunc | None = None,
        report_every: float = 10.0,
        sweep_every: float = 60.0,
        sweep: Callable[[], object] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if batch_ms < 0:
            raise ValueError("batch_ms must not be negative")
        if not client_id:
            raise ValueError("client_id is required: a persistent session needs a fixed id")
        self.broker = parse_broker_url(url)
        self.client_id = client_id
        self.batch_size = batch_size
        self.batch_seconds = batch_ms / 1000.0
        self.prefix = prefix.strip("/") or DEFAULT_PREFIX
        self.session_expiry = session_expiry
        self.ingest = ingest or _default_ingest
        self.report_every = report_every
        # The heartbeat sweep (devices gone silent → offline alarms; event alarms expire) runs
        # in this process between batches, so a town with a worker needs no separate cron job.
        self.sweep_every = sweep_every
        self.sweep = sweep or _default_sweep
        self._last_sweep = time.monotonic()
        self.say = say or log.info
        self.stats = Stats()
        self._inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        # The current connection's number; bumped on every connect and disconnect under the
        # lock that the acknowledging code also holds, so no PUBACK for an old connection's
        # packet id is ever written to a newer connection.
        self._connection = 0
        self._connected = False
        self._conn_lock = threading.Lock()
        self._client = self._make_client()
        self._last_report = time.monotonic()
        self._last_report_stats = Stats()

    # --- the paho side (network thread) ----------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        # paho's own reconnect loop: 1 s, doubling, at most 30 s between attempts.
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        # How many unacknowledged QoS 1 messages the broker may have in flight to us. We hold a
        # whole batch unacknowledged until it commits, so allow two batches: the broker keeps
        # streaming the next one while this one is written.
        props.ReceiveMaximum = min(MAX_RECEIVE_MAXIMUM, max(20, self.batch_size * 2))
        return props

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.say(f"MQTT 连接被拒绝：{reason_code}")
            return
        with self._conn_lock:
            self._connection += 1
            self._connected = True
        self.say(
            f"已连接 {self.broker}（client id {self.client_id}，"
            f"{'恢复会话' if flags.session_present else '新会话'}）"
        )
        # Subscribing again on a resumed session is harmless and repairs a session the broker
        # lost (a broker restart without persistence).
        client.subscribe([(t, 1) for t in subscriptions(self.prefix)])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._conn_lock:
            self._connection += 1
            self._connected = False
        self._subscribed.clear()
        if not self._stop.is_set():
            self.say(f"与 {self.broker} 的连接已断开（{reason_code}），将自动重连")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            self.say(f"订阅失败：{', '.join(failed)}")
            return
        self._subscribed.set()
        self.say(f"已订阅 {', '.join(subscriptions(self.prefix))}（QoS 1）")

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        # Runs on paho's thread: only hand the message over, never touch the database here.
        self._inbox.put(
            Received(
                connection=self._connection,
                mid=message.mid,
                qos=message.qos,
                topic=message.topic,
                payload=message.payload,
                dup=bool(message.dup),
            )
        )

    # --- the worker side (main thread) -----------------------------------------------------

    @property
    def subscribed(self) -> threading.Event:
        return self._subscribed

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> Stats:
        client = self._client
        client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=30,
            clean_start=False,
            properties=self._connect_properties(),
        )
        client.loop_start()  # connects, and reconnects with backoff, on its own thread
        self.say(
            f"MQTT 工作进程启动：{self.broker}，批量 {self.batch_size} 条 / {int(self.batch_seconds * 1000)} ms"
        )
        try:
            while not self._stop.is_set():
                batch = self._collect(wait=0.5)
                if batch:
                    self._commit(batch)
                self._report()
                self._maybe_sweep()
            # Stopping: whatever already arrived is committed and acknowledged before leaving.
            while True:
                batch = self._collect(wait=0.0)
                if not batch:
                    break
                self._commit(batch)
        finally:
            self._report(force=True)
            # A normal DISCONNECT keeps the session (its expiry was set on CONNECT), so
            # messages published while the worker is down wait for it at the broker.
            client.disconnect()
            client.loop_stop()
            self._close_db()
        return self.stats

    def _collect(self, wait: float) -> list[Received]:
        """The next batch: block up to ``wait`` for its first message, then gather until the
        batch is full or ``batch_ms`` has passed since the first one arrived."""
        try:
            first = self._inbox.get(timeout=wait) if wait > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_seconds
        while len(batch) < self.batch_size:
            try:
                left = deadline - time.monotonic()
                batch.append(
                    self._inbox.get(timeout=left) if left > 0 else self._inbox.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[Received]) -> None:
        """Ingest the batch, then acknowledge every message of it.

        ``ingest`` binds a call to the one device its topic names, so a call per topic would
        cost a transaction per device: with hundreds of devices sending one reading each, that
        is most of the time. Compact messages that name the device of their own topic are
        therefore checked here and ingested together in one call (the binding check is done:
        each names its topic's device). Everything else (FIWARE entities, messages without a
        device or for another device, invalid JSON) goes through one call per topic, so its
        dead letters record the topic."""
        self.stats.received += len(batch)
        self.stats.redelivered += sum(1 for m in batch if m.dup)
        together: list[dict] = []
        by_topic: dict[str, list[bytes]] = {}
        for m in batch:
            objects = self._bound_compact(m)
            if objects is None:
                by_topic.setdefault(m.topic, []).append(m.payload)
            else:
                together.extend(objects)
        calls: list[tuple[str, list]] = [("", together)] if together else []
        calls += [(canonical_topic(t, self.prefix), p) for t, p in by_topic.items()]
        for topic, items in calls:
            if not self._ingest_with_retry(topic, items):
                # Stopping while the database is down: leave the batch unacknowledged, the
                # broker delivers it again to the next start.
                return
        self.stats.batches += 1
        self._acknowledge(batch)

    def _bound_compact(self, m: Received) -> list[dict] | None:
        """The compact messages of a device-topic payload when each one names that device,
        else None (the payload then goes through ``ingest`` with its topic)."""
        parts = canonical_topic(m.topic, self.prefix).split("/")
        if len(parts) != 4 or parts[1] != "devices" or parts[3] != "up":
            return None
        code = parts[2]
        try:
            decoded = json.loads(m.payload)
        except ValueError:
            return None
        objects = decoded if isinstance(decoded, list) else [decoded]
        for obj in objects:
            if not isinstance(obj, dict) or obj.get("device") != code:
                return None
            if isinstance(obj.get("id"), str) and obj["id"].startswith("urn:ngsi-ld:"):
                return None  # a FIWARE entity: let ingest read it with its topic
        return objects or None

    def _ingest_with_retry(self, topic: str, items: list) -> bool:
        """Retry while the database is unavailable (nothing is acknowledged meanwhile, so
        nothing is lost); a call that fails for another reason is split so that one bad
        message cannot block the stream. ``ingest`` itself dead-letters invalid messages, so
        an exception here is a fault in the code or the database, logged with its traceback.
        False when the worker was asked to stop before the database came back."""
        from django.db import InterfaceError, OperationalError

        delay = 0.5
        while True:
            self._db_ready()
            try:
                result = self.ingest(items, transport="mqtt", topic=topic)
            except (OperationalError, InterfaceError) as exc:
                self.stats.failures += 1
                self.say(f"数据库暂不可用，{delay:.1f} 秒后重试：{exc}")
                self._close_db()
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, 30.0)
                continue
            except Exception:
                self.stats.failures += 1
                self._close_db()
                if len(items) == 1:
                    self.say(
                        f"消息无法处理（{topic or '设备主题'}），已跳过：\n{traceback.format_exc()}"
                    )
                    return True
                self.say(f"批量处理失败，逐条重试（{topic or '设备主题'}，{len(items)} 条）")
                return all(self._ingest_with_retry(topic, [item]) for item in items)
            self._count(result)
            return True

    def _maybe_sweep(self) -> None:
        if self.sweep_every <= 0 or time.monotonic() - self._last_sweep < self.sweep_every:
            return
        self._last_sweep = time.monotonic()
        self._db_ready()
        try:
            outcome = self.sweep()
        except Exception:  # the next sweep tries again; ingestion must not stop for it
            self._close_db()
            self.say(f"巡检离线设备失败：\n{traceback.format_exc()}")
            return
        if isinstance(outcome, dict) and any(outcome.values()):
            self.say(f"离线巡检：{json.dumps(outcome, ensure_ascii=False)}")

    def _count(self, result: object) -> None:
        self.stats.stored += int(getattr(result, "stored", 0) or 0)
        self.stats.duplicates += int(getattr(result, "duplicates", 0) or 0)
        self.stats.rejected += int(getattr(result, "rejected", 0) or 0)

    def _acknowledge(self, batch: list[Received]) -> None:
        with self._conn_lock:
            if not self._connected:
                return
            current = self._connection
            for m in batch:
                # Messages from an earlier connection will be (or were) delivered again on
                # this one: acknowledging their old packet id here could acknowledge a
                # different, not yet stored message.
                if m.qos > 0 and m.connection == current:
                    self._client.ack(m.mid, m.qos)
                    self.stats.acked += 1

    def _db_ready(self) -> None:
        from django.db import close_old_connections, reset_queries

        # A long-running process is one endless request: drop the DEBUG query log (the embedded
        # default runs with DEBUG on) and stale connections, as Django does per request.
        reset_queries()
        close_old_connections()

    def _close_db(self) -> None:
        from django.db import connection

        # A connection that is already broken cannot be closed cleanly; it is gone either way.
        with contextlib.suppress(Exception):
            connection.close()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._last_report
        if not force and elapsed < self.report_every:
            return
        s, last = self.stats, self._last_report_stats
        if force or s.received != last.received:
            rate = (s.received - last.received) / elapsed if elapsed > 0 else 0.0
            self.say(
                f"收到 {s.received} 条（{rate:,.0f} 条/秒），存储 {s.stored}，重复 {s.duplicates}，"
                f"拒收 {s.rejected}，批次 {s.batches}，重投 {s.redelivered}"
            )
        self._last_report = now
        self._last_report_stats = Stats(**s.as_dict())


def forget_session(url: str, client_id: str, timeout: float = 5.0) -> bool:
    """End a client id's persistent session at the broker (connect with a clean start and a zero
    session expiry, then disconnect): for a worker that is retired for good, and for tests.
    Messages waiting in that session are discarded. True when the broker answered."""
    broker = parse_broker_url(url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect(broker.host, broker.port, keepalive=10, clean_start=True, properties=props)
    except OSError:
        return False
    client.loop_start()
    ok = connected.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return ok
