"""The half-year period of a report: ``2023H1`` (January–June) or ``2023H2`` (July–December).

Unlike the evaluation page, which falls back to the current half-year, a generated document
refuses what it cannot read: a report for a period nobody asked for is worse than an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

PERIOD_RE = re.compile(r"^(\d{4})[Hh]([12])$")
HALF_NAMES = {1: "上半年", 2: "下半年"}


class PeriodError(ValueError):
    """A period that cannot be reported on; the message is for people (Chinese)."""


@dataclass(frozen=True)
class Period:
    year: int
    half: int

    @property
    def code(self) -> str:
        return f"{self.year}H{self.half}"

    @property
    def start(self) -> date:
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def end(self) -> date:
        """The day after the last day (exclusive), as towngrid.cases.evaluation takes it."""
        return date(self.year, 7, 1) if self.half == 1 else date(self.year + 1, 1, 1)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        return f"{self.year} 年{HALF_NAMES[self.half]}"


def parse_period(text: str | None, *, today: date | None = None) -> Period:
    """``2023H1`` → Period(2023, 1). Refuses (``PeriodError``) anything else, a year outside
    2000–2100, and a half-year that has not begun yet."""
    raw = (text or "").strip()
    match = PERIOD_RE.match(raw)
    if not match:
        raise PeriodError(f"报告期“{raw}”无法识别：应写作 年份 + H1 或 H2，例如 2023H1（上半年）。")
    period = Period(int(match.group(1)), int(match.group(2)))
    if not 2000 <= period.year <= 2100:
        raise PeriodError(f"报告期年份 {period.year} 超出范围（2000–2100）。")
    today = today or timezone.localdate()
    if period.start > today:
        raise PeriodError(f"报告期 {period.code}（{period.label}）尚未开始，无法生成报告。")
    return period


def recent_periods(today: date | None = None, count: int = 6) -> list[Period]:
    """The current half-year and the ones before it, newest first (for the period selector)."""
    today = today or timezone.localdate()
    year, half = today.year, 1 if today.month <= 6 else 2
    out = []
    for _ in range(count):
        out.append(Period(year, half))
        year, half = (year, 1) if half == 2 else (year - 1, 2)
    return out
