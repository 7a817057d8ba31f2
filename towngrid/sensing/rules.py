"""Threshold rules evaluated in memory.

The rule table is loaded once and cached per process (``RuleCache``; dropped when a Rule is
saved or deleted in this process, and at most ``CACHE_SECONDS`` old in other processes, e.g. the
MQTT worker). Each device's effective rules are its type's rules with its own overrides (same
``code``) replacing them; an inactive override switches the type's rule off for that device.

``evaluate`` advances one rule's per-device state (``RuleState``) by one reading and says what
happened: ``FIRE`` (the condition holds and the rule is active: raise or refresh the alarm),
``CLEAR`` (the rule stopped being active: its clear condition holds), ``HOLD`` (active, between
the threshold and the clear threshold: nothing changes) or ``None`` (not applicable / pending).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import FALLING_OPERATORS, RISING_OPERATORS, SEVERITY_RANK, Operator

CACHE_SECONDS = 30.0
FIRE, CLEAR, HOLD = "fire", "clear", "hold"
RATE_OPERATORS = frozenset({Operator.RATE_GT, Operator.RATE_LT})
EVENT_OPERATORS = frozenset({Operator.IS, Operator.TRUE})


@dataclass(slots=True)
class State:
    """One rule's memory for one device (the in-memory twin of a ``RuleState`` row)."""

    consecutive: int = 0
    since: datetime | None = None
    active: bool = False
    last_value: float | None = None
    last_at: datetime | None = None
    dirty: bool = False


@dataclass(slots=True, frozen=True)
class RuleSpec:
    code: str
    name: str
    metric: str
    operator: str
    threshold: float | None
    text_value: str
    clear_threshold: float | None
    duration: timedelta
    repeat_count: int
    auto_clear_minutes: int | None
    severity: str
    alarm_type: str
    alarm_name: str

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    @property
    def is_event(self) -> bool:
        """Event rules (an AI detection, an e-bike) are not cleared by the next reading that
        lacks the event: they clear after ``auto_clear_minutes`` or by hand."""
        return self.auto_clear_minutes is not None


def spec_of(rule) -> RuleSpec:
    return RuleSpec(
        code=rule.code,
        name=rule.name,
        metric=rule.metric,
        operator=rule.operator,
        threshold=rule.threshold,
        text_value=rule.text_value,
        clear_threshold=rule.clear_threshold,
        duration=timedelta(minutes=rule.duration_minutes),
        repeat_count=max(1, rule.repeat_count),
        auto_clear_minutes=rule.auto_clear_minutes,
        severity=rule.severity,
        alarm_type=rule.alarm_type,
        alarm_name=rule.alarm_name or rule.name,
    )


@dataclass(slots=True, frozen=True)
class DeviceRules:
    """A device's effective rules, and the same grouped by alarm type."""

    specs: tuple[RuleSpec, ...]
    by_type: dict[str, tuple[RuleSpec, ...]]


class RuleCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._by_type: dict[int, dict[str, RuleSpec]] = {}
        self._overrides: dict[int, dict[str, RuleSpec | None]] = {}
        self._effective: dict[tuple[int, int], DeviceRules] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def _load(self) -> None:
        from .models import Rule

        by_type: dict[int, dict[str, RuleSpec]] = {}
        overrides: dict[int, dict[str, RuleSpec | None]] = {}
        for rule in Rule.objects.all().order_by("id"):
            if rule.device_id is None:
                if rule.is_active:
                    by_type.setdefault(rule.device_type_id, {})[rule.code] = spec_of(rule)
            else:
                overrides.setdefault(rule.device_id, {})[rule.code] = (
                    spec_of(rule) if rule.is_active else None
                )
        self._by_type, self._overrides, self._effective = by_type, overrides, {}
        self._loaded_at = time.monotonic()

    def for_device(self, device_id: int, device_type_id: int) -> DeviceRules:
        with self._lock:
            if time.monotonic() - self._loaded_at > CACHE_SECONDS:
                self._load()
            key = (device_id, device_type_id)
            found = self._effective.get(key)
            if found is None:
                merged: dict[str, RuleSpec | None] = dict(self._by_type.get(device_type_id, {}))
                merged.update(self._overrides.get(device_id, {}))
                specs = tuple(spec for spec in merged.values() if spec is not None)
                by_type: dict[str, list[RuleSpec]] = {}
                for spec in specs:
                    by_type.setdefault(spec.alarm_type, []).append(spec)
                found = DeviceRules(specs, {k: tuple(v) for k, v in by_type.items()})
                self._effective[key] = found
            return found


cache = RuleCache()


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def condition(spec: RuleSpec, value) -> bool | None:
    """Does the value meet the rule's condition? None when the value is of the wrong kind."""
    op = spec.operator
    if op == Operator.IS:
        return value == spec.text_value
    if op == Operator.TRUE:
        return bool(value) if isinstance(value, bool | int | float) else None
    number = _number(value)
    if number is None or spec.threshold is None:
        if op == Operator.EQ and isinstance(value, str):
            return value == spec.text_value
        if op == Operator.NE and isinstance(value, str):
            return value != spec.text_value
        return None
    t = spec.threshold
    if op in (Operator.GT, Operator.RATE_GT):
        return number > t
    if op == Operator.GE:
        return number >= t
    if op in (Operator.LT, Operator.RATE_LT):
        return number < t
    if op == Operator.LE:
        return number <= t
    if op == Operator.EQ:
        return number == t
    if op == Operator.NE:
        return number != t
    return None


def cleared(spec: RuleSpec, value) -> bool:
    """Hysteresis: an active rule clears only once the value is back past the clear threshold."""
    if spec.clear_threshold is None:
        return True
    number = _number(value)
    if number is None:
        return True
    if spec.operator in RISING_OPERATORS:
        return number <= spec.clear_threshold
    if spec.operator in FALLING_OPERATORS:
        return number >= spec.clear_threshold
    return True


def evaluate(spec: RuleSpec, state: State, values: dict, at: datetime) -> str | None:
    """Advance ``state`` by one reading; set ``state.dirty`` when it changed."""
    if spec.metric not in values:
        return None
    value = values[spec.metric]
    if spec.operator in RATE_OPERATORS:
        number = _number(value)
        if number is None:
            return None
        previous, previous_at = state.last_value, state.last_at
        state.last_value, state.last_at = number, at
        state.dirty = True
        if previous is None or previous_at is None or at <= previous_at:
            return None
        # Change per minute since the previous reading.
        value = (number - previous) / ((at - previous_at).total_seconds() / 60.0)
    met = condition(spec, value)
    if met is None:
        return None
    if met:
        state.consecutive += 1
        if state.since is None:
            state.since = at
        state.dirty = True
        if state.active:
            return FIRE
        if state.consecutive >= spec.repeat_count and at - state.since >= spec.duration:
            state.active = True
            return FIRE
        return None
    if state.consecutive or state.since is not None:
        state.consecutive, state.since = 0, None
        state.dirty = True
    if not state.active:
        return None
    if spec.is_event:
        state.active = False
        state.dirty = True
        return None
    if cleared(spec, value):
        state.active = False
        state.dirty = True
        return CLEAR
    return HOLD
