"""Configuration as data: every tunable value has a registered key, a default and a validator;
administrators change it in the admin (``core.Setting``) without a deploy.

``get(key)`` is on hot paths (every deadline reads the office hours), so the ``Setting`` table is
read once and kept per process. The cache is dropped when a ``Setting`` row is saved or deleted in
this process (signals) and, because another process (the admin's web worker) may have changed a
row, it is also reloaded at most ``RELOAD_SECONDS`` after it was read.

Other apps register their own keys with ``register(...)`` at import time of the module that
reads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .models import Setting

log = logging.getLogger(__name__)

# How stale a process's view of the Setting table may become when another process changes it.
RELOAD_SECONDS = 30.0

Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class ConfigKey:
    """One known configuration key. ``validate`` returns the normalised value or raises
    ``ValidationError`` with a Chinese message."""

    key: str
    default: Any
    label: str
    validate: Validator
    help_text: str = ""


REGISTRY: dict[str, ConfigKey] = {}


def register(
    key: str, default: Any, label: str, validate: Validator, help_text: str = ""
) -> ConfigKey:
    """Register a key (idempotent for the same key; the last registration wins)."""
    entry = ConfigKey(key, validate(default), label, validate, help_text)
    REGISTRY[key] = entry
    return entry


# ---- validators ---------------------------------------------------------------------------


def positive_int(minimum: int = 1, maximum: int | None = None) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("应为整数。")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError("应为整数。") from None
        if isinstance(value, float) and number != value:
            raise ValidationError("应为整数。")
        if number < minimum:
            raise ValidationError(f"不能小于 {minimum}。")
        if maximum is not None and number > maximum:
            raise ValidationError(f"不能大于 {maximum}。")
        return number

    return check


def _minutes(text: Any) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValidationError(f"时间“{text}”应写作 HH:MM，例如 09:00。")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError:
        raise ValidationError(f"时间“{text}”应写作 HH:MM，例如 09:00。") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValidationError(f"时间“{text}”不是有效的钟点。")
    return hours * 60 + minutes


def office_hours(value: Any) -> list[list[str]]:
    """A non-empty list of [start, end] "HH:MM" periods, each start before its end, in order
    and not overlapping, e.g. [["09:00", "12:00"], ["13:00", "17:30"]]."""
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError(
            '办公时间应为时段列表，例如 [["09:00", "12:00"], ["13:00", "17:30"]]。'
        )
    out: list[list[str]] = []
    previous_end = -1
    for period in value:
        if not isinstance(period, list | tuple) or len(period) != 2:
            raise ValidationError("每个办公时段应为 [开始, 结束] 两个时间。")
        start, end = _minutes(period[0]), _minutes(period[1])
        if start >= end:
            raise ValidationError(f"办公时段 {period[0]}–{period[1]} 的开始应早于结束。")
        if start < previous_end:
            raise ValidationError("办公时段应按时间先后排列且不能重叠。")
        previous_end = end
        out.append([str(period[0]), str(period[1])])
    return out


# ---- the town's keys ----------------------------------------------------------------------

register(
    "calendar.office_hours",
    [["09:00", "12:00"], ["13:00", "17:30"]],
    "办公时间",
    office_hours,
    "工作日内计算“工作时”时限的办公时段（北京时间）。",
)
register(
    "cases.duplicate_radius_m",
    50,
    "重复案件判定距离（米）",
    positive_int(1, 5000),
    "同一小类的新上报在此距离内有未结案件时，提示为疑似重复。",
)
register(
    "cases.photo_max_bytes",
    10 * 1024 * 1024,
    "照片大小上限（字节）",
    positive_int(1024, 200 * 1024 * 1024),
)
register(
    "cases.photo_max_pixels",
    64_000_000,
    "照片像素上限",
    positive_int(10_000, 500_000_000),
    "宽 × 高超过此值的图片不予接收（防止解压炸弹）。",
)
register(
    "cases.overdue_check_minutes",
    10,
    "超时检查间隔（分钟）",
    positive_int(1, 24 * 60),
)


# ---- reading ------------------------------------------------------------------------------

_lock = threading.Lock()
_values: dict[str, Any] | None = None
_loaded_at = 0.0


def clear_cache(**_: Any) -> None:
    """Forget the cached Setting rows (signal receiver; tests call it too)."""
    global _values
    _values = None


# Every per-process cache of configuration data (settings, calendar overrides, time limits)
# registers its clearer here. A rolled-back transaction sends no delete signal, so the test
# suite clears them all around each test: ``config.clear_all_caches()``.
_CACHE_CLEARERS: list[Callable[[], None]] = [clear_cache]


def register_cache_clearer(clear: Callable[[], None]) -> None:
    if clear not in _CACHE_CLEARERS:
        _CACHE_CLEARERS.append(clear)


def clear_all_caches() -> None:
    """Drop every registered configuration cache in this process."""
    for clear in _CACHE_CLEARERS:
        clear()


def _load() -> dict[str, Any]:
    global _values, _loaded_at
    values = _values
    if values is not None and time.monotonic() - _loaded_at < RELOAD_SECONDS:
        return values
    with _lock:
        values = dict(Setting.objects.values_list("key", "value"))
        _values, _loaded_at = values, time.monotonic()
    return values


def get(key: str) -> Any:
    """The value of ``key``: the stored Setting if there is a valid one, else the default.

    Unknown keys raise ``KeyError`` (a typo must not silently read a default). A stored value
    that no longer validates (edited by hand in the database) is logged and ignored.
    """
    entry = REGISTRY[key]
    values = _load()
    if key not in values:
        return entry.default
    try:
        return entry.validate(values[key])
    except ValidationError:
        log.warning("invalid stored value for setting %s, using the default", key)
        return entry.default


def validate(key: str, value: Any) -> Any:
    """The normalised value, or ``ValidationError`` (Chinese message); ``KeyError`` if unknown."""
    return REGISTRY[key].validate(value)


def set_value(key: str, value: Any, actor=None, *, reason: str = "") -> Any:
    """Validate and store ``value`` for ``key``, with an audit event. Returns the stored value."""
    from . import audit

    entry = REGISTRY[key]
    value = entry.validate(value)
    with transaction.atomic():
        old = Setting.objects.filter(key=key).values_list("value", flat=True).first()
        setting, _ = Setting.objects.update_or_create(
            key=key, defaults={"value": value, "note": entry.label[:200]}
        )
        audit.record(actor, "core.setting.set", setting, changes={key: [old, value]}, reason=reason)
    clear_cache()
    return value


def reset(key: str, actor=None, *, reason: str = "") -> None:
    """Remove the stored value so the default applies again, with an audit event."""
    from . import audit

    REGISTRY[key]  # noqa: B018 - unknown keys raise KeyError
    with transaction.atomic():
        setting = Setting.objects.filter(key=key).first()
        if setting is None:
            return
        audit.record(
            actor,
            "core.setting.reset",
            setting,
            changes={key: [setting.value, None]},
            reason=reason,
        )
        setting.delete()
    clear_cache()


def describe() -> list[dict[str, Any]]:
    """Every registered key with its current and default value (for the admin and docs)."""
    return [
        {
            "key": e.key,
            "label": e.label,
            "value": get(e.key),
            "default": e.default,
            "help_text": e.help_text,
        }
        for e in sorted(REGISTRY.values(), key=lambda e: e.key)
    ]


post_save.connect(clear_cache, sender=Setting, dispatch_uid="towngrid.core.config.save")
post_delete.connect(clear_cache, sender=Setting, dispatch_uid="towngrid.core.config.delete")
