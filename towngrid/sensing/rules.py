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

import operator as op_
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
    # The condition compiled once per rule (``compile_condition``): evaluated for every reading.
    test: Callable[[Any], bool | None] = field(compare=False, repr=False)
    is_rate: bool = False

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
        test=compile_condition(rule.operator, rule.threshold, rule.text_value),
        is_rate=rule.operator in RATE_OPERATORS,
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
        # Without the lock when fresh: this runs for every device of every batch.
        key = (device_id, device_type_id)
        found = self._effective.get(key)
        if found is not None and time.monotonic() - self._loaded_at <= CACHE_SECONDS:
            return found
        with self._lock:
            if time.monotonic() - self._loaded_at > CACHE_SECONDS:
                self._load()
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


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    Operator.GT: op_.gt,
    Operator.RATE_GT: op_.gt,
    Operator.GE: op_.ge,
    Operator.LT: op_.lt,
    Operator.RATE_LT: op_.lt,
    Operator.LE: op_.le,
    Operator.EQ: op_.eq,
    Operator.NE: op_.ne,
}


def _slow_condition(op: str, threshold: float | None, text_value: str, value) -> bool | None:
    """The condition for any value (the compiled tests' fallback for the uncommon kinds)."""
    if op == Operator.IS:
        return value == text_value
    if op == Operator.TRUE:
        return bool(value) if isinstance(value, bool | int | float) else None
    number = _number(value)
    if number is None or threshold is None:
        if op == Operator.EQ and isinstance(value, str):
            return value == text_value
        if op == Operator.NE and isinstance(value, str):
            return value != text_value
        return None
    compare = _COMPARE.get(op)
    return compare(number, threshold) if compare is not None else None


def compile_condition(
    op: str, threshold: float | None, text_value: str
) -> Callable[[Any], bool | None]:
    """value → does it meet the condition (None: a value of the wrong kind). A closure per rule,
    with a fast path for the plain numbers that nearly every reading carries."""
    if op == Operator.IS:
        return lambda value: value == text_value
    compare = _COMPARE.get(op)
    if compare is None or threshold is None:
        return lambda value: _slow_condition(op, threshold, text_value, value)

    def test(value) -> bool | None:
        kind = type(value)
        if kind is float or kind is int:
            return compare(value, threshold)
        return _slow_condition(op, threshold, text_value, value)

    return test


def condition(spec: RuleSpec, value) -> bool | None:
    """Does the value meet the rule's condition? None when the value is of the wrong kind."""
    return spec.test(value)


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
    return advance(spec, state, values[spec.metric], at)


def advance(spec: RuleSpec, state: State, value: Any, at: datetime) -> str | None:
    """``evaluate`` for a reading that has the rule's metric (its value)."""
    if spec.is_rate:
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
    met = spec.test(value)
    if not met:
        if met is None:
            return None
        # The common case, by far: the condition does not hold and nothing was pending.
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
