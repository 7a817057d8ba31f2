"""``towngrid simulate sensors``: a realistic day of the town's sensors, replayed into MQTT, the
HTTP ingestion endpoint, or straight into ``actions.ingest``.

The day (deterministic for a seed, a date and a set of devices):

- 雨水泵站: an afternoon rainstorm (13:30–18:30, peak about 15:30). Forebay levels rise behind the
  rain; pumps start one by one at their start levels and stop as the level falls back. Every
  station stays below its warning level except one (the first by code), which crosses it for
  about fifty minutes and stays below danger. Warning and danger levels are read from the rules
  (a station's own override first), so the story holds when a town changes its thresholds.
  Readings every 5 minutes.
- 水质监测站: ordinary class Ⅲ–Ⅳ water all day; after the storm one river section (the last
  station by code) receives overflow: dissolved oxygen falls below 2 mg/L, ammonia above 2 mg/L
  (劣Ⅴ) and transparency and ORP into the 轻度黑臭 range, from about 17:00, recovering by 23:00.
  Readings every 15 minutes, as FIWARE WaterQualityObserved entities for FIWARE devices.
- 燃气报警器: heartbeats every 10 minutes near 0 %LEL; one detector (the first by code) sees a
  leak at lunchtime (11:36–11:55, peak 63 %LEL with its alarm output on), read every minute.
- 电梯阻车: a reading every 30 minutes; 0–3 e-bikes pushed into the lift per device per day.
- AI 摄像头: a FIWARE Device heartbeat every 30 minutes; 0–4 detections per camera through the
  day (小包垃圾, 暴露垃圾, 占道经营, 乱停车, 人员聚集) with a confidence and, when confident, a
  snapshot.

Clocks: ``--instant`` sends everything at once with the day's own times (readings later than now
are held back: ingestion refuses readings from the future); ``--speed N`` paces the day at N×
real time, never sending a reading before its time has come; ``--live`` paces the day at N×
but stamps each reading with the moment it is sent, for a demo that should come alive now.
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
DAY_MINUTES = 24 * 60

STORM_START = 13 * 60 + 30  # rain from 13:30
STORM_PEAK = 15 * 60 + 30  # heaviest at 15:30
STORM_END = 18 * 60 + 30  # dry again at 18:30
PEAK_RAIN = 68.0  # mm/h at the peak: a 暴雨 hour
LEVEL_LAG = 25  # minutes from the rain's peak to the forebay's
# Below the station's warning level (m): pump k starts at the k-th depth below it …
PUMP_START_DEPTHS = (1.0, 0.7, 0.4, 0.15)
PUMP_STOP_DEPTH = 1.3  # … and every pump stops once the level is this far below it
PUMP_FLOW = 1800.0  # m³/h per running pump
GAS_LEAK = [  # (minute of the day, %LEL, alarm output): the lunchtime leak
    (11 * 60 + 36, 8.0, False),
    (11 * 60 + 37, 24.0, False),
    (11 * 60 + 38, 41.0, False),
    (11 * 60 + 39, 57.0, True),
    (11 * 60 + 40, 63.0, True),
    (11 * 60 + 41, 61.0, True),
    (11 * 60 + 42, 48.0, False),
    (11 * 60 + 45, 35.0, False),
    (11 * 60 + 50, 12.0, False),
    (11 * 60 + 55, 4.0, False),
]
WQ_DROP = (17 * 60, 23 * 60)  # the overflow at one river section
AI_EVENTS = [("小包垃圾", 4), ("暴露垃圾", 2), ("占道经营", 2), ("乱停车", 2), ("人员聚集", 1)]
CASE_CONFIDENCE = 0.8  # detections at least this confident carry a snapshot
DEFAULT_WARNING, DEFAULT_DANGER = 3.0, 3.5


class SimulationError(Exception):
    """Cannot simulate (no devices, a bad option); the message is Chinese, for the CLI."""


@dataclass(frozen=True)
class SimDevice:
    code: str
    type_code: str
    protocol: str = "mqtt"
    warning: float = DEFAULT_WARNING  # pump stations: forebay warning and danger levels (m)
    danger: float = DEFAULT_DANGER
    pumps: int = 4


@dataclass
class Reading:
    minute: float  # minutes after the day's midnight (Beijing time)
    device: SimDevice
    values: dict
    kind: str = "compact"  # "compact", "water_quality" (FIWARE entity) or "heartbeat"
    seq: int = 0

    def time_on(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=BEIJING) + timedelta(
            minutes=self.minute
        )


@dataclass
class Outgoing:
    """One message as a transport sends it."""

    device_code: str
    topic_kind: str  # "device" or a FIWARE entity type
    body: dict
    at: datetime


# --- the day ------------------------------------------------------------------------------------


def _rng(seed: int, day: date, code: str, what: str = "") -> random.Random:
    # String seeds are hashed with SHA-512 by random.Random: stable across processes and runs.
    return random.Random(f"{seed}:{day.isoformat()}:{code}:{what}")


def rain_at(minute: float) -> float:
    """Town rainfall (mm/h): a storm rising from 13:30 to its 15:30 peak, gone by 18:30."""
    if minute <= STORM_START or minute >= STORM_END:
        return 0.0
    if minute <= STORM_PEAK:
        x = (minute - STORM_START) / (STORM_PEAK - STORM_START)
    else:
        x = (STORM_END - minute) / (STORM_END - STORM_PEAK)
    return PEAK_RAIN * math.sin(x * math.pi / 2) ** 2


def _surge(minute: float) -> float:
    """0…1: how far the forebay stands between its dry level and its peak, lagging the rain
    and falling more slowly than it rose (pumps draining a full sewer)."""
    peak = STORM_PEAK + LEVEL_LAG
    if minute < STORM_START:
        return 0.0
    if minute <= peak:
        return math.exp(-(((minute - peak) / 55.0) ** 2))
    return math.exp(-(((minute - peak) / 95.0) ** 2))


def pump_station_day(device: SimDevice, day: date, seed: int, crosses: bool) -> list[Reading]:
    rng = _rng(seed, day, device.code, "pump")
    base = device.warning - rng.uniform(1.5, 1.9)  # the dry-weather level
    if crosses:
        # Above warning for about fifty minutes around the peak, clearly below danger.
        peak = min(device.warning + 0.22, (device.warning + device.danger) / 2)
    else:
        peak = device.warning - rng.uniform(0.3, 0.6)
    factor = rng.uniform(0.85, 1.15)
    starts = [device.warning - depth for depth in PUMP_START_DEPTHS[: device.pumps]]
    stop = device.warning - PUMP_STOP_DEPTH
    running: set[int] = set()
    out = []
    for minute in range(0, DAY_MINUTES, 5):
        level = base + (peak - base) * _surge(minute) + rng.uniform(-0.015, 0.015)
        for k, start in enumerate(starts, start=1):
            if level >= start:
                running.add(k)
        if level < stop:
            running.clear()
        rain = rain_at(minute) * factor
        status = (
            "danger" if level >= device.danger else "alert" if level >= device.warning else "normal"
        )
        values = {
            "water_level": round(level, 3),
            "rainfall": round(max(0.0, rain + (rng.uniform(-1, 1) if rain else 0.0)), 1),
            "pumps_running": len(running),
            "flow": round(len(running) * PUMP_FLOW * rng.uniform(0.95, 1.05), 0),
            "flood_status": status,
            **{f"pump_{k}": k in running for k in range(1, device.pumps + 1)},
        }
        out.append(Reading(minute, device, values))
    return out


def water_quality_day(device: SimDevice, day: date, seed: int, drops: bool) -> list[Reading]:
    rng = _rng(seed, day, device.code, "wq")
    out = []
    for minute in range(0, DAY_MINUTES, 15):
        # 0…1 overflow strength: sharp onset at 17:00, recovery towards 23:00.
        k = 0.0
        if drops and WQ_DROP[0] <= minute < WQ_DROP[1]:
            t = (minute - WQ_DROP[0]) / (WQ_DROP[1] - WQ_DROP[0])
            k = min(1.0, t * 6) * (1 - max(0.0, (t - 0.55) / 0.45))
        diurnal = math.sin((minute - 9 * 60) / DAY_MINUTES * 2 * math.pi)  # DO peaks afternoon
        values = {
            "ph": round(rng.uniform(7.0, 7.7) - 0.4 * k, 2),
            "do": round(
                max(0.3, (5.6 + 0.6 * diurnal + rng.uniform(-0.2, 0.2)) * (1 - 0.8 * k)), 2
            ),
            "nh3n": round(rng.uniform(0.7, 1.1) + 2.6 * k, 2),
            "codmn": round(rng.uniform(5.0, 6.5) + 6.0 * k, 1),
            "tp": round(rng.uniform(0.15, 0.22) + 0.3 * k, 3),
            "transparency": round(rng.uniform(38, 55) - 24 * k),
            "orp": round(rng.uniform(140, 210) - 170 * k),
            "turbidity": round(rng.uniform(8, 18) + 40 * k, 1),
            "temperature": round(27.0 + 1.2 * diurnal + rng.uniform(-0.1, 0.1), 1),
        }
        out.append(Reading(minute, device, values, kind="water_quality"))
    return out


def gas_detector_day(device: SimDevice, day: date, seed: int, leaks: bool) -> list[Reading]:
    rng = _rng(seed, day, device.code, "gas")
    leak = {m: (lel, alarm) for m, lel, alarm in GAS_LEAK} if leaks else {}
    minutes = sorted(set(range(0, DAY_MINUTES, 10)) | set(leak))
    out = []
    for minute in minutes:
        lel, alarm = leak.get(minute, (round(rng.uniform(0, 2.5), 1), False))
        values = {"lel": lel, "alarm": alarm, "temperature": round(rng.uniform(24, 31), 1)}
        out.append(Reading(minute, device, values))
    return out


def elevator_day(device: SimDevice, day: date, seed: int) -> list[Reading]:
    rng = _rng(seed, day, device.code, "lift")
    events = sorted(rng.sample(range(7 * 60, 22 * 60), rng.choice([0, 1, 1, 2, 3])))
    out = [
        Reading(m, device, {"ebike": False, "door_blocked": False})
        for m in range(0, DAY_MINUTES, 30)
    ]
    for minute in events:
        values = {
            "ebike": True,
            "door_blocked": True,
            "event": "电瓶车入梯",
            "confidence": round(rng.uniform(0.86, 0.98), 2),
        }
        out.append(Reading(minute + 0.5, device, values))
    return out


_SNAPSHOTS: dict[str, str] = {}


def snapshot(label: str) -> str:
    """A small JPEG standing in for the camera's frame (one per event kind, made once)."""
    if label not in _SNAPSHOTS:
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (160, 120), (118, 124, 128))
        draw = ImageDraw.Draw(image)
        draw.rectangle([52, 48, 96, 84], fill=(40, 40, 40), outline=(230, 60, 40), width=3)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=70)
        _SNAPSHOTS[label] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    return _SNAPSHOTS[label]


def camera_day(device: SimDevice, day: date, seed: int) -> list[Reading]:
    rng = _rng(seed, day, device.code, "camera")
    out = [Reading(m, device, {}, kind="heartbeat") for m in range(0, DAY_MINUTES, 30)]
    kinds = [k for k, w in AI_EVENTS for _ in range(w)]
    count = rng.choice([0, 1, 1, 2, 2, 3, 4])
    for minute in sorted(rng.sample(range(6 * 60 + 30, 21 * 60 + 30), count)):
        event = rng.choice(kinds)
        confidence = round(rng.uniform(0.62, 0.97), 2)
        values = {"event": event, "confidence": confidence, "count": rng.randint(1, 5)}
        if confidence >= CASE_CONFIDENCE:
            values["snapshot"] = snapshot(event)
        out.append(Reading(minute + 0.25, device, values))
    return out


def plan_day(devices: Iterable[SimDevice], day: date, seed: int = 2023) -> list[Reading]:
    """Every reading of the day, in time order (then device code)."""
    by_type: dict[str, list[SimDevice]] = {}
    for d in sorted(devices, key=lambda d: d.code):
        by_type.setdefault(d.type_code, []).append(d)
    readings: list[Reading] = []
    for i, d in enumerate(by_type.get("rain_pump_station", [])):
        readings += pump_station_day(d, day, seed, crosses=i == 0)
    wq = by_type.get("water_quality", [])
    for i, d in enumerate(wq):
        readings += water_quality_day(d, day, seed, drops=i == len(wq) - 1)
    for i, d in enumerate(by_type.get("gas_detector", [])):
        readings += gas_detector_day(d, day, seed, leaks=i == 0)
    for d in by_type.get("elevator_ebike", []):
        readings += elevator_day(d, day, seed)
    for d in by_type.get("ai_camera", []):
        readings += camera_day(d, day, seed)
    readings.sort(key=lambda r: (r.minute, r.device.code))
    for n, r in enumerate(readings):
        r.seq = n
    return readings


# --- messages -----------------------------------------------------------------------------------


def message_for(reading: Reading, at: datetime) -> Outgoing:
    """The transport message of a reading stamped ``at``: compact, or a FIWARE keyValues entity
    for FIWARE devices (water quality) and heartbeats (a Device entity)."""
    code = reading.device.code
    stamp = at.isoformat()
    if reading.kind == "heartbeat":
        body = {
            "id": f"urn:ngsi-ld:Device:{code}",
            "type": "Device",
            "deviceState": "ok",
            "dateLastValueReported": stamp,
        }
        return Outgoing(code, "Device", body, at)
    if reading.kind == "water_quality" and reading.device.protocol == "fiware":
        v = reading.values
        body = {
            "id": f"urn:ngsi-ld:WaterQualityObserved:{code}",
            "type": "WaterQualityObserved",
            "dateObserved": stamp,
            "refDevice": f"urn:ngsi-ld:Device:{code}",
            "pH": v["ph"],
            "O2": v["do"],
            "NH4": v["nh3n"],
            "codMn": v["codmn"],
            "tp": v["tp"],
            "transparency": v["transparency"],
            "orp": v["orp"],
            "turbidity": v["turbidity"],
            "temperature": v["temperature"],
        }
        return Outgoing(code, "WaterQualityObserved", body, at)
    body = {
        "id": f"sim-{code}-{at.astimezone(BEIJING):%Y%m%dT%H%M%S.%f}",
        "device": code,
        "time": stamp,
        "values": reading.values,
    }
    return Outgoing(code, "device", body, at)


# --- devices from the database --------------------------------------------------------------------


def devices_from_db(prefix: str = "") -> list[SimDevice]:
    """Active devices (of the demo town unless ``prefix`` says otherwise), with each pump
    station's effective warning and danger levels."""
    from .models import Device, Rule

    qs = Device.objects.filter(is_active=True).select_related("device_type").order_by("code")
    if prefix:
        qs = qs.filter(code__startswith=prefix)
    else:
        from .demo import DEMO_PREFIX

        if qs.filter(code__startswith=DEMO_PREFIX).exists():
            qs = qs.filter(code__startswith=DEMO_PREFIX)
    rows = list(qs)
    levels: dict[tuple[int | None, str], float] = {}
    for rule in Rule.objects.filter(
        is_active=True,
        code__in=["level_warning", "level_danger"],
        device_type__code="rain_pump_station",
    ):
        if rule.threshold is not None:
            levels[(rule.device_id, rule.code)] = rule.threshold
    out = []
    for d in rows:
        warning = levels.get(
            (d.pk, "level_warning"), levels.get((None, "level_warning"), DEFAULT_WARNING)
        )
        danger = levels.get(
            (d.pk, "level_danger"), levels.get((None, "level_danger"), DEFAULT_DANGER)
        )
        pumps = (d.settings or {}).get("pumps", 4)
        out.append(
            SimDevice(
                code=d.code,
                type_code=d.device_type.code,
                protocol=d.protocol,
                warning=warning,
                danger=danger,
                pumps=pumps if isinstance(pumps, int) and 1 <= pumps <= 4 else 4,
            )
        )
    return out


# --- sinks --------------------------------------------------------------------------------------


class Sink:
    """Where messages go. ``send`` takes the messages due now; ``close`` flushes."""

    def send(self, messages: list[Outgoing]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class DbSink(Sink):
    """Straight into ``actions.ingest`` in this process (transport "internal")."""

    def __init__(self, batch: int = 2000) -> None:
        self.batch = batch
        self.totals = {"stored": 0, "duplicates": 0, "rejected": 0, "alarms": 0, "cases": 0}

    def send(self, messages: list[Outgoing]) -> None:
        from .actions import ingest

        for i in range(0, len(messages), self.batch):
            result = ingest([m.body for m in messages[i : i + self.batch]], transport="internal")
            self.totals["stored"] += result.stored
            self.totals["duplicates"] += result.duplicates
            self.totals["rejected"] += result.rejected
            self.totals["alarms"] += result.alarms_raised
            self.totals["cases"] += len(result.cases)


class MqttSink(Sink):
    """Publish with QoS 1 to the device's topic (or the FIWARE topic of an entity type)."""

    def __init__(self, url: str, prefix: str, client_id: str = "") -> None:
        import paho.mqtt.client as paho

        from .mqtt import device_topic, fiware_topic, parse_broker_url

        self._device_topic, self._fiware_topic = device_topic, fiware_topic
        broker = parse_broker_url(url)
        self.prefix = prefix
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"towngrid-simulate-{random.randrange(16**8):08x}",
            protocol=paho.MQTTv5,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            import ssl

            self.client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        try:
            self.client.connect(broker.host, broker.port, keepalive=30)
        except OSError as exc:
            raise SimulationError(f"无法连接 MQTT 代理 {broker}：{exc}") from None
        self.client.loop_start()
        self.pending: list = []
        self.sent = 0

    def topic(self, m: Outgoing) -> str:
        if m.topic_kind == "device":
            return self._device_topic(m.device_code, self.prefix)
        return self._fiware_topic(m.topic_kind, self.prefix)

    def send(self, messages: list[Outgoing]) -> None:
        for m in messages:
            info = self.client.publish(self.topic(m), json.dumps(m.body, ensure_ascii=False), qos=1)
            self.pending.append(info)
            self.sent += 1
        # Keep memory flat on long replays: wait for the broker's PUBACKs now and then.
        if len(self.pending) > 5000:
            self._drain()

    def _drain(self) -> None:
        for info in self.pending:
            info.wait_for_publish(30)
        self.pending = []

    def close(self) -> None:
        self._drain()
        self.client.disconnect()
        self.client.loop_stop()


class HttpSink(Sink):
    """POST to ``/api/v1/sensing/ingest/`` as each device (its code and secret in headers);
    one request per device per send, the device's messages as a JSON array."""

    def __init__(self, base_url: str, secret_of: Callable[[str], str]) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/sensing/ingest/"
        self.secret_of = secret_of
        self.totals = {"stored": 0, "duplicates": 0, "rejected": 0, "requests": 0}

    def send(self, messages: list[Outgoing]) -> None:
        by_device: dict[str, list[dict]] = {}
        for m in messages:
            by_device.setdefault(m.device_code, []).append(m.body)
        for code, bodies in by_device.items():
            request = urllib.request.Request(
                self.url,
                data=json.dumps(bodies, ensure_ascii=False).encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-Device-Code": code,
                    "X-Device-Secret": self.secret_of(code),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    answer = json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                raise SimulationError(f"HTTP 上报失败（{code}）：{exc.code} {detail}") from None
            except urllib.error.URLError as exc:
                raise SimulationError(f"无法连接 {self.url}：{exc.reason}") from None
            self.totals["requests"] += 1
            for key in ("stored", "duplicates", "rejected"):
                self.totals[key] += int(answer.get(key, 0))


class ListSink(Sink):
    """Collects messages (tests, ``--to stdout``)."""

    def __init__(self, write: Callable[[Outgoing], None] | None = None) -> None:
        self.messages: list[Outgoing] = []
        self.write = write

    def send(self, messages: list[Outgoing]) -> None:
        if self.write:
            for m in messages:
                self.write(m)
        else:
            self.messages.extend(messages)


# --- the replay ---------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    planned: int = 0
    sent: int = 0
    held_back: int = 0  # readings later than now (instant mode)
    by_type: dict[str, int] = field(default_factory=dict)


def replay(
    readings: list[Reading],
    day: date,
    sink: Sink,
    *,
    speed: float | None = None,
    live: bool = False,
    start_minute: float = 0,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    progress: Callable[[int], None] | None = None,
    step_minutes: float = 1.0,
) -> ReplayResult:
    """Send the readings from ``start_minute`` on: at once (``speed`` None), or paced at
    ``speed``× real time in steps of ``step_minutes`` of the day; ``live`` stamps each reading
    with its sending time instead of its time of the day."""
    clock = now or (lambda: datetime.now(tz=BEIJING))
    result = ReplayResult(planned=len(readings))
    todo = [r for r in readings if r.minute >= start_minute]

    def emit(batch: list[Reading], stamp: datetime | None) -> None:
        out = []
        for r in batch:
            at = stamp if stamp is not None else r.time_on(day)
            out.append(message_for(r, at))
            result.by_type[r.device.type_code] = result.by_type.get(r.device.type_code, 0) + 1
        if out:
            sink.send(out)
            result.sent += len(out)
            if progress:
                progress(len(out))

    if speed is None:
        cutoff = clock()
        due = [r for r in todo if r.time_on(day) <= cutoff]
        result.held_back = len(todo) - len(due)
        # One send per minute of the day, as the devices would have sent them: an alarm that
        # peaks and eases within a few minutes is seen at its peak by the case policies.
        step_of = [int(r.minute // step_minutes) for r in due]
        first = 0
        for i in range(1, len(due) + 1):
            if i == len(due) or step_of[i] != step_of[first]:
                emit(due[first:i], None)
                first = i
        sink.close()
        return result

    started = monotonic()
    i = 0
    step = start_minute
    while i < len(todo):
        step += step_minutes
        batch = []
        while i < len(todo) and todo[i].minute < step:
            batch.append(todo[i])
            i += 1
        # The wall-clock moment this step of the day is due …
        wait = (step - start_minute) * 60 / speed - (monotonic() - started)
        if wait > 0:
            sleep(wait)
        if live:
            emit(batch, clock())
            continue
        # … and never before the reading's own time (ingestion refuses the future).
        if batch:
            ahead = (batch[-1].time_on(day) - clock()).total_seconds()
            if ahead > 0:
                sleep(ahead)
        emit(batch, None)
    sink.close()
    return result
