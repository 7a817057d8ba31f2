"""The Chinese working calendar (工作日历) that every time limit counts on.

Which days are working days
    A ``core.CalendarOverride`` row for the date wins. Otherwise the ``chinesecalendar``
    library decides (statutory holidays and adjusted working days, 调休, as the State Council
    publishes them each year). For a year the library does not know yet it raises
    ``NotImplementedError`` and Monday–Friday are working days, until an administrator enters
    that year's holidays as overrides.

Office hours
    ``config.get("calendar.office_hours")``, Beicai's 09:00–12:00 and 13:00–17:30 by default
    (7.5 working hours a day). Periods are half-open for starting work: 12:00 and 17:30 are
    *outside* office hours (work starting then begins at 13:00 or the next opening), while a
    deadline may fall *on* a period's end (3 working hours from 09:00 is 12:00, not 13:00).

Time zone
    Every function takes timezone-aware datetimes (naive ones raise ``ValueError``), computes
    in Asia/Shanghai and returns datetimes aware in Asia/Shanghai (``SHANGHAI``). They compare
    and store correctly (Django stores UTC); templates show them in local time anyway.

Conventions (the known answers in tests/core/test_workcalendar.py)
    - ``add_work_hours(start, h)`` counts ``h`` hours of office time from ``start``; time
      outside office hours, lunch, weekends and holidays does not count. 4 working hours from
      Fri 2023-01-20 16:00 (before the Spring Festival) is Sat 2023-01-28 11:30 (a 调休 working
      day): 1.5 h that Friday, 2.5 h on the Saturday.
    - ``add_work_days(start, n)`` is the same clock time ``n`` working days later, counted from
      ``next_office_moment(start)``: reported Fri 16:00 with 1 working day → due Mon 16:00;
      reported Fri 18:00 (after hours) → counts from Mon 09:00 → due Tue 09:00. A fractional
      part (1.5 days) adds that fraction of a full office day in working hours.
    - ``add_duration(start, amount, unit)`` dispatches on ``cases.models.LimitUnit``; natural
      ``hours`` and ``days`` ignore the calendar.
    - Amount 0 returns ``start`` unchanged; negative amounts raise ``ValueError``.
    - ``work_hours_between(a, b)`` is the office time between two moments in hours (negative
      when ``b`` is before ``a``, i.e. overdue), so ``work_hours_between(a, add_work_hours(a,
      h)) == h``. ``time_left(now, deadline, unit)`` gives the hours left as the limit's unit
      counts them (office hours for work_*, natural hours otherwise), for "time left" displays.

Caching: override rows are read once per process and dropped on ``CalendarOverride``
save/delete in this process (signals) or at most ``RELOAD_SECONDS`` after they were read, so an
override entered in the admin reaches the workers too.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from django.db.models.signals import post_delete, post_save

from . import config
from .models import CalendarOverride

SHANGHAI = ZoneInfo("Asia/Shanghai")
RELOAD_SECONDS = 30.0
# A guard against a calendar without working days (every override "rest"): no real time limit
# looks further ahead than this.
MAX_DAYS_AHEAD = 3660

_ONE_DAY = dt.timedelta(days=1)
_MICRO_PER_HOUR = Decimal(3_600_000_000)

_lock = threading.Lock()
_overrides: dict[dt.date, bool] | None = None
_loaded_at = 0.0
_workday_memo: dict[dt.date, bool] = {}


def clear_cache(**_: Any) -> None:
    """Forget cached overrides and workday answers (signal receiver; tests call it too)."""
    global _overrides
    with _lock:
        _overrides = None
        _workday_memo.clear()


def _current_overrides() -> dict[dt.date, bool]:
    global _overrides, _loaded_at
    overrides = _overrides
    if overrides is not None and time.monotonic() - _loaded_at < RELOAD_SECONDS:
        return overrides
    loaded = dict(CalendarOverride.objects.values_list("date", "is_workday"))
    with _lock:
        if loaded != _overrides:
            _workday_memo.clear()
        _overrides, _loaded_at = loaded, time.monotonic()
    return loaded


def library_is_workday(day: dt.date) -> bool:
    """What the holiday library says, Monday–Friday for a year it does not know."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def is_workday(day: dt.date) -> bool:
    """Whether ``day`` is a working day: an override row wins, else the library."""
    if isinstance(day, dt.datetime):
        day = _local(day).date()
    overrides = _current_overrides()
    answer = _workday_memo.get(day)
    if answer is None:
        answer = overrides[day] if day in overrides else library_is_workday(day)
        _workday_memo[day] = answer
    return answer


# ---- office hours -------------------------------------------------------------------------

_periods_memo: tuple[Any, tuple[tuple[dt.timedelta, dt.timedelta], ...]] | None = None


def office_periods() -> tuple[tuple[dt.timedelta, dt.timedelta], ...]:
    """The office periods of a working day as offsets from midnight, in order."""
    global _periods_memo
    raw = config.get("calendar.office_hours")
    memo = _periods_memo
    if memo is not None and memo[0] == raw:
        return memo[1]

    def offset(text: str) -> dt.timedelta:
        return dt.timedelta(hours=int(text[:2]), minutes=int(text[3:]))

    periods = tuple((offset(a), offset(b)) for a, b in raw)
    _periods_memo = (raw, periods)
    return periods


def office_hours_per_day() -> Decimal:
    """Working hours in one full working day (7.5 for 09:00–12:00, 13:00–17:30)."""
    total = sum((b - a for a, b in office_periods()), dt.timedelta())
    return _hours(total)


# ---- helpers ------------------------------------------------------------------------------


def _local(moment: dt.datetime) -> dt.datetime:
    """``moment`` as a naive Shanghai wall-clock time. China has no daylight saving time, so
    wall-clock arithmetic is exact."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("工作日历只接受带时区的时间（aware datetime）。")
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def _aware(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=SHANGHAI)


def _to_delta(hours: Decimal | float | int) -> dt.timedelta:
    if isinstance(hours, float):
        # via str so that 0.1 means 6 minutes, not 0.1000000000000000055… hours
        hours = Decimal(repr(hours))
    amount = Decimal(hours)
    if not amount.is_finite():
        raise ValueError("时限必须是有限的数值。")
    if amount < 0:
        raise ValueError("时限不能为负数。")
    micros = (amount * _MICRO_PER_HOUR).to_integral_value(rounding=ROUND_HALF_UP)
    return dt.timedelta(microseconds=int(micros))


def _hours(delta: dt.timedelta) -> Decimal:
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / _MICRO_PER_HOUR


def _midnight(local: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(local.date(), dt.time())


# ---- public functions ---------------------------------------------------------------------


def next_office_moment(moment: dt.datetime) -> dt.datetime:
    """``moment`` if it is inside office hours on a working day (period start inclusive, end
    exclusive), else the next opening of an office period."""
    local = _local(moment)
    periods = office_periods()
    day = _midnight(local)
    for _ in range(MAX_DAYS_AHEAD):
        if is_workday(day.date()):
            for start, end in periods:
                if local < day + end:
                    return _aware(max(local, day + start))
        day += _ONE_DAY
    raise ValueError("工作日历中找不到工作日，请检查工作日历调整。")


def add_work_hours(start: dt.datetime, hours: Decimal | float | int) -> dt.datetime:
    """The moment ``hours`` of office time after ``start`` (see the module conventions)."""
    remaining = _to_delta(hours)
    local = _local(start)
    if not remaining:
        return _aware(local)
    periods = office_periods()
    per_day = sum((b - a for a, b in periods), dt.timedelta())
    day = _midnight(local)
    for _ in range(MAX_DAYS_AHEAD):
        if is_workday(day.date()):
            # A whole working day still ahead: skip it in one step.
            if local <= day + periods[0][0] and remaining > per_day:
                remaining -= per_day
            else:
                for period_start, period_end in periods:
                    begin = max(local, day + period_start)
                    available = day + period_end - begin
                    if available <= dt.timedelta():
                        continue
                    if remaining <= available:
                        return _aware(begin + remaining)
                    remaining -= available
        day += _ONE_DAY
        local = day
    raise ValueError("工作日历中找不到足够的工作日，请检查工作日历调整。")


def add_work_days(start: dt.datetime, days: Decimal | float | int) -> dt.datetime:
    """The same clock time ``days`` working days after ``next_office_moment(start)``; a
    fractional part adds that share of a full office day in working hours."""
    amount = _to_delta(days)  # validates; days are carried as "hours" here
    whole = int(_hours(amount))
    fraction = _hours(amount) - whole
    if not amount:
        return _aware(_local(start))
    begin = _local(next_office_moment(start))
    day = _midnight(begin)
    clock = begin - day
    counted = 0
    for _ in range(MAX_DAYS_AHEAD + whole):
        if counted == whole:
            break
        day += _ONE_DAY
        if is_workday(day.date()):
            counted += 1
    else:
        raise ValueError("工作日历中找不到足够的工作日，请检查工作日历调整。")
    result = _aware(day + clock)
    if fraction:
        result = add_work_hours(result, fraction * office_hours_per_day())
    return result


def add_duration(start: dt.datetime, amount: Decimal | float | int, unit: str) -> dt.datetime:
    """``start`` plus ``amount`` in ``unit`` (a ``cases.models.LimitUnit`` value: work_hours,
    work_days, hours or days)."""
    if unit == "work_hours":
        return add_work_hours(start, amount)
    if unit == "work_days":
        return add_work_days(start, amount)
    if unit == "hours":
        return _aware(_local(start) + _to_delta(amount))
    if unit == "days":
        return _aware(_local(start) + _to_delta(amount) * 24)
    raise ValueError(f"未知的时限单位：{unit}")


def work_hours_between(a: dt.datetime, b: dt.datetime) -> Decimal:
    """Office time from ``a`` to ``b`` in hours, negative when ``b`` is before ``a``. Exact (a
    Decimal of the microseconds); round for display."""
    first, last = _local(a), _local(b)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    periods = office_periods()
    total = dt.timedelta()
    day = _midnight(first)
    while day <= last:
        if is_workday(day.date()):
            for period_start, period_end in periods:
                begin = max(first, day + period_start)
                end = min(last, day + period_end)
                if end > begin:
                    total += end - begin
        day += _ONE_DAY
    return sign * _hours(total)


def is_office_time(moment: dt.datetime) -> bool:
    """Whether ``moment`` is inside office hours on a working day (start inclusive)."""
    return next_office_moment(moment) == _aware(_local(moment))


def time_left(now: dt.datetime, deadline: dt.datetime, unit: str) -> Decimal:
    """Hours from ``now`` to ``deadline`` as the limit counts them: office hours for
    work_hours/work_days limits, natural hours for hours/days; negative when overdue."""
    if unit in ("work_hours", "work_days"):
        return work_hours_between(now, deadline)
    return _hours(deadline - now) if deadline >= now else -_hours(now - deadline)


config.register_cache_clearer(clear_cache)
post_save.connect(
    clear_cache, sender=CalendarOverride, dispatch_uid="towngrid.core.workcalendar.save"
)
post_delete.connect(
    clear_cache, sender=CalendarOverride, dispatch_uid="towngrid.core.workcalendar.delete"
)
