"""Every state change of the sensing app.

``ingest`` is the one way readings enter, from every transport (HTTP batch endpoint, MQTT worker,
FIWARE payloads, dead-letter replay). Per batch, with no per-message queries:

1. decode (JSON array, JSON lines, objects) and validate against a per-process device cache;
   what fails goes to ``DeadLetter`` with its reasons and does not affect the rest;
2. drop duplicates: within the batch and against stored ``(device, message_id)`` pairs;
3. in one transaction: insert the observations, advance the rules' per-device state (loaded
   once), raise / refresh / clear alarms, apply case policies, keep the latest value per device
   and the device's last-seen time, state and battery.

A reading older than the device's latest is stored (out of order is fine) but moves neither the
latest value nor the rule state: rules run in time order per device.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from towngrid.core import audit, config

from . import partitions, policies, rules, state, store, validation, water
from .alarms import AlarmBook, cleared_status
from .errors import SensingError
from .models import (
    ACTIVE_STATUSES,
    SEVERITY_RANK,
    Alarm,
    AlarmStatus,
    CasePolicy,
    DeadLetter,
    Device,
    DeviceState,
    DeviceType,
    Protocol,
    Rule,
    Severity,
    Transport,
)

OFFLINE_ALARM = "offline"
WATER_QUALITY = "water_quality"
DEVICE_CACHE_SECONDS = 30.0
DEDUP_CHUNK = 500
MQTT_DEVICE_TOPIC = ("towngrid", "devices")
_MISSING = object()
SEEN_EVERY = timedelta(minutes=1)
STORE_ATTEMPTS = 3


# --- device cache and secrets -------------------------------------------------------------------


class DeviceCache:
    """Devices by code, with their type, loaded in bulk and kept ``DEVICE_CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Device | None]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._items.clear()

    def load(self, codes: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            missing = [
                c
                for c in set(codes)
                if isinstance(c, str)
                and (c not in self._items or now - self._items[c][0] > DEVICE_CACHE_SECONDS)
            ]
        if not missing:
            return
        found: dict[str, Device] = {}
        types: dict[int, DeviceType] = {}
        for i in range(0, len(missing), DEDUP_CHUNK):
            chunk = missing[i : i + DEDUP_CHUNK]
            for device in Device.objects.filter(code__in=chunk).select_related("device_type"):
                # One DeviceType object per type: validation compiles a type's metric checks
                # once per object (validation.metric_checks).
                device.device_type = types.setdefault(device.device_type_id, device.device_type)
                found[device.code] = device
        with self._lock:
            for code in missing:
                self._items[code] = (now, found.get(code))

    def get(self, code: str) -> Device | None:
        item = self._items.get(code)
        return item[1] if item else None


devices = DeviceCache()


def clear_caches() -> None:
    """Every per-process cache of ingestion (also cleared around each test)."""
    devices.invalidate()
    rules.cache.invalidate()
    policies.cache.invalidate()
    state.cache.clear()


config.register_cache_clearer(clear_caches)


def _invalidate_caches(sender, **kwargs) -> None:
    if sender in (Device, DeviceType):
        devices.invalidate()
        # A device deleted (or moved to another type) leaves no state behind to be mistaken
        # for another's.
        state.cache.clear()
    if sender in (Rule, DeviceType, Device):
        rules.cache.invalidate()
    if sender is CasePolicy:
        policies.cache.invalidate()


for _model in (Device, DeviceType, Rule, CasePolicy):
    post_save.connect(
        _invalidate_caches, sender=_model, dispatch_uid=f"sensing-cache-{_model.__name__}"
    )
    post_delete.connect(
        _invalidate_caches, sender=_model, dispatch_uid=f"sensing-cache-del-{_model.__name__}"
    )


def hash_secret(secret: str) -> str:
    """Keyed SHA-256: device secrets are random 192-bit tokens, so a slow password hash buys
    nothing and would cost every HTTP batch a few hundred milliseconds."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"sensing-device:{secret}".encode(), hashlib.sha256
    ).hexdigest()


def authenticate_device(code: str, secret: str) -> Device | None:
    """The active device with this code whose secret matches, else None (constant time)."""
    if not code or not secret:
        return None
    devices.load([code])
    device = devices.get(code)
    expected = device.secret_hash if device is not None else hash_secret("no-such-device")
    ok = hmac.compare_digest(expected or "", hash_secret(secret))
    if device is None or not ok or not device.is_active or not device.secret_hash:
        return None
    return device


# --- ingestion ----------------------------------------------------------------------------------


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_letters: list[int] = field(default_factory=list)
    alarms_raised: int = 0
    alarms_cleared: int = 0
    cases: list[str] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)  # only when replaying (not stored)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "dead_letters": self.dead_letters,
            "alarms_raised": self.alarms_raised,
            "alarms_cleared": self.alarms_cleared,
            "cases": self.cases,
        }
        if self.reasons:
            out["reasons"] = self.reasons
        return out


def topic_device_code(topic: str) -> str | None:
    """``towngrid/devices/<code>/up`` → code."""
    parts = topic.split("/") if topic else []
    if len(parts) == 4 and tuple(parts[:2]) == MQTT_DEVICE_TOPIC and parts[3] == "up" and parts[2]:
        return parts[2]
    return None


def _code_hint(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    from . import fiware

    if fiware.is_entity(obj):
        return fiware.device_code_of(obj)
    code = obj.get("device")
    return code if isinstance(code, str) else None


def ingest(
    messages: Iterable[dict | str | bytes],
    *,
    transport: str,
    topic: str = "",
    device: Device | None = None,
    at: datetime | None = None,
    replaying: DeadLetter | None = None,
) -> IngestResult:
    """Validate and store a batch; see the module docstring. ``device`` is the device the
    transport authenticated: messages for any other device are refused. With ``replaying`` the
    rejections are returned in ``reasons`` instead of becoming new dead letters."""
    if transport not in Transport.values:
        raise SensingError("invalid", f"未知的接入通道：{transport}。")
    now = at or timezone.now()
    parsed = list(validation.explode(messages))
    bound_code = device.code if device is not None else topic_device_code(topic)
    codes = {bound_code} if bound_code else set()
    for item in parsed:
        obj = item.obj
        if type(obj) is dict:
            code = obj.get("device")
            if code is None or "type" in obj:
                code = _code_hint(obj)
            if type(code) is str:
                codes.add(code)
    devices.load(codes)
    bound = device
    if bound is None and bound_code:
        bound = devices.get(bound_code) or Device(code=bound_code)

    readings: list[validation.Reading] = []
    rejected: list[validation.Rejected] = []
    validate, lookup, refused = validation.validate, devices.get, validation.Rejected
    for item in parsed:
        if item.reasons:
            rejected.append(refused(item.raw, list(item.reasons), bound_code or ""))
            continue
        outcome = validate(item.obj, raw=item.raw, lookup=lookup, now=now, bound_device=bound)
        if type(outcome) is refused:
            rejected.append(outcome)
        else:
            readings.append(outcome)

    fresh, duplicates = _deduplicate(readings)
    partitions.ensure_months(r.observed_at for r in fresh)
    for attempt in range(STORE_ATTEMPTS):
        try:
            with transaction.atomic():
                result = _store(fresh, rejected, now, transport, topic, replaying)
            break
        except store.StaleState:
            # Another process wrote these devices' state since this one kept it
            # (sensing/state.py): the batch is done again from the database.
            if attempt == STORE_ATTEMPTS - 1:
                raise
        except IntegrityError:
            # Another process raised the same alarm meanwhile (one active alarm per device and
            # type): done again from the database, which now has it.
            if attempt == STORE_ATTEMPTS - 1:
                raise
    result.duplicates += duplicates
    return result


def _deduplicate(readings: list[validation.Reading]) -> tuple[list[validation.Reading], int]:
    """Drop repeats within the batch (the same device, message id and time). Copies stored
    before are skipped by the insert's ``ON CONFLICT DO NOTHING`` on the same key."""
    pairs = {(r.device.id, r.message_id) for r in readings}
    if len(pairs) == len(readings):
        return readings, 0  # the usual batch: no message id twice, so no repeat
    seen: set[tuple[int, str, datetime]] = set()
    unique: list[validation.Reading] = []
    for r in readings:
        key = (r.device.id, r.message_id, r.observed_at)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique, len(readings) - len(unique)


def _save_snapshot(reading: validation.Reading) -> str:
    digest = hashlib.sha256(reading.snapshot).hexdigest()[:16]
    ext = "png" if reading.snapshot.startswith(validation.PNG_MAGIC) else "jpg"
    t = timezone.localtime(reading.observed_at)
    name = f"sensing/snapshots/{t:%Y/%m}/{reading.device.code}-{digest}.{ext}"
    return default_storage.save(name, ContentFile(reading.snapshot))


def _dead_letters(
    rejected: list[validation.Rejected], now: datetime, transport: str, topic: str
) -> list[int]:
    if not rejected:
        return []
    rows = [
        DeadLetter(
            received_at=now,
            transport=transport,
            topic=topic[:200],
            payload=r.raw,
            reasons=r.reasons,
            device_code=(r.device_code or "")[:64],
        )
        for r in rejected
    ]
    DeadLetter.objects.bulk_create(rows, batch_size=500)
    if rows and rows[0].pk is None:  # a backend without RETURNING on bulk insert
        return list(
            DeadLetter.objects.filter(received_at=now, transport=transport)
            .order_by("-id")
            .values_list("id", flat=True)[: len(rows)]
        )
    return [row.pk for row in rows]


def _store(
    fresh: list[validation.Reading],
    rejected: list[validation.Rejected],
    now: datetime,
    transport: str,
    topic: str,
    replaying: DeadLetter | None,
) -> IngestResult:
    result = IngestResult(stored=len(fresh), rejected=len(rejected))
    if replaying is not None:
        result.reasons = [reason for r in rejected for reason in r.reasons]
    else:
        result.dead_letters = _dead_letters(rejected, now, transport, topic)
    if not fresh:
        return result
    for r in fresh:
        if r.type_code == WATER_QUALITY:
            water.derive(r.values)
        if r.snapshot:
            r.values[validation.SNAPSHOT_KEY] = _save_snapshot(r)
    time_texts: dict[int, object] = {}
    skipped = store.insert_observations(
        [(r.device.id, r.observed_at, r.message_id, r.values) for r in fresh], now, time_texts
    )
    if skipped:
        # Stored already (a redelivery, or another process a moment ago): not again.
        fresh = [r for r in fresh if (r.device.id, r.message_id, r.observed_at) not in skipped]
        result.duplicates += result.stored - len(fresh)
        result.stored = len(fresh)
        if not fresh:
            return result

    by_device: dict[int, list[validation.Reading]] = defaultdict(list)
    for r in fresh:
        by_device[r.device.id].append(r)
    device_ids = list(by_device)
    entries = state.cache.take(device_ids)
    missing = [i for i in device_ids if i not in entries]
    if missing:
        entries.update(state.load(missing))
    active: dict[tuple[int, str], Alarm] = {}
    for entry in entries.values():
        active.update(entry.alarms)
    book = AlarmBook(active=active)
    latest_rows: list[tuple[int, datetime, dict]] = []
    battery_changed: list[tuple[Device, float]] = []
    for_device = rules.cache.for_device

    for device_id, items in by_device.items():
        if len(items) > 1:
            items.sort(key=_observed_at)
        device = items[0].device
        entry = entries[device_id]
        # The device reported: it is online again.
        if book.has_active(device_id, OFFLINE_ALARM):
            book.clear(device, OFFLINE_ALARM, now, "设备恢复上报")
        previous = entry.latest
        newest_at = previous[0] if previous else None
        # Updated in place: the entry is this batch's alone (taken from the cache, or loaded),
        # and dropped if the batch does not commit.
        merged: dict = previous[1] if previous else {}
        newest = None
        device_rules = for_device(device_id, device.device_type_id)
        specs = device_rules.specs
        for r in items:
            if newest_at is not None and r.observed_at <= newest_at:
                continue  # late: stored, but the state has moved past it
            newest, newest_at = r, r.observed_at
            if specs:
                _run_rules(device, device_rules, entry.states, book, r)
            # The latest value of every metric, each from the newest reading that had it.
            merged.update(r.values)
        if newest is not None:
            latest_rows.append((device_id, newest_at, merged))
            if newest.battery is not None and newest.battery != device.battery:
                battery_changed.append((device, newest.battery))

    store.write_states(entries, time_texts)
    versions = store.write_latest(latest_rows)
    for device_id, newest_at, merged in latest_rows:
        entry = entries[device_id]
        if versions.get(device_id) != entry.version + 1:
            raise store.StaleState(f"设备 {device_id} 的状态已被其他进程更新。")
        entry.version, entry.latest = versions[device_id], (newest_at, merged)
    seen = [items[0].device for items in by_device.values() if _needs_seen(items[0].device, now)]
    store.mark_seen([d.id for d in seen], now)
    if battery_changed:
        Device.objects.bulk_update(
            [Device(id=d.id, battery=value) for d, value in battery_changed],
            ["battery"],
            batch_size=500,
        )
    # The cached devices learn what was written only once it has committed: a batch redone after
    # a rollback must write it again.
    transaction.on_commit(partial(_devices_written, seen, battery_changed, now))

    book.settle()
    for alarm, device, values, snapshot, at, policy in list(book.to_case.values()):
        case = policies.apply(alarm, device, values, snapshot, at, policy=policy)
        if case is not None:
            result.cases.append(case.number)
    book.flush()
    result.alarms_raised = len(book.raised)
    result.alarms_cleared = len(book.cleared)
    # What this batch leaves is what the next one starts from: kept once it has committed.
    for entry in entries.values():
        entry.alarms = {}
    for key, alarm in book.active.items():
        entries[key[0]].alarms[key] = alarm
    transaction.on_commit(partial(state.cache.put, entries))
    return result


def _observed_at(reading: validation.Reading) -> datetime:
    return reading.observed_at


def _run_rules(
    device: Device, device_rules, states: dict[str, rules.State], book: AlarmBook, reading
) -> None:
    """Advance the device's rule states (by rule code) by one reading; fire and clear alarms."""
    firing: dict[str, list[rules.RuleSpec]] | None = None
    clearing: set[str] | None = None
    values, at = reading.values, reading.observed_at
    advance, fire, clear, missing = rules.advance, rules.FIRE, rules.CLEAR, _MISSING
    for spec in device_rules.specs:
        value = values.get(spec.metric, missing)
        if value is missing:
            continue  # nothing to say about this rule: its state does not move
        rule_state = states.get(spec.code)
        if rule_state is None:
            rule_state = states[spec.code] = rules.State()
        elif (
            not spec.is_rate
            and not rule_state.active
            and not rule_state.consecutive
            and rule_state.since is None
            and spec.test(value) is False
        ):
            continue  # the common case, idle and still idle: ``advance`` would change nothing
        outcome = advance(spec, rule_state, value, at)
        if outcome is None:
            continue
        if outcome == fire:
            if firing is None:
                firing = {}
            firing.setdefault(spec.alarm_type, []).append(spec)
        elif outcome == clear:
            if clearing is None:
                clearing = set()
            clearing.add(spec.alarm_type)
    if firing is None and clearing is None:
        return
    firing = firing or {}
    clearing = clearing or set()
    empty = rules.State()

    def is_active(spec) -> bool:
        return states.get(spec.code, empty).active

    for alarm_type, fired in firing.items():
        of_type = device_rules.by_type[alarm_type]
        if len(of_type) == 1:
            worst = trigger = fired[0]
        else:
            # The alarm's severity: the worst rule of its type that is active now.
            active = [s for s in of_type if is_active(s)]
            worst = max(active or fired, key=_rank)
            trigger = max(fired, key=_rank)
        book.fire(
            device,
            alarm_type=alarm_type,
            name=worst.alarm_name,
            severity=worst.severity,
            at=at,
            details=partial(_alarm_details, device, trigger, values, at),
            values=values,
            snapshot=reading.snapshot,
        )
    for alarm_type in clearing - set(firing):
        if not any(is_active(s) for s in device_rules.by_type[alarm_type]):
            book.clear(device, alarm_type, at, "恢复正常（回差）")


def _devices_written(
    seen: list[Device], battery_changed: list[tuple[Device, float]], now: datetime
) -> None:
    for device in seen:
        device.last_seen_at, device.state = now, DeviceState.ONLINE
    for device, value in battery_changed:
        device.battery = value


def _needs_seen(device: Device, now: datetime) -> bool:
    """Write the device's last-seen time at most once a ``SEEN_EVERY`` (and whenever it comes
    back online): a device reporting every few seconds would otherwise rewrite its row, and its
    indexes, with every batch. Silence is judged in minutes, so the minute lost is nothing."""
    last = device.last_seen_at
    return (
        device.state != DeviceState.ONLINE
        or last is None
        or not timedelta(0) <= now - last < SEEN_EVERY
    )


def _rank(spec: rules.RuleSpec) -> int:
    return spec.rank


def _alarm_details(device: Device, trigger: rules.RuleSpec, values: dict, at: datetime) -> dict:
    """What an alarm shows of the reading that raised or last refreshed it."""
    metric_def = device.device_type.metrics.get(trigger.metric, {})
    details = {
        "rule": trigger.code,
        "metric": trigger.metric,
        "metric_name": metric_def.get("name", trigger.metric),
        "value": values.get(trigger.metric),
        "threshold": trigger.text_value
        if trigger.operator in ("is", "true")
        else trigger.threshold,
        "observed_at": at.isoformat(),
    }
    for extra in ("confidence", "event", validation.SNAPSHOT_KEY, "wq_class", "black_odour"):
        if extra in values:
            details[extra] = values[extra]
    return details


# --- dead letters -------------------------------------------------------------------------------


def replay_dead_letter(
    dead_letter: DeadLetter, *, actor, payload: str | None = None, at: datetime | None = None
) -> IngestResult:
    """Ingest a dead letter again (e.g. after registering its device), optionally with a
    corrected payload. The outcome is kept on the dead letter; a still-invalid payload updates
    its reasons instead of making a new dead letter."""
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        if locked.replayed_at is not None and (locked.replay_result or {}).get("stored"):
            raise SensingError("already_replayed", "该死信已成功重放。")
        text = locked.payload if payload is None else payload
        result = ingest(
            [text], transport=locked.transport, topic=locked.topic, at=at, replaying=locked
        )
        locked.replayed_at = at or timezone.now()
        locked.replay_result = result.as_dict()
        changes: dict[str, Any] = {
            "result": {k: v for k, v in result.as_dict().items() if k != "reasons"}
        }
        if payload is not None and payload != dead_letter.payload:
            changes["payload"] = [dead_letter.payload[:500], payload[:500]]
            locked.payload = payload
        if result.reasons:
            locked.reasons = result.reasons
        locked.save(update_fields=["replayed_at", "replay_result", "payload", "reasons"])
        audit.record(actor, "sensing.deadletter_replay", locked, changes=changes)
    dead_letter.refresh_from_db()
    return result


# --- alarms -------------------------------------------------------------------------------------


def _check_alarm_access(alarm: Alarm, actor) -> None:
    from towngrid.accounts.access import can_see, has_capability

    if not has_capability(actor, "sensing.ack"):
        raise SensingError("forbidden", "您没有处理告警的权限。")
    if not can_see(actor, alarm):
        raise SensingError("not_found", "告警不存在或不在您的管辖范围内。")


def _locked(alarm: Alarm, expected_version: int | None) -> Alarm:
    current = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if expected_version is not None and current.version != expected_version:
        raise SensingError("conflict", "告警已被他人处理，请刷新后重试。")
    return current


def acknowledge(
    alarm: Alarm, *, actor, note: str = "", at: datetime | None = None, expected_version=None
) -> Alarm:
    """确认: the alarm has been seen; it stays active until cleared."""
    _check_alarm_access(alarm, actor)
    at = at or timezone.now()
    with transaction.atomic():
        current = _locked(alarm, expected_version)
        if current.status in (AlarmStatus.ACTIVE_ACK, AlarmStatus.CLEARED_ACK):
            raise SensingError("already_acknowledged", "告警已确认。")
        current.status = (
            AlarmStatus.ACTIVE_ACK
            if current.status == AlarmStatus.ACTIVE_UNACK
            else AlarmStatus.CLEARED_ACK
        )
        current.acknowledged_at = at
        current.acknowledged_by = actor
        current.version += 1
        current.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "version"])
        audit.record(
            actor, "sensing.alarm_ack", current, changes={"status": current.status}, reason=note
        )
    return current


def clear(
    alarm: Alarm, *, actor, note: str = "", at: datetime | None = None, expected_version=None
) -> Alarm:
    """清除 by hand (e.g. the pump was repaired). If the condition persists, the next reading
    raises a new alarm."""
    _check_alarm_access(alarm, actor)
    at = at or timezone.now()
    with transaction.atomic():
        current = _locked(alarm, expected_version)
        if current.status not in ACTIVE_STATUSES:
            raise SensingError("already_cleared", "告警已清除。")
        current.status = cleared_status(current)
        current.cleared_at = at
        current.cleared_by = actor
        current.details = {**current.details, "cleared_by": "manual"}
        current.version += 1
        current.save(update_fields=["status", "cleared_at", "cleared_by", "details", "version"])
        audit.record(
            actor, "sensing.alarm_clear", current, changes={"status": current.status}, reason=note
        )
    return current


# --- silence and event expiry ----------------------------------------------------------------------


def silence_minutes(device: Device) -> int:
    value = (device.settings or {}).get("silence_minutes")
    return (
        int(value) if isinstance(value, int) and value > 0 else device.device_type.silence_minutes
    )


def check_silent_devices(now: datetime | None = None) -> dict[str, int]:
    """The heartbeat sweep (run every minute by the worker and ``towngrid sensing check-silent``):
    a device that reported before but not for longer than its silence time goes offline with an
    ``offline`` alarm; event alarms (AI, e-bike) not repeated for their rule's
    ``auto_clear_minutes`` are cleared."""
    now = now or timezone.now()
    offline = 0
    shortest = min(DeviceType.objects.values_list("silence_minutes", flat=True), default=0)
    # Devices past the shortest type silence, and those with their own silence setting.
    candidates = (
        Device.objects.filter(is_active=True, last_seen_at__isnull=False)
        .filter(
            Q(last_seen_at__lt=now - timedelta(minutes=shortest))
            | Q(settings__has_key="silence_minutes")
        )
        .exclude(state=DeviceState.OFFLINE)
        .select_related("device_type")
    )
    with transaction.atomic():
        silent = [
            d for d in candidates if d.last_seen_at < now - timedelta(minutes=silence_minutes(d))
        ]
        if silent:
            book = AlarmBook([d.pk for d in silent])
            for device in silent:
                minutes = int((now - device.last_seen_at).total_seconds() // 60)
                book.fire(
                    device,
                    alarm_type=OFFLINE_ALARM,
                    name="设备离线",
                    severity=Severity.MAJOR,
                    at=now,
                    details={
                        "last_seen_at": device.last_seen_at.isoformat(),
                        "silent_minutes": minutes,
                    },
                    values={},
                )
            book.flush()
            Device.objects.filter(pk__in=[d.pk for d in silent]).update(state=DeviceState.OFFLINE)
            store.bump_versions(d.pk for d in silent)
            offline = len(silent)
        expired = _expire_event_alarms(now)
    return {"offline": offline, "expired": expired}


def _expire_event_alarms(now: datetime) -> int:
    expiring: dict[str, int] = {}
    for rule in Rule.objects.filter(is_active=True, auto_clear_minutes__isnull=False):
        minutes = rule.auto_clear_minutes
        expiring[rule.alarm_type] = max(expiring.get(rule.alarm_type, 0), minutes)
    count = 0
    for alarm_type, minutes in expiring.items():
        stale = list(
            Alarm.objects.filter(
                alarm_type=alarm_type,
                status__in=ACTIVE_STATUSES,
                last_seen_at__lt=now - timedelta(minutes=minutes),
            ).select_related("device")
        )
        if not stale:
            continue
        book = AlarmBook([a.device_id for a in stale])
        for alarm in stale:
            book.clear(alarm.device, alarm_type, now, f"{minutes} 分钟内未再发生")
            count += 1
        book.flush()
        store.bump_versions({a.device_id for a in stale})
    return count


# --- devices ------------------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def _micro_grid(lng: float, lat: float):
    from towngrid.grids.index import lookup
    from towngrid.grids.models import Level

    path = lookup(lng, lat)
    if not path:
        raise SensingError(
            "outside_town", "该位置不在本镇网格范围内。", details={"lng": lng, "lat": lat}
        )
    micro = [n for n in path if n.level == Level.MICRO]
    return micro[0] if micro else path[-1]


DEVICE_FIELDS = ("name", "model", "address", "protocol", "settings", "battery", "component")


def create_device(
    *,
    actor,
    code: str,
    name: str,
    device_type: DeviceType | str,
    lng: float,
    lat: float,
    owner_department=None,
    grid=None,
    **fields: Any,
) -> tuple[Device, str]:
    """Register a device, located in its micro-grid; returns it with its ingestion secret (shown
    once: only its hash is kept)."""
    code = (code or "").strip()
    if not code or len(code) > 64 or "/" in code or "+" in code or "#" in code:
        raise SensingError(
            "invalid", "设备编码必须是 1–64 个字符，且不含 / + #。", details={"field": "code"}
        )
    if Device.objects.filter(code=code).exists():
        raise SensingError("invalid", f"设备编码 {code} 已存在。", details={"field": "code"})
    if isinstance(device_type, str):
        found = DeviceType.objects.filter(code=device_type).first()
        if found is None:
            raise SensingError(
                "invalid", f"未知的设备类型：{device_type}。", details={"field": "device_type"}
            )
        device_type = found
    unknown = set(fields) - set(DEVICE_FIELDS)
    if unknown:
        raise SensingError("invalid", f"无法识别的字段：{', '.join(sorted(unknown))}。")
    if fields.get("protocol", Protocol.MQTT) not in Protocol.values:
        raise SensingError("invalid", "未知的接入协议。", details={"field": "protocol"})
    grid = grid or _micro_grid(lng, lat)
    secret = new_secret()
    with transaction.atomic():
        device = Device.objects.create(
            code=code,
            name=(name or code)[:100],
            device_type=device_type,
            lng=lng,
            lat=lat,
            grid=grid,
            grid_code=grid.code,
            owner_department=owner_department,
            secret_hash=hash_secret(secret),
            secret_rotated_at=timezone.now(),
            **fields,
        )
        audit.record(
            actor,
            "sensing.device_create",
            device,
            changes={"type": device_type.code, "grid": grid.code},
        )
    return device, secret


def rotate_secret(device: Device, *, actor) -> str:
    """A new ingestion secret; the old one stops working at once."""
    secret = new_secret()
    with transaction.atomic():
        device.secret_hash = hash_secret(secret)
        device.secret_rotated_at = timezone.now()
        device.save(update_fields=["secret_hash", "secret_rotated_at", "updated_at"])
        audit.record(actor, "sensing.device_rotate_secret", device)
    devices.invalidate()
    return secret


def set_device_active(device: Device, *, actor, active: bool, reason: str = "") -> Device:
    with transaction.atomic():
        device.is_active = active
        device.save(update_fields=["is_active", "updated_at"])
        audit.record(
            actor, "sensing.device_active", device, changes={"is_active": active}, reason=reason
        )
    return device


def severity_at_least(severity: str, minimum: str) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]
