"""Time limits (处置时限) per subclass and step, and the deadlines they give on the working
calendar.

A ``TimeLimit`` row for (category, step) wins; else the town default row (category NULL) for the
step; else the step has no limit. The table is small and read on every transition (and 100,000
times by the intake benchmark), so it is kept per process: dropped when a ``TimeLimit`` is saved
or deleted in this process (signals) and reloaded at most ``RELOAD_SECONDS`` after it was read,
so the admin's edits reach the workers too.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

from django.db.models.signals import post_delete, post_save

from towngrid.core import config, workcalendar

from .models import Category, TimeLimit

RELOAD_SECONDS = 30.0

Limit = tuple[Decimal, str]

_lock = threading.Lock()
_table: dict[tuple[int | None, str], Limit] | None = None
_loaded_at = 0.0


def clear_cache(**_: Any) -> None:
    """Forget the cached table (signal receiver; tests call it too)."""
    global _table
    _table = None


def _current() -> dict[tuple[int | None, str], Limit]:
    global _table, _loaded_at
    table = _table
    if table is not None and time.monotonic() - _loaded_at < RELOAD_SECONDS:
        return table
    with _lock:
        table = {
            (category_id, step): (amount, unit)
            for category_id, step, amount, unit in TimeLimit.objects.values_list(
                "category_id", "step", "amount", "unit"
            )
        }
        _table, _loaded_at = table, time.monotonic()
    return table


def _category_id(category: Category | int | None) -> int | None:
    if category is None or isinstance(category, int):
        return category
    return category.pk


def limit_for(category: Category | int | None, step: str) -> Limit | None:
    """(amount, unit) for ``step`` of ``category`` (a Category, its id, or None for the town
    default), or None when neither the subclass nor the town sets one."""
    table = _current()
    category_id = _category_id(category)
    if category_id is not None:
        limit = table.get((category_id, step))
        if limit is not None:
            return limit
    return table.get((None, step))


def deadline_for(
    category: Category | int | None, step: str, start: dt.datetime
) -> dt.datetime | None:
    """When ``step`` begun at ``start`` is due (aware, Asia/Shanghai), or None without a limit.
    Counts on the working calendar; see ``core.workcalendar`` for the conventions."""
    limit = limit_for(category, step)
    if limit is None:
        return None
    amount, unit = limit
    return workcalendar.add_duration(start, amount, unit)


def limits_of(category: Category | int | None) -> dict[str, Limit]:
    """Every step's effective limit for ``category`` (its own rows over the town defaults)."""
    table = _current()
    category_id = _category_id(category)
    out = {step: limit for (cid, step), limit in table.items() if cid is None}
    if category_id is not None:
        out.update({step: limit for (cid, step), limit in table.items() if cid == category_id})
    return out


config.register_cache_clearer(clear_cache)
post_save.connect(clear_cache, sender=TimeLimit, dispatch_uid="towngrid.cases.timelimits.save")
post_delete.connect(clear_cache, sender=TimeLimit, dispatch_uid="towngrid.cases.timelimits.delete")
