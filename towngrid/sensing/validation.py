"""Turning raw transport payloads into checked readings, or reasons why not.

Pure functions: no database access (the caller passes the device lookup), so a batch of
thousands is validated in memory. Every reason is ``{"field": ..., "message": <Chinese>}``.

Compact form::

    {"id": "m-0001", "device": "WQ-001", "time": "2023-06-01T08:00:00+08:00",
     "values": {"ph": 7.2, "do": 5.1}, "battery": 87}

``id`` is optional: without it the message id is a hash of device, time and values, so a
redelivered copy is still stored once. ``time`` without an offset is Beijing time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import isfinite
from typing import Any
from zoneinfo import ZoneInfo

from . import fiware

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_MESSAGE_ID = 100
MAX_TEXT_VALUE = 200
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
# Readings may be late (buffered by a gateway) but not from the future beyond clock skew.
MAX_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=BEIJING)
# Metrics computed by the platform, never accepted from a device.
DERIVED_METRICS = frozenset({"wq_class", "black_odour"})
SNAPSHOT_KEY = "snapshot"
MESSAGE_KEYS = frozenset({"id", "device", "time", "values", "battery"})
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG"


@dataclass(slots=True)
class Reading:
    """One valid message, ready to store."""

    device: Any  # models.Device (with device_type loaded)
    message_id: str
    observed_at: datetime
    values: dict
    battery: float | None = None
    snapshot: bytes | None = None
    state: str = ""  # a FIWARE Device entity's deviceState
    type_code: str = ""  # the device type's code


@dataclass
class Rejected:
    raw: str
    reasons: list[dict]
    device_code: str = ""


@dataclass(slots=True)
class Parsed:
    """A raw item after JSON decoding: the object, or the reason it is not one."""

    raw: str
    obj: Any = None
    reasons: list[dict] | tuple = ()  # a shared empty tuple: most items have no reason


def reason(field_name: str, message: str) -> dict:
    return {"field": field_name, "message": message}


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw
    try:
        return json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(raw)


def explode(messages: Iterable[Any]) -> Iterator[Parsed]:
    """Each message may be a dict, a list of dicts, or text/bytes holding a JSON object, a JSON
    array or JSON lines; yield one ``Parsed`` per contained message."""
    for message in messages:
        if isinstance(message, dict):
            yield Parsed(raw="", obj=message)
        elif isinstance(message, list):
            for item in message:
                yield Parsed(raw="", obj=item)
        elif isinstance(message, bytes | str):
            yield from explode_text(message)
        else:
            yield Parsed(raw=_text(message), reasons=[reason("", "无法识别的报文类型。")])


def explode_text(data: str | bytes) -> Iterator[Parsed]:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            yield Parsed(raw=_text(data), reasons=[reason("", "报文不是 UTF-8 编码。")])
            return
    else:
        text = data
    stripped = text.strip()
    if not stripped:
        yield Parsed(raw=text, reasons=[reason("", "报文为空。")])
        return
    try:
        obj = json.loads(stripped)
    except ValueError as exc:
        if "\n" in stripped:  # JSON lines: each line on its own
            for line in stripped.splitlines():
                if line.strip():
                    yield from _one_line(line)
            return
        yield Parsed(
            raw=text, reasons=[reason("", f"JSON 格式错误：{exc.msg}（第 {exc.pos} 字符）。")]
        )
        return
    if isinstance(obj, list):
        for item in obj:
            yield Parsed(raw="", obj=item)
    else:
        yield Parsed(raw=text, obj=obj)


def _one_line(line: str) -> Iterator[Parsed]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        yield Parsed(
            raw=line, reasons=[reason("", f"JSON 格式错误：{exc.msg}（第 {exc.pos} 字符）。")]
        )
        return
    if isinstance(obj, list):
        for item in obj:
            yield Parsed(raw="", obj=item)
    else:
        yield Parsed(raw=line, obj=obj)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BEIJING)
    return parsed


def _finite(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True  # ints are exact at any size (math.isfinite would overflow past 1e308)
    if kind is float:
        return math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def content_id(device_code: str, time_text: str, values: Any) -> str:
    body = json.dumps([device_code, time_text, values], sort_keys=True, ensure_ascii=False)
    return "h:" + hashlib.sha1(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def decode_snapshot(value: Any) -> tuple[bytes | None, str]:
    """A snapshot is base64 JPEG or PNG, optionally a data: URI. Returns (bytes, error)."""
    if not isinstance(value, str) or not value:
        return None, "抓拍图片必须是 base64 编码的 JPEG/PNG。"
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(text) > MAX_SNAPSHOT_BYTES * 4 // 3 + 4:
        return None, f"抓拍图片超过 {MAX_SNAPSHOT_BYTES // 1024 // 1024} MB。"
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, "抓拍图片的 base64 编码无效。"
    if not (data.startswith(JPEG_MAGIC) or data.startswith(PNG_MAGIC)):
        return None, "抓拍图片必须是 JPEG 或 PNG。"
    return data, ""


NUMBER, BOOL, IMAGE, TEXT = "number", "bool", "image", "text"


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """One metric of a device type, ready to check values against."""

    kind: str
    label: str
    low: float | None
    high: float | None
    choices: frozenset | None


# id(metrics dict) → (the dict, its checks): a device type's metrics are checked for every
# reading, so their definitions are read once per dict (the device cache reloads the dict, and
# with it the checks, when the type changes).
_compiled: dict[int, tuple[dict, dict[str, MetricCheck]]] = {}


def metric_checks(metrics: dict) -> dict[str, MetricCheck]:
    entry = _compiled.get(id(metrics))
    if entry is not None and entry[0] is metrics:
        return entry[1]
    checks = {}
    for name, spec in metrics.items():
        choices = spec.get("choices")
        checks[name] = MetricCheck(
            # The module's own strings: the checks compare kinds by identity.
            {NUMBER: NUMBER, BOOL: BOOL, IMAGE: IMAGE}.get(spec.get("kind", NUMBER), TEXT),
            spec.get("name", name),
            spec.get("min"),
            spec.get("max"),
            frozenset(choices) if choices else None,
        )
    if len(_compiled) > 1024:
        _compiled.clear()
    _compiled[id(metrics)] = (metrics, checks)
    return checks


def check_values(values: Any, metrics: dict) -> tuple[dict, list[dict], bytes | None]:
    """Check every metric against the device type's definition: known, of its kind, in range."""
    if not isinstance(values, dict) or not values:
        return {}, [reason("values", "缺少观测值（values 必须是非空对象）。")], None
    checks = metric_checks(metrics)
    out: dict = {}
    problems: list[dict] = []
    snapshot = None
    for name, value in values.items():
        check = checks.get(name)
        if check is None or name in DERIVED_METRICS:
            where = f"values.{name}"
            if name in DERIVED_METRICS:
                problems.append(reason(where, f"指标 {name} 由平台计算，不能上报。"))
            else:
                problems.append(reason(where, f"设备类型没有指标 {name}。"))
            continue
        kind = check.kind
        if kind is NUMBER:
            number_kind = type(value)
            if not (number_kind is int or (number_kind is float and isfinite(value))) and (
                not _finite(value)
            ):
                problems.append(reason(f"values.{name}", f"{check.label} 必须是有限数值。"))
                continue
            low, high = check.low, check.high
            if (low is not None and value < low) or (high is not None and value > high):
                problems.append(
                    reason(f"values.{name}", f"{check.label} 超出量程 {low}–{high}：{value}。")
                )
                continue
        elif kind is BOOL:
            if value is not True and value is not False:
                problems.append(reason(f"values.{name}", f"{check.label} 必须是 true 或 false。"))
                continue
        elif kind is IMAGE:
            snapshot, error = decode_snapshot(value)
            if error:
                problems.append(reason(f"values.{name}", error))
            continue  # stored as a file, not in the values
        else:  # text
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT_VALUE:
                problems.append(
                    reason(f"values.{name}", f"{check.label} 必须是 1–{MAX_TEXT_VALUE} 字的文本。")
                )
                continue
            if check.choices is not None and value not in check.choices:
                problems.append(
                    reason(f"values.{name}", f"{check.label} 的取值 {value} 不在允许范围内。")
                )
                continue
        out[name] = value
    return out, problems, snapshot


def validate(
    obj: Any,
    *,
    raw: str,
    lookup: Callable[[str], Any],
    now: datetime,
    bound_device: Any = None,
) -> Reading | Rejected:
    """Check one decoded message. ``lookup(code)`` returns the Device or None; ``bound_device``
    is the device the transport authenticated (HTTP) or the topic named (MQTT): a message for
    another device is refused."""
    if not isinstance(obj, dict):
        return Rejected(raw or _text(obj), [reason("", "报文必须是 JSON 对象。")])
    original = obj
    state = ""
    if "type" in obj and fiware.is_entity(obj):
        converted, problems = fiware.to_compact(obj)
        if problems:
            return Rejected(raw or _text(original), problems, fiware.device_code_of(obj))
        obj = converted
        state = obj.pop("_state", "")
    code = obj.get("device")
    if code is None and bound_device is not None:
        code = bound_device.code
    if not isinstance(code, str) or not code:
        return Rejected(raw or _text(original), [reason("device", "缺少设备编码。")])
    if bound_device is not None and code != bound_device.code:
        return Rejected(
            raw or _text(original), [reason("device", f"报文设备 {code} 与认证设备不符。")], code
        )
    device = lookup(code)
    if device is None:
        return Rejected(raw or _text(original), [reason("device", f"未登记的设备：{code}。")], code)
    if not device.is_active:
        return Rejected(raw or _text(original), [reason("device", f"设备 {code} 已停用。")], code)
    problems = []
    time_text = obj.get("time")
    observed_at = parse_time(time_text)
    if observed_at is None:
        problems.append(reason("time", "缺少或无法解析观测时间（ISO 8601）。"))
    elif observed_at > now + MAX_CLOCK_SKEW:
        problems.append(reason("time", "观测时间晚于当前时间。"))
    elif observed_at < EARLIEST:
        problems.append(reason("time", "观测时间早于 2000 年。"))
    message_id = obj.get("id")
    if message_id is not None:
        kind = type(message_id)
        if kind is not str and (kind is bool or not isinstance(message_id, str | int)):
            problems.append(reason("id", "消息编号必须是文本或整数。"))
        elif not 0 < len(str(message_id)) <= MAX_MESSAGE_ID:
            problems.append(reason("id", f"消息编号长度须为 1–{MAX_MESSAGE_ID}。"))
    battery = obj.get("battery")
    if battery is not None and (not _finite(battery) or not 0 <= battery <= 100):
        problems.append(reason("battery", "电量必须是 0–100 之间的数值。"))
    device_type = device.device_type
    raw_values = obj.get("values")
    if raw_values == {} and state:  # a FIWARE Device entity: a heartbeat with no readings
        values, snapshot = {}, None
    else:
        values, value_problems, snapshot = check_values(raw_values, device_type.metrics)
        if value_problems:
            problems.extend(value_problems)
    if not obj.keys() <= MESSAGE_KEYS:
        for key in sorted(obj.keys() - MESSAGE_KEYS):
            problems.append(reason(key, f"无法识别的字段 {key}。"))
    if problems:
        return Rejected(raw or _text(original), problems, code)
    if message_id is None:
        message_id = content_id(code, str(time_text), raw_values)
    elif type(message_id) is not str:
        message_id = str(message_id)
    return Reading(
        device,
        message_id,
        observed_at,
        values,
        float(battery) if battery is not None else None,
        snapshot,
        state,
        device_type.code,
    )
