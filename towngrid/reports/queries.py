"""Reads of the reports: the 分级明细 drill-down, the case lists behind its figures, the big screen.

Every read goes through the user's scope: roll-ups and cases through
``accounts.access.visible_to``, nodes through ``in_grid_scope``. A node outside the scope is
"not found", alike to one that does not exist.

Figures of a node for a period (start and end days inclusive, Asia/Shanghai) are the counters
of the cases reported in it (rollups.py), plus two derived ones:

- ``overdue`` 超期 = closed late (``closed_late``) + still open and past the current step's
  deadline now. The second part depends on the clock, so it is not kept in the roll-ups: it is
  counted live from the cases' (status, step_deadline) index, bounded by the open cases;
- rates, as in the evaluation (cases.evaluation): 应结案 due = opened − parked, 结案率 = closed
  / due, 按期结案率 = closed on time / due (None when nothing is due).

A node's children add up to the node: both come from the same rows, and a case whose grid code
falls under no child (a grid changed after the case) shows in an "unassigned" row.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from towngrid.accounts.access import in_grid_scope, scope_kind_of, visible_to
from towngrid.accounts.models import ScopeKind
from towngrid.cases.models import OPEN_STATUSES, Case, Category, CategoryClass, Source, Status
from towngrid.grids.models import CODE_LENGTHS, GridNode, Level

from .models import CaseRollup, Dim, Grain, NodeRollup
from .rollups import COUNTER_Q, COUNTERS, SHANGHAI, day_bounds, local_day

# The figures shown, in order, with their labels (Chinese msgids; gettext at render time).
FIGURES = ["reported", "opened", "closed", "closed_on_time", "overdue", "parked", "open"]
FIGURE_LABELS = {
    "reported": "上报",
    "opened": "立案",
    "closed": "结案",
    "closed_on_time": "按期结案",
    "overdue": "超期",
    "parked": "挂账",
    "open": "在办",
}
RATE_LABELS = {"closure_rate": "结案率", "on_time_rate": "按期结案率"}
MAX_DAYS = 3 * 366 + 1
# Per-child sections (patrols, colours, …) call other apps once per child: only for nodes with
# at most this many children.
SECTION_CHILD_LIMIT = 60


class ReportError(Exception):
    """A request the reports cannot answer: ``code`` and a Chinese ``message`` for the API's
    structured error and the page; ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details or {}


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str = ""

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.start, self.end)

    def as_params(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


PRESETS = {
    "today": "今日",
    "week": "本周",
    "month": "本月",
    "quarter": "本季度",
    "half": "本半年",
    "year": "本年",
}


def preset_period(name: str, today: date) -> Period:
    if name == "today":
        start = today
    elif name == "week":
        start = today - timedelta(days=today.weekday())
    elif name == "month":
        start = today.replace(day=1)
    elif name == "quarter":
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    elif name == "half":
        start = date(today.year, 1 if today.month <= 6 else 7, 1)
    elif name == "year":
        start = date(today.year, 1, 1)
    else:
        raise ReportError("invalid_parameter", f"未知的期间：{name}。", details={"field": "period"})
    return Period(start, today, _(PRESETS[name]))


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportError(
            "invalid_parameter",
            f"参数 {name} 应为日期 YYYY-MM-DD：{value}。",
            details={"field": name},
        ) from None


def latest_day(user, node: GridNode | None = None) -> date | None:
    """The last day with reported cases under ``node`` (default: the user's scope root)."""
    node = node or scope_root(user)
    if node.level <= Level.COMMUNITY:
        qs = NodeRollup.objects.filter(grid_code=node.code, dim=Dim.ALL, grain=Grain.DAY)
    else:
        qs = CaseRollup.objects.filter(grid_code=node.code)
    return visible_to(user, qs).aggregate(last=Max("day"))["last"]


def reference_day(user, node: GridNode | None = None) -> date:
    """ "Today" for the reports: today, or the last day with cases when none came since (a demo
    town or an archive), so the default period shows data rather than zeros."""
    today = timezone.localdate()
    last = latest_day(user, node)
    return min(today, last) if last else today


def parse_period(params, user=None, node: GridNode | None = None) -> Period:
    """``start`` and ``end`` (inclusive days), or ``period``: a preset (today, week, month,
    quarter, half, year: up to the reference day), a half-year ``2023H1``, quarter ``2023Q2``,
    month ``2023-05`` or year ``2023``. Default: the half-year of the reference day."""
    start_text = (params.get("start") or "").strip()
    end_text = (params.get("end") or "").strip()
    name = (params.get("period") or "").strip()
    if start_text or end_text:
        if not (start_text and end_text):
            raise ReportError(
                "invalid_parameter", "请同时填写开始和结束日期。", details={"field": "start"}
            )
        start, end = _parse_date(start_text, "start"), _parse_date(end_text, "end")
        if end < start:
            raise ReportError(
                "invalid_parameter", "结束日期不能早于开始日期。", details={"field": "end"}
            )
        if (end - start).days > MAX_DAYS:
            raise ReportError("invalid_parameter", "期间不能超过三年。", details={"field": "end"})
        return Period(start, end, f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}")
    today = reference_day(user, node) if user is not None else timezone.localdate()
    if name in PRESETS:
        return preset_period(name, today)
    from towngrid.cases.views import PERIOD_RE
    from towngrid.cases.views import parse_period as parse_named

    if name and not PERIOD_RE.match(name):
        raise ReportError("invalid_parameter", f"未知的期间：{name}。", details={"field": "period"})
    label, start, end = parse_named(name or None, today)
    return Period(start, end - timedelta(days=1), label)


# --- nodes -------------------------------------------------------------------------------------


def scope_root(user) -> GridNode:
    """Where a user's drill-down starts: the scope node of grid roles, the town for town roles."""
    kind = scope_kind_of(user)
    if kind == ScopeKind.GRID and user.scope_id:
        return user.scope
    if kind == ScopeKind.TOWN:
        node = GridNode.objects.filter(level=Level.TOWN).order_by("code").first()
        if node is not None:
            return node
        raise ReportError("not_found", "尚未导入网格。", status=404)
    raise ReportError("forbidden", "您的角色没有可查看的网格范围。", status=403)


def node_for(user, code: str | None) -> GridNode:
    """The node ``code`` if it is inside the user's scope (else "not found"), or the scope's
    root. A 楼组 (level 5) answers with its micro-grid: roll-ups end there."""
    root = scope_root(user)
    code = (code or "").strip()
    if not code:
        return root
    code = code[: CODE_LENGTHS[Level.MICRO]]
    node = GridNode.objects.filter(code=code).first()
    if node is None or not in_grid_scope(user, node.code):
        raise ReportError(
            "not_found", f"没有编码为 {code} 的网格，或不在您的管辖范围内。", status=404
        )
    return node


def path_of(user, node: GridNode) -> list[GridNode]:
    """The node's ancestors the user may see, then the node: the breadcrumb."""
    return [n for n in node.path() if in_grid_scope(user, n.code)]


def children_of(node: GridNode) -> list[GridNode]:
    if node.level >= Level.MICRO:
        return []
    return list(GridNode.objects.filter(parent=node).order_by("code").only("code", "name", "level"))


# --- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """One optional dimension a drill-down is narrowed to: a source, or a top class (大类,
    ``E01``) or subclass (小类, ``E0102``) of the catalogue."""

    source: str = ""
    category: str = ""

    @property
    def active(self) -> bool:
        return bool(self.source or self.category)

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in (("source", self.source), ("category", self.category)) if v}

    def category_ids(self) -> list[int] | None:
        if not self.category:
            return None
        return list(category_q(self.category).values_list("pk", flat=True))

    def case_q(self) -> Q:
        q = Q()
        if self.source:
            q &= Q(source=self.source)
        if self.category:
            q &= Q(category__in=category_q(self.category))
        return q

    def label(self) -> str:
        parts = []
        if self.source:
            parts.append(str(Source(self.source).label))
        if self.category:
            parts.append(category_label(self.category))
        return " · ".join(parts)


def category_q(code: str) -> QuerySet:
    code = code.upper()
    if len(code) == 3:
        kind = "event" if code[0] == "E" else "component"
        return Category.objects.filter(major__kind=kind, major__code=code[1:])
    return Category.objects.filter(full_code=code)


def category_label(code: str) -> str:
    code = code.upper()
    if len(code) == 3:
        kind = "event" if code[0] == "E" else "component"
        major = CategoryClass.objects.filter(kind=kind, code=code[1:]).first()
        return major.name if major else code
    sub = Category.objects.filter(full_code=code).first()
    return sub.name if sub else code


def parse_filter(params, *, allow_both: bool = False) -> Filter:
    source = (params.get("source") or "").strip()
    category = (params.get("category") or "").strip().upper()
    if source and source not in Source.values:
        raise ReportError(
            "invalid_parameter", f"未知的来源：{source}。", details={"field": "source"}
        )
    if category:
        valid = len(category) in (3, 5) and category[0] in "EC" and category[1:].isdigit()
        if not valid or not category_q(category).exists():
            raise ReportError(
                "invalid_parameter",
                f"没有编码为 {category} 的案件类别。",
                details={"field": "category"},
            )
    if source and category and not allow_both:
        raise ReportError(
            "invalid_parameter",
            "分级明细一次只能按来源或按类别之一筛选。",
            details={"field": "category"},
        )
    return Filter(source, category)


# --- figures -----------------------------------------------------------------------------------


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


def _sums() -> dict[str, Sum]:
    return {c: Sum(c) for c in COUNTERS}


def period_q(period: Period) -> Q:
    """The NodeRollup rows of a period: month rows for its whole months, day rows for its
    ragged ends (a year is 12 month rows per key, a quarter from the 10th 2 + about 30)."""
    start, end = period.start, period.end
    first = start if start.day == 1 else _month_start(start, -1)
    following = end + timedelta(days=1)
    last = following if following.day == 1 else following.replace(day=1)  # end of full months
    if first >= last:
        return Q(grain=Grain.DAY, day__range=(start, end))
    q = Q(grain=Grain.MONTH, day__gte=first, day__lt=last)
    if start < first:
        q |= Q(grain=Grain.DAY, day__range=(start, first - timedelta(days=1)))
    if last <= end:
        q |= Q(grain=Grain.DAY, day__range=(last, end))
    return q


def _rollup_counters(
    user, codes: list[str], level: int, period: Period, filt: Filter
) -> dict[str, dict[str, int]]:
    """The roll-up counters of the nodes ``codes`` (all of one level), per code."""
    if not codes:
        return {}
    if level <= Level.COMMUNITY:
        qs = NodeRollup.objects.filter(period_q(period), grid_code__in=codes)
        if filt.source:
            qs = qs.filter(dim=Dim.SOURCE, key=filt.source)
        elif filt.category:
            qs = qs.filter(dim=Dim.CATEGORY, key__in=[str(i) for i in filt.category_ids() or []])
        else:
            qs = qs.filter(dim=Dim.ALL)
    else:
        qs = CaseRollup.objects.filter(grid_code__in=codes, day__range=(period.start, period.end))
        if filt.source:
            qs = qs.filter(source=filt.source)
        if filt.category:
            qs = qs.filter(category_id__in=filt.category_ids() or [])
    rows = visible_to(user, qs).order_by().values("grid_code").annotate(**_sums())
    return {row["grid_code"]: {c: row[c] or 0 for c in COUNTERS} for row in rows}


@dataclass
class Breakdown:
    """A node's counters in total, per source and per subclass id, from one query."""

    total: dict[str, int]
    by_source: dict[str, dict[str, int]]
    by_category: dict[int, dict[str, int]]


def node_breakdown(user, node: GridNode, period: Period) -> Breakdown:
    if node.level <= Level.COMMUNITY:
        qs = NodeRollup.objects.filter(period_q(period), grid_code=node.code)
        rows = visible_to(user, qs).order_by().values("dim", "key").annotate(**_sums())
        out = Breakdown(_zero(), {}, {})
        for row in rows:
            counters = {c: row[c] or 0 for c in COUNTERS}
            if row["dim"] == Dim.ALL:
                out.total = _add_counters(out.total, counters)
            elif row["dim"] == Dim.SOURCE:
                out.by_source[row["key"]] = counters
            else:
                out.by_category[int(row["key"])] = counters
        return out
    qs = CaseRollup.objects.filter(grid_code=node.code, day__range=(period.start, period.end))
    rows = visible_to(user, qs).order_by().values("source", "category_id").annotate(**_sums())
    out = Breakdown(_zero(), {}, {})
    for row in rows:
        counters = {c: row[c] or 0 for c in COUNTERS}
        out.total = _add_counters(out.total, counters)
        source, category = row["source"], row["category_id"]
        out.by_source[source] = _add_counters(out.by_source.get(source, _zero()), counters)
        out.by_category[category] = _add_counters(out.by_category.get(category, _zero()), counters)
    return out


@dataclass
class Overdue:
    """Open cases past their step's deadline now, counted live (once per drill-down) and
    summed as each table needs: per child code prefix, per source, per subclass, in total."""

    rows: list[tuple[str, str, int, int]]  # (code prefix, source, subclass id, count)

    def total(self) -> int:
        return sum(n for *_k, n in self.rows)

    def by(self, index: int) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for row in self.rows:
            out[row[index]] = out.get(row[index], 0) + row[3]
        return out


def open_overdue(
    user, node: GridNode, length: int, period: Period, filt: Filter, now: datetime
) -> Overdue:
    """One query: the open overdue cases reported in the period under the node, grouped by the
    first ``length`` characters of their grid code, their source and subclass."""
    lo, hi = period.bounds
    qs = Case.objects.filter(
        filt.case_q(),
        status__in=OPEN_STATUSES,
        step_deadline__lt=now,
        grid_code__startswith=node.code,
        reported_at__gte=lo,
        reported_at__lt=hi,
    )
    rows = (
        visible_to(user, qs)
        .order_by()
        .annotate(g=Substr("grid_code", 1, length))
        .values_list("g", "source", "category_id")
        .annotate(n=Count("pk"))
    )
    return Overdue([tuple(r) for r in rows])


def finish(counters: dict[str, int], open_overdue: int = 0) -> dict[str, Any]:
    """Counters → the figures shown: overdue added, rates computed."""
    fig: dict[str, Any] = {f: counters.get(f, 0) for f in FIGURES if f != "overdue"}
    fig["overdue"] = counters.get("closed_late", 0) + open_overdue
    due = counters.get("opened", 0) - counters.get("parked", 0)
    fig["due"] = due
    fig["closure_rate"] = counters.get("closed", 0) / due if due > 0 else None
    fig["on_time_rate"] = counters.get("closed_on_time", 0) / due if due > 0 else None
    fig["closed_late"] = counters.get("closed_late", 0)
    fig["open_overdue"] = open_overdue
    return fig


def node_figures(
    user, node: GridNode, period: Period, filt: Filter = Filter(), now: datetime | None = None
) -> dict[str, Any]:
    now = now or timezone.now()
    counters = _rollup_counters(user, [node.code], node.level, period, filt).get(node.code, _zero())
    late = open_overdue(user, node, len(node.code), period, filt, now)
    return finish(counters, late.total())


def _add_counters(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {c: a.get(c, 0) + b.get(c, 0) for c in COUNTERS}


@dataclass
class Row:
    code: str | None
    name: str
    level: int | None
    figures: dict[str, Any]


def drilldown(
    user,
    code: str | None = None,
    period: Period | None = None,
    filt: Filter = Filter(),
    *,
    now: datetime | None = None,
    sections: bool = True,
) -> dict[str, Any]:
    """The drill-down of one node: its figures, its children's (adding up to it), and the
    node's figures by source and by top class; with ``sections`` the other apps' figures
    (evaluation grades, patrol coverage, colours, alarms, registry counts) where they exist."""
    now = now or timezone.now()
    node = node_for(user, code)
    period = period or parse_period({}, user, node)
    if filt.active:
        breakdown = None
        own = _rollup_counters(user, [node.code], node.level, period, filt).get(node.code, _zero())
    else:
        breakdown = node_breakdown(user, node, period)
        own = breakdown.total
    kids = children_of(node)
    overdue = open_overdue(
        user, node, len(kids[0].code) if kids else len(node.code), period, filt, now
    )
    own_late = overdue.total()
    rows: list[Row] = []
    if kids:
        by_child = _rollup_counters(user, [k.code for k in kids], kids[0].level, period, filt)
        late = overdue.by(0)
        summed_counters, summed_late = _zero(), 0
        for kid in kids:
            counters = by_child.get(kid.code, _zero())
            rows.append(Row(kid.code, kid.name, kid.level, finish(counters, late.get(kid.code, 0))))
            summed_counters = _add_counters(summed_counters, counters)
            summed_late += late.get(kid.code, 0)
        rest = {c: own[c] - summed_counters[c] for c in COUNTERS}
        if any(rest.values()) or own_late != summed_late:
            rows.append(Row(None, _("未归属下级网格"), None, finish(rest, own_late - summed_late)))
    result: dict[str, Any] = {
        "node": {"code": node.code, "name": node.name, "level": node.level},
        "node_obj": node,
        "path": [{"code": n.code, "name": n.name, "level": n.level} for n in path_of(user, node)],
        "period": period,
        "filter": filt,
        "totals": finish(own, own_late),
        "children": rows,
        "leaf": not kids,
        # Breakdowns of an unfiltered node only: narrowing a breakdown's row adds its dimension,
        # and the node roll-ups hold one dimension at a time.
        "by_source": by_source(breakdown.by_source, overdue.by(1)) if breakdown else [],
        "by_category": by_major(breakdown.by_category, overdue.by(2)) if breakdown else [],
        "sections": {},
    }
    if sections and not filt.active:
        result["sections"] = node_sections(user, node, kids, period)
    return result


def by_source(counters: dict[str, dict[str, int]], late: dict[str, int]) -> list[Row]:
    """The node's figures per source (``late``: its open overdue cases per source)."""
    rows = []
    for value, label in Source.choices:
        if value in counters or late.get(value):
            rows.append(
                Row(
                    value,
                    str(label),
                    None,
                    finish(counters.get(value, _zero()), late.get(value, 0)),
                )
            )
    rows.sort(key=lambda r: -r.figures["reported"])
    return rows


def _majors() -> dict[int, tuple[str, str]]:
    """subclass id → (top class code ``E01``, its name); read once a minute (catalogue data)."""
    now = time.monotonic()
    if now - _MAJORS["at"] > 60:
        _MAJORS["map"] = {
            pk: (("E" if kind == "event" else "C") + code, name)
            for pk, kind, code, name in Category.objects.values_list(
                "pk", "major__kind", "major__code", "major__name"
            )
        }
        _MAJORS["at"] = now
    return _MAJORS["map"]


_MAJORS: dict[str, Any] = {"at": -1e9, "map": {}}


def by_major(counters: dict[int, dict[str, int]], late: dict[int, int]) -> list[Row]:
    """The node's figures per top class (大类), summed from the subclass roll-ups."""
    majors_of = _majors()
    if any(pk not in majors_of for pk in (*counters, *late)):
        _MAJORS["at"] = -1e9  # a subclass added since: read the catalogue again
        majors_of = _majors()
    majors: dict[str, dict[str, Any]] = {}
    for pk in set(counters) | set(late):
        code, name = majors_of.get(pk, ("?", "?"))
        entry = majors.setdefault(code, {"name": name, "counters": _zero(), "late": 0})
        entry["counters"] = _add_counters(entry["counters"], counters.get(pk, _zero()))
        entry["late"] += late.get(pk, 0)
    rows = [
        Row(code, m["name"], None, finish(m["counters"], m["late"])) for code, m in majors.items()
    ]
    rows.sort(key=lambda r: (-r.figures["reported"], r.code))
    return rows


def top_subclasses(user, node: GridNode, period: Period, limit: int = 10) -> list[dict[str, Any]]:
    counters = node_breakdown(user, node, period).by_category
    names = dict(Category.objects.filter(pk__in=counters).values_list("pk", "name"))
    codes = dict(Category.objects.filter(pk__in=counters).values_list("pk", "full_code"))
    items = sorted(counters.items(), key=lambda kv: -kv[1]["reported"])[:limit]
    return [
        {
            "code": codes.get(pk, ""),
            "name": names.get(pk, str(pk)),
            "reported": c["reported"],
            "open": c["open"],
        }
        for pk, c in items
        if c["reported"]
    ]


# --- other apps' sections -------------------------------------------------------------------


def optional_call(module: str, name: str, *args) -> Any:
    """``module.name(*args)`` when that app provides it, else None. Only a missing module or
    function is tolerated; an error inside the function is a bug and surfaces."""
    try:
        func = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return func(*args)


def _present(value: Any) -> bool:
    if not value:
        return False
    if isinstance(value, dict):
        return any(v for k, v in value.items() if k != "rate") or value.get("rate") is not None
    return True


SECTION_SOURCES = {
    "patrol": ("towngrid.codes.queries", "patrol_coverage", True),
    "colours": ("towngrid.codes.queries", "colour_distribution", False),
    "alarms": ("towngrid.sensing.queries", "alarm_counts", False),
    "registry": ("towngrid.registry.queries", "counts", False),
}
SECTION_TITLES = {
    "evaluation": "综合评价",
    "patrol": "巡查覆盖",
    "colours": "三色管理",
    "alarms": "物联告警",
    "registry": "基础信息",
}
SECTION_LABELS = {
    "patrol": {"due": "应巡", "done": "已巡", "overdue": "逾期", "rate": "覆盖率"},
    "colours": {"green": "绿码", "yellow": "黄码", "red": "红码"},
    "alarms": {
        "active": "未恢复",
        "critical": "紧急",
        "major": "重要",
        "minor": "次要",
        "warning": "提示",
    },
    "registry": {
        "houses": "房屋",
        "households": "户",
        "residents": "人口",
        "enterprises": "企业",
        "shops": "商铺",
        "components": "部件",
    },
}


def _section_value(name: str, code: str, period: Period) -> dict | None:
    module, func, with_period = SECTION_SOURCES[name]
    args = (code, period.start, period.end) if with_period else (code,)
    value = optional_call(module, func, *args)
    return value if _present(value) else None


def node_sections(user, node: GridNode, kids: list[GridNode], period: Period) -> dict[str, Any]:
    """Each other app's figures for the node and, for up to SECTION_CHILD_LIMIT children, per
    child; a section appears only when its app returns data."""
    out: dict[str, Any] = {}
    evaluation = evaluation_section(node, period)
    if evaluation:
        out["evaluation"] = evaluation
    for name in SECTION_SOURCES:
        total = _section_value(name, node.code, period)
        if total is None:
            continue
        rows = []
        if len(kids) <= SECTION_CHILD_LIMIT:
            for kid in kids:
                value = _section_value(name, kid.code, period) or {}
                rows.append({"code": kid.code, "name": kid.name, "values": value})
        out[name] = {
            "title": SECTION_TITLES[name],
            "labels": SECTION_LABELS[name],
            "total": total,
            "children": rows,
        }
    return out


def evaluation_section(node: GridNode, period: Period) -> dict[str, Any] | None:
    """Grades of the node's children (GB/T 30428.4 area evaluation, cases.evaluation) for the
    period, and the node's own."""
    from towngrid.cases import evaluation

    result = evaluation.evaluate(period.start, period.end + timedelta(days=1), node)
    rows = [
        {
            "code": a.code,
            "name": a.name,
            "grade": a.grade,
            "score": a.score,
            "closure_rate": a.closure_rate,
            "on_time_rate": a.on_time_rate,
        }
        for a in result.areas
        if a.code != node.code
    ]
    if result.total.grade is None and not any(r["grade"] for r in rows):
        return None
    grades: dict[str, int] = {}
    for r in rows:
        if r["grade"]:
            grades[r["grade"]] = grades.get(r["grade"], 0) + 1
    return {
        "title": SECTION_TITLES["evaluation"],
        "grade": result.total.grade,
        "score": result.total.score,
        "children": rows,
        "grades": dict(sorted(grades.items())),
    }


# --- the cases behind a figure ------------------------------------------------------------------

MEASURES = [*FIGURES]


def measure_q(measure: str, now: datetime) -> Q:
    if measure == "overdue":
        return COUNTER_Q["closed_late"] | Q(status__in=OPEN_STATUSES, step_deadline__lt=now)
    if measure not in COUNTER_Q:
        raise ReportError(
            "invalid_parameter", f"未知的指标：{measure}。", details={"field": "measure"}
        )
    return COUNTER_Q[measure]


def figure_cases(
    user,
    node: GridNode,
    period: Period,
    measure: str = "reported",
    filt: Filter = Filter(),
    now: datetime | None = None,
) -> QuerySet:
    """The cases a figure counts: as many as the figure says (tests/reports prove it)."""
    now = now or timezone.now()
    lo, hi = period.bounds
    qs = Case.objects.filter(
        measure_q(measure, now),
        filt.case_q(),
        grid_code__startswith=node.code,
        reported_at__gte=lo,
        reported_at__lt=hi,
    )
    return visible_to(user, qs).select_related("category", "grid").order_by("-reported_at", "-id")


def case_list_params(
    node: GridNode, period: Period, measure: str, filt: Filter
) -> dict[str, str] | None:
    """The same cases as parameters of the cases app's list (cases:list), when its filters can
    say it (status, grid, report dates, subclass, source); None otherwise."""
    status = {"closed": Status.CLOSED, "parked": Status.PARKED}.get(measure)
    params = {"grid": node.code, **period.as_params()}
    if measure == "reported":
        pass
    elif status:
        params["status"] = str(status)
    else:
        return None
    if filt.source:
        params["source"] = filt.source
    if filt.category:
        if len(filt.category) != 5:
            return None
        params["category"] = filt.category
    return params


# --- the big screen ----------------------------------------------------------------------------


def _month_start(day: date, back: int = 0) -> date:
    """The first day of the month ``back`` months before ``day``'s (negative: after)."""
    y, m = divmod(day.year * 12 + day.month - 1 - back, 12)
    return date(y, m + 1, 1)


def trend(user, node: GridNode, end: date, months: int = 12) -> list[dict[str, Any]]:
    """Per month, the node's figures for the cases reported that month (the last ``months``)."""
    first = _month_start(end, months - 1)
    period = Period(first, end)
    if node.level <= Level.COMMUNITY:
        qs = NodeRollup.objects.filter(grid_code=node.code, dim=Dim.ALL, grain=Grain.DAY)
    else:
        qs = CaseRollup.objects.filter(grid_code=node.code)
    qs = visible_to(user, qs.filter(day__range=(period.start, period.end))).order_by()
    totals: dict[date, dict[str, int]] = {}
    for row in qs.values("day").annotate(**_sums()):
        key = row["day"].replace(day=1)
        totals[key] = _add_counters(totals.get(key, _zero()), row)
    out = []
    for back in range(months - 1, -1, -1):
        month = _month_start(end, back)
        fig = finish(totals.get(month, _zero()))
        out.append(
            {
                "month": f"{month:%Y-%m}",
                "reported": fig["reported"],
                "opened": fig["opened"],
                "closed": fig["closed"],
                "on_time_rate": fig["on_time_rate"],
            }
        )
    return out


def top_places(user, node: GridNode, period: Period, limit: int = 10) -> list[dict[str, Any]]:
    """The communities (or, under a community, the micro-grids) with the most cases."""
    level = Level.COMMUNITY if node.level < Level.COMMUNITY else Level.MICRO
    length = CODE_LENGTHS[level]
    if level == Level.COMMUNITY:
        qs = NodeRollup.objects.filter(
            period_q(period), level=level, dim=Dim.ALL, grid_code__startswith=node.code
        )
    else:
        qs = CaseRollup.objects.filter(
            grid_code__startswith=node.code, day__range=(period.start, period.end)
        )
    qs = visible_to(user, qs).order_by()
    rows = qs.annotate(g=Substr("grid_code", 1, length)).values("g").annotate(**_sums())
    ranked = sorted(rows, key=lambda r: -(r["reported"] or 0))[:limit]
    names = dict(
        GridNode.objects.filter(code__in=[r["g"] for r in ranked]).values_list("code", "name")
    )
    return [
        {
            "code": r["g"],
            "name": names.get(r["g"], r["g"]),
            "reported": r["reported"] or 0,
            "open": r["open"] or 0,
        }
        for r in ranked
        if r["reported"]
    ]


def open_by_micro(user, node: GridNode) -> dict[str, int]:
    """Open cases now per micro-grid under the node (all report days): the map's colours."""
    qs = visible_to(user, CaseRollup.objects.filter(grid_code__startswith=node.code, open__gt=0))
    return {
        r["grid_code"]: r["n"] for r in qs.order_by().values("grid_code").annotate(n=Sum("open"))
    }


def micro_geojson(user, node: GridNode) -> dict[str, Any]:
    """The micro-grids under the node as GeoJSON (the map's shapes, without figures)."""
    qs = visible_to(user, GridNode.objects.filter(code__startswith=node.code, level=Level.MICRO))
    features = [
        {
            "type": "Feature",
            "geometry": boundary,
            "properties": {"code": code, "name": name},
        }
        for code, name, boundary in qs.order_by("code").values_list("code", "name", "boundary")
        if boundary
    ]
    return {"type": "FeatureCollection", "features": features}


def live_cases(user, node: GridNode, limit: int = 12) -> list[dict[str, Any]]:
    qs = visible_to(user, Case.objects.filter(grid_code__startswith=node.code))
    out = []
    for c in qs.select_related("category", "grid").order_by("-reported_at", "-id")[:limit]:
        out.append(
            {
                "number": c.number,
                "category": c.category.name,
                "grid": c.grid.name,
                "status": c.status,
                "status_label": str(Status(c.status).label),
                "source_label": str(Source(c.source).label)
                if c.source in Source.values
                else c.source,
                "reported_at": timezone.localtime(c.reported_at, SHANGHAI).strftime("%m-%d %H:%M"),
            }
        )
    return out


def live_alarms(node: GridNode, limit: int = 12) -> list[dict[str, Any]] | None:
    """Recent alarms, when the sensing app offers ``recent_alarms(prefix, limit)``."""
    return optional_call("towngrid.sensing.queries", "recent_alarms", node.code, limit)


def programs_summary() -> dict[str, Any] | None:
    value = optional_call("towngrid.programs.queries", "summary")
    if not value or not (value.get("projects") or value.get("targets")):
        return None
    return value


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def screen_data(
    user, code: str | None = None, period: Period | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the big screen shows, as plain data (the page polls it every 30 s).

    ``period`` (default: this year up to today) sets the period tile, the rates, the top
    categories and places and the trend's months; the day and month tiles are those of its last
    day (today for the default). Open cases, overdue-now, alarms and the feeds are live."""
    now = now or timezone.now()
    node = node_for(user, code)
    today = timezone.localdate(now)
    if period is None:
        period = Period(date(today.year, 1, 1), today, _("本年"))
    day = min(period.end, today)
    period = Period(period.start, day, period.label)
    month = Period(day.replace(day=1), day)
    period_fig = node_figures(user, node, period, now=now)
    alarms = optional_call("towngrid.sensing.queries", "alarm_counts", node.code)
    patrol = optional_call(
        "towngrid.codes.queries", "patrol_coverage", node.code, month.start, month.end
    )
    colours = optional_call("towngrid.codes.queries", "colour_distribution", node.code)
    programs = programs_summary()
    open_now = sum(open_by_micro(user, node).values())
    overdue_now = visible_to(
        user,
        Case.objects.filter(
            grid_code__startswith=node.code, status__in=OPEN_STATUSES, step_deadline__lt=now
        ),
    ).count()
    months = min(max(_months_between(period.start, day), 6), 24)
    return {
        "node": {"code": node.code, "name": node.name, "level": node.level},
        "period": {
            "start": period.start.isoformat(),
            "end": day.isoformat(),
            "label": period.label,
        },
        "as_of": day.isoformat(),
        "generated_at": timezone.localtime(now, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        "kpi": {
            "day": node_figures(user, node, Period(day, day), now=now)["reported"],
            "month": node_figures(user, node, month, now=now)["reported"],
            "period": period_fig["reported"],
            "closure_rate": period_fig["closure_rate"],
            "on_time_rate": period_fig["on_time_rate"],
            "open": open_now,
            "overdue": overdue_now,
            "alarms": (alarms or {}).get("active") if _present(alarms) else None,
            "patrol_rate": (patrol or {}).get("rate") if _present(patrol) else None,
            "projects_percent": (programs or {}).get("totals", {}).get("mean_percent"),
        },
        "trend": trend(user, node, day, months),
        "top_categories": top_subclasses(user, node, period),
        "top_places": top_places(user, node, period),
        "open_by_micro": open_by_micro(user, node),
        "colours": colours if _present(colours) else None,
        "alarms": alarms if _present(alarms) else None,
        "cases": live_cases(user, node),
        "alarm_feed": live_alarms(node),
        "programs": programs,
    }


def local_today() -> date:
    return local_day(timezone.now())
