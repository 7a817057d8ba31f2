"""综合评价: GB/T 30428.4-style evaluation of areas, departments and posts for a period and a grid
subtree, with composite scores graded A–E.

Everything is computed from the cases and their events with a handful of aggregate queries (one
per table, grouped in the database), plus one pass over the dispatch/send-back/feedback/rework
events of the subtree, which needs their order per case. No query runs per case or per person.

Definitions (the period is [start, end) in Asia/Shanghai; a case is in the subtree when its
grid code starts with the root code). Rates are fractions 0–1; a rate whose denominator is zero
is ``None`` (shown "—"), never 0 or 100 %. Composite scores are 0–100 and are the weighted mean of
the indicators that exist: a missing indicator's weight is spread over the others (a worker with
no re-check task in the period is not marked down or up for it); with none, no score and no grade.

Area (区域), per child of the root (or any list of nodes) and for the root itself:
- 应结案数 due: cases opened (立案) in the period, less those parked, rejected or merged;
- 结案数 closed: due cases closed before the period's end; 按期结案数: of those, closed on time;
- 结案率 = closed / due; 按期结案率 = closed on time / due;
- 挂账数: cases opened in the period that are parked; 超期数: due cases closed late, or still
  open past their current step's deadline (at the period's end, or now if earlier);
- composite = 按期结案率 × 60 % + 结案率 × 40 % (the standard leaves the area weights to the city;
  timeliness weighs more, as in the post formulas).

Department (部门), by the department each event belongs to (the event's department, else the
department of the case's latest dispatch, else the case's department):
- 派遣数: dispatch events in the period; 回退数: of those dispatches, the ones sent back (回退)
  afterwards; 回退率 = sent back / dispatched;
- 处置数: feedback (处理反馈) events in the period; 按期处置数: of those, on time;
  按期处置率 = on time / handled; 返工数: rework events in the period; 返工率 = reworked / handled;
- composite = 按期处置率 × 60 % + (1 − 返工率) × 20 % + (1 − 回退率) × 20 %.

Grid worker (网格员, GB/T 监督员): a user linked to a GridStaff on duty in the subtree during the
period, or who reported as a grid worker, verified or re-checked there:
- 上报数: the user's reports (Case.reporter) in the period, merged duplicates left out;
  有效上报率 = valid / decided, where valid = marked valid or opened (立案), invalid = marked
  invalid (不予立案 or 核实不属实), and reports still undecided count in neither;
- 按时核实率 = on-time verify events / verify events by the user;
- 按时核查率 = on-time re-check outcomes / re-check outcomes (actions ``recheck`` and
  ``rework``: a failed re-check is a re-check done too);
- 漏报率 = missed / opened, over the cases opened in the period in the micro-grids of the
  user's duties: missed = those not reported by a grid worker (source other than grid_worker);
- composite = 有效上报率 × 40 % + (1 − 漏报率) × 20 % + 按时核实率 × 20 % + 按时核查率 × 20 %.

Operations centre (城运中心), by the actors of the events in the period; a user holding one of the
three operations roles appears only under that role's post, any other actor (e.g. an
administrator) under each post whose action they took:
- 受理员: 受理量 = accept events; 业务量得分 = 受理量 / the largest 受理量 among the registrars ×
  100; 按时派发核实率 = on-time accepts among those that sent the case to on-site verification
  (to_status ``verifying``); 按时受理率 = on-time accepts among all accepts. The standard's
  third term, the on-time dispatch of re-check, has no manual step in towngrid (feedback sends
  the re-check task to the grid worker at once), so the registrar's on-time acceptance of every
  report takes its place. composite = 业务量得分 × 25 % + 按时派发核实率 × 40 % + 按时受理率 × 35 %;
- 值班长: 按时立案率 = on-time open events / open events; 准确立案率 = openings that stood /
  openings, where an opening did not stand when the case was later found invalid or reopened
  (重新启用: what was opened and closed did not settle the problem); 按时结案率 = on-time close
  events / close events. composite = 按时立案率 × 25 % + 准确立案率 × 40 % + 按时结案率 × 35 %;
- 派遣员: 派遣量 = dispatch events; 业务量得分 as above among dispatchers; 按时派遣率 = on-time
  dispatches / dispatches; 准确派遣率 = (dispatched − sent back) / dispatched. composite =
  业务量得分 × 20 % + 按时派遣率 × 40 % + 准确派遣率 × 40 %.

"On time" is the event's ``on_time`` flag, set by the workflow when the event completed its
step (event time ≤ the step's deadline); events whose flag is unknown (None) are left out of
both sides of an on-time rate.

Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E (scores rounded to two decimals first).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from towngrid.accounts.models import Department, User
from towngrid.grids.models import CODE_LENGTHS, DutyAssignment, GridNode, Level

from .models import OPEN_STATUSES, Case, CaseEvent, Source, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
MICRO_LENGTH = CODE_LENGTHS[Level.MICRO]

# Weights of the composite scores, in percent. Shown on the page and in the export.
AREA_WEIGHTS = {"on_time_rate": 60, "closure_rate": 40}
DEPARTMENT_WEIGHTS = {"on_time_rate": 60, "rework_rate": 20, "sendback_rate": 20}
WORKER_WEIGHTS = {"valid_rate": 40, "miss_rate": 20, "verify_rate": 20, "recheck_rate": 20}
REGISTRAR_WEIGHTS = {"volume_score": 25, "verify_dispatch_rate": 40, "accept_rate": 35}
SHIFT_LEAD_WEIGHTS = {"open_rate": 25, "open_accuracy": 40, "close_rate": 35}
DISPATCHER_WEIGHTS = {"volume_score": 20, "dispatch_rate": 40, "dispatch_accuracy": 40}
# Indicators where lower is better enter the composite as (1 − rate).
INVERTED = {"rework_rate", "sendback_rate", "miss_rate"}

GRADES = [(90, "A"), (75, "B"), (60, "C"), (40, "D")]

NOT_DUE = [Status.PARKED, Status.REJECTED, Status.MERGED]

POSTS = {
    "registrar": "受理员",
    "shift_lead": "值班长",
    "dispatcher": "派遣员",
}
OPS_ROLE_POST = {
    "ops_registrar": "registrar",
    "ops_shift_lead": "shift_lead",
    "ops_dispatcher": "dispatcher",
}
POST_RANK = {"leader": 0, "full_time": 1, "part_time": 2}
POST_LABELS = {"leader": "网格长", "full_time": "专职网格员", "part_time": "兼职网格员"}


# ---- small helpers -------------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to measure."""
    return numerator / denominator if denominator else None


def grade(score: float | None) -> str | None:
    """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E; None for no score."""
    if score is None:
        return None
    score = round(score, 2)
    for threshold, letter in GRADES:
        if score >= threshold:
            return letter
    return "E"


def composite(values: dict[str, float | None], weights: dict[str, int]) -> float | None:
    """Weighted score 0–100 over the indicators that exist (rates 0–1, volume scores 0–100);
    lower-is-better rates count as 1 − rate. None when no indicator exists."""
    total = 0.0
    weight_sum = 0
    for key, weight in weights.items():
        value = values.get(key)
        if value is None:
            continue
        if key.endswith("_score"):
            value = value / 100
        elif key in INVERTED:
            value = max(0.0, 1 - value)
        total += weight * value
        weight_sum += weight
    if not weight_sum:
        return None
    return round(total / weight_sum * 100, 2)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) as aware datetimes at midnight in Asia/Shanghai."""
    return (
        datetime.combine(start, time.min, tzinfo=SHANGHAI),
        datetime.combine(end, time.min, tzinfo=SHANGHAI),
    )


# ---- rows ----------------------------------------------------------------------------------


@dataclass
class AreaRow:
    code: str
    name: str
    level: int | None
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    parked: int = 0
    overdue: int = 0
    closure_rate: float | None = None
    on_time_rate: float | None = None
    score: float | None = None
    grade: str | None = None

    def finish(self) -> AreaRow:
        self.closure_rate = rate(self.closed, self.due)
        self.on_time_rate = rate(self.closed_on_time, self.due)
        self.score = composite(asdict(self), AREA_WEIGHTS)
        self.grade = grade(self.score)
        return self


@dataclass
class DepartmentRow:
    department_id: int | None
    code: str
    name: str
    dispatched: int = 0
    sent_back: int = 0
    handled: int = 0
    handled_on_time: int = 0
    handled_timed: int = 0  # handled events whose on-time flag is known
    reworked: int = 0
    on_time_rate: float | None = None
    rework_rate: float | None = None
    sendback_rate: float | None = None
    score: float | None = None
    grade: str | None = None

    def finish(self) -> DepartmentRow:
        self.on_time_rate = rate(self.handled_on_time, self.handled_timed)
        self.rework_rate = rate(self.reworked, self.handled)
        self.sendback_rate = rate(self.sent_back, self.dispatched)
        self.score = composite(asdict(self), DEPARTMENT_WEIGHTS)
        self.grade = grade(self.score)
        return self


@dataclass
class WorkerRow:
    user_id: int
    username: str
    name: str
    post: str  # leader / full_time / part_time, or "" when the user holds no duty
    post_label: str
    grids: list[str] = field(default_factory=list)  # duty micro-grids inside the root
    reports: int = 0
    valid_reports: int = 0
    invalid_reports: int = 0
    verified: int = 0
    verified_on_time: int = 0
    rechecked: int = 0
    rechecked_on_time: int = 0
    grid_cases: int = 0  # cases opened in the worker's grids
    missed: int = 0
    valid_rate: float | None = None
    verify_rate: float | None = None
    recheck_rate: float | None = None
    miss_rate: float | None = None
    score: float | None = None
    grade: str | None = None

    def finish(self) -> WorkerRow:
        self.valid_rate = rate(self.valid_reports, self.valid_reports + self.invalid_reports)
        self.verify_rate = rate(self.verified_on_time, self.verified)
        self.recheck_rate = rate(self.rechecked_on_time, self.rechecked)
        self.miss_rate = rate(self.missed, self.grid_cases)
        self.score = composite(asdict(self), WORKER_WEIGHTS)
        self.grade = grade(self.score)
        return self


@dataclass
class OpsRow:
    """One operations-centre post holder. Only the fields of the row's post are filled."""

    user_id: int
    username: str
    name: str
    post: str  # registrar / shift_lead / dispatcher
    post_label: str
    volume: int = 0  # accepts, opens + closes, or dispatches
    volume_score: float | None = None
    # 受理员
    accepted: int = 0
    accepted_timed: int = 0
    accepted_on_time: int = 0
    verify_dispatched: int = 0
    verify_dispatched_on_time: int = 0
    accept_rate: float | None = None
    verify_dispatch_rate: float | None = None
    # 值班长
    opened: int = 0
    opened_timed: int = 0
    opened_on_time: int = 0
    opened_not_standing: int = 0
    closed: int = 0
    closed_timed: int = 0
    closed_on_time: int = 0
    open_rate: float | None = None
    open_accuracy: float | None = None
    close_rate: float | None = None
    # 派遣员
    dispatched: int = 0
    dispatched_timed: int = 0
    dispatched_on_time: int = 0
    sent_back: int = 0
    dispatch_rate: float | None = None
    dispatch_accuracy: float | None = None
    score: float | None = None
    grade: str | None = None

    def finish(self, peak_volume: int) -> OpsRow:
        self.volume_score = round(self.volume / peak_volume * 100, 2) if peak_volume else None
        if self.post == "registrar":
            self.accept_rate = rate(self.accepted_on_time, self.accepted_timed)
            self.verify_dispatch_rate = rate(self.verify_dispatched_on_time, self.verify_dispatched)
            weights = REGISTRAR_WEIGHTS
        elif self.post == "shift_lead":
            self.volume_score = None  # not part of the shift lead's formula
            self.open_rate = rate(self.opened_on_time, self.opened_timed)
            self.open_accuracy = rate(self.opened - self.opened_not_standing, self.opened)
            self.close_rate = rate(self.closed_on_time, self.closed_timed)
            weights = SHIFT_LEAD_WEIGHTS
        else:
            self.dispatch_rate = rate(self.dispatched_on_time, self.dispatched_timed)
            self.dispatch_accuracy = rate(self.dispatched - self.sent_back, self.dispatched)
            weights = DISPATCHER_WEIGHTS
        self.score = composite(asdict(self), weights)
        self.grade = grade(self.score)
        return self


@dataclass
class EvaluationResult:
    start: date
    end: date  # exclusive
    root_code: str
    root_name: str
    total: AreaRow
    areas: list[AreaRow]
    departments: list[DepartmentRow]
    workers: list[WorkerRow]
    operations: list[OpsRow]
    generated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (dates as ISO strings, rates as fractions rounded to 4 places)."""

        def clean(row: Any) -> dict[str, Any]:
            out = asdict(row)
            for key, value in out.items():
                if isinstance(value, float):
                    out[key] = round(value, 4)
            return out

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "root": {"code": self.root_code, "name": self.root_name},
            "generated_at": self.generated_at.isoformat(),
            "weights": weights_description(),
            "total": clean(self.total),
            "areas": [clean(r) for r in self.areas],
            "departments": [clean(r) for r in self.departments],
            "workers": [clean(r) for r in self.workers],
            "operations": [clean(r) for r in self.operations],
        }


def weights_description() -> dict[str, dict[str, int]]:
    return {
        "area": AREA_WEIGHTS,
        "department": DEPARTMENT_WEIGHTS,
        "grid_worker": WORKER_WEIGHTS,
        "registrar": REGISTRAR_WEIGHTS,
        "shift_lead": SHIFT_LEAD_WEIGHTS,
        "dispatcher": DISPATCHER_WEIGHTS,
    }


# ---- the tables ----------------------------------------------------------------------------


class _Scope:
    """The cases and events under evaluation: the root's subtree, optionally narrowed further
    (e.g. to a department user's visible cases) by ``cases``."""

    def __init__(self, root: str, cases: QuerySet | None, start: date, end: date, as_of):
        self.root = root
        self.start, self.end = start, end
        self.start_dt, self.end_dt = period_bounds(start, end)
        now = as_of or timezone.now()
        self.as_of = min(now, self.end_dt)
        base = cases if cases is not None else Case.objects.all()
        self.cases = base.filter(grid_code__startswith=root) if root else base
        self.narrowed = cases is not None
        events = CaseEvent.objects.filter(case__grid_code__startswith=root)
        if self.narrowed:
            events = events.filter(case__in=self.cases.values("pk"))
        self.events = events
        self._flows: list[dict[str, Any]] | None = None

    def events_in_period(self) -> QuerySet:
        return self.events.filter(at__gte=self.start_dt, at__lt=self.end_dt)

    def opened_in_period(self) -> QuerySet:
        return self.cases.filter(opened_at__gte=self.start_dt, opened_at__lt=self.end_dt)


def _area_aggregates(scope: _Scope) -> dict[str, Any]:
    """The area counts as aggregates. Aliases carry an ``n_`` prefix because some counts share
    their name with a Case field (closed_on_time), which Django refuses as an alias."""
    due = ~Q(status__in=NOT_DUE)
    closed = due & Q(status=Status.CLOSED, closed_at__lt=scope.end_dt)
    overdue = due & (
        Q(closed_on_time=False) | Q(status__in=OPEN_STATUSES, step_deadline__lt=scope.as_of)
    )
    return {
        "n_due": Count("pk", filter=due),
        "n_closed": Count("pk", filter=closed),
        "n_closed_on_time": Count("pk", filter=closed & Q(closed_on_time=True)),
        "n_parked": Count("pk", filter=Q(status=Status.PARKED)),
        "n_overdue": Count("pk", filter=overdue),
    }


def _unprefix(row: dict[str, Any]) -> dict[str, int]:
    return {k[2:]: v or 0 for k, v in row.items() if k.startswith("n_")}


def area_table(
    scope: _Scope, nodes: list[GridNode], root_node: GridNode | None
) -> tuple[AreaRow, list[AreaRow]]:
    aggregates = _area_aggregates(scope)
    opened = scope.opened_in_period()
    total = AreaRow(
        code=scope.root,
        name=root_node.name if root_node else "全部",
        level=root_node.level if root_node else None,
        **_unprefix(opened.aggregate(**aggregates)),
    ).finish()

    # One grouped query per code length (children of one node all have the same length).
    counts: dict[str, dict[str, int]] = {}
    for length in sorted({len(n.code) for n in nodes}):
        rows = (
            opened.annotate(node=Substr("grid_code", 1, length))
            .values("node")
            .annotate(**aggregates)
        )
        for row in rows:
            counts[row["node"]] = _unprefix(row)
    areas = [
        AreaRow(code=n.code, name=n.name, level=n.level, **counts.get(n.code, {})).finish()
        for n in nodes
    ]
    return total, areas


def _event_flow(scope: _Scope) -> list[dict[str, Any]]:
    """Department attribution and dispatch→send-back pairing, from the dispatch, send-back,
    feedback and rework events of every case that had one of them from the period's start on
    (so a dispatch in the period that is sent back later still counts as sent back).

    Returns the events of the period as dicts: kind, actor_id, department_id, on_time and, for
    dispatches, sent_back. Computed once per evaluation (``_Scope.flows``)."""
    if scope._flows is not None:
        return scope._flows
    actions = ["dispatch", "sendback", "feedback", "rework"]
    active_cases = scope.events.filter(action__in=actions, at__gte=scope.start_dt).values("case_id")
    rows = (
        scope.events.filter(action__in=actions, case_id__in=active_cases)
        .order_by("case_id", "at", "id")
        .values_list(
            "case_id",
            "action",
            "at",
            "actor_id",
            "department_id",
            "case__department_id",
            "on_time",
        )
    )
    current_case = None
    current_dept = None
    last_dispatch: dict[str, Any] | None = None
    flows: list[dict[str, Any]] = []
    for case_id, action, at, actor_id, dept_id, case_dept_id, on_time in rows.iterator(
        chunk_size=5000
    ):
        if case_id != current_case:
            current_case, current_dept, last_dispatch = case_id, None, None
        if action == "dispatch":
            current_dept = dept_id or case_dept_id
            department = current_dept
        else:
            # The department that had the case: the event's own, else the latest dispatch's.
            department = dept_id or current_dept or case_dept_id
        flow = {
            "kind": action,
            "actor_id": actor_id,
            "department_id": department,
            "on_time": on_time,
            "sent_back": False,
            "in_period": scope.start_dt <= at < scope.end_dt,
        }
        flows.append(flow)
        if action == "dispatch":
            last_dispatch = flow
        elif action == "sendback" and last_dispatch is not None:
            last_dispatch["sent_back"] = True
            last_dispatch = None
    scope._flows = [f for f in flows if f["in_period"]]
    return scope._flows


def department_table(scope: _Scope) -> list[DepartmentRow]:
    by_dept: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for flow in _event_flow(scope):
        counts = by_dept[flow["department_id"]]
        kind = flow["kind"]
        if kind == "dispatch":
            counts["dispatched"] += 1
            counts["sent_back"] += flow["sent_back"]
        elif kind == "feedback":
            counts["handled"] += 1
            if flow["on_time"] is not None:
                counts["handled_timed"] += 1
                counts["handled_on_time"] += bool(flow["on_time"])
        elif kind == "rework":
            counts["reworked"] += 1

    # Every active department is listed (a department with nothing to show is "—"), except for
    # a caller who sees only some cases (a department user): then only those that took part.
    listed = Q(pk__in=[k for k in by_dept if k is not None])
    if not scope.narrowed:
        listed |= Q(active=True)
    rows = [
        DepartmentRow(
            department_id=dept.pk,
            code=dept.code,
            name=dept.short_name or dept.name,
            **by_dept.get(dept.pk, {}),
        ).finish()
        for dept in Department.objects.filter(listed).order_by("sort", "code")
    ]
    if by_dept.get(None):
        rows.append(
            DepartmentRow(department_id=None, code="", name="未指定部门", **by_dept[None]).finish()
        )
    return rows


def worker_table(scope: _Scope) -> list[WorkerRow]:
    start, end = scope.start, scope.end
    duties = (
        DutyAssignment.objects.filter(staff__user__isnull=False, staff__active=True)
        .filter(Q(started_on__isnull=True) | Q(started_on__lt=end))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=start))
        .values_list("staff__user_id", "staff__name", "post", "grid__code")
    )
    root = scope.root
    grids_of: dict[int, set[str]] = defaultdict(set)
    posts_of: dict[int, str] = {}
    staff_names: dict[int, str] = {}
    for user_id, name, post, code in duties:
        # A duty inside the root, or a duty grid containing the root (root below micro level).
        if not (code.startswith(root) or root.startswith(code)):
            continue
        grids_of[user_id].add(code)
        staff_names[user_id] = name
        if user_id not in posts_of or POST_RANK.get(post, 9) < POST_RANK.get(posts_of[user_id], 9):
            posts_of[user_id] = post

    # Reports, by reporter.
    valid = Q(is_valid_report=True) | Q(is_valid_report__isnull=True, opened_at__isnull=False)
    reports = (
        scope.cases.filter(
            reported_at__gte=scope.start_dt, reported_at__lt=scope.end_dt, reporter__isnull=False
        )
        .exclude(status=Status.MERGED)
        .values("reporter_id")
        .annotate(
            n=Count("pk"),
            valid=Count("pk", filter=valid),
            invalid=Count("pk", filter=Q(is_valid_report=False)),
            as_worker=Count("pk", filter=Q(source=Source.GRID_WORKER)),
        )
    )
    stats: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in reports:
        counts = stats[row["reporter_id"]]
        counts["reports"] = row["n"]
        counts["valid_reports"] = row["valid"]
        counts["invalid_reports"] = row["invalid"]
        counts["_as_worker"] = row["as_worker"]

    # Verification and re-check tasks, by actor.
    tasks = (
        scope.events_in_period()
        .filter(action__in=["verify", "recheck", "rework"], actor__isnull=False)
        .values("actor_id", "action")
        .annotate(
            timed=Count("pk", filter=Q(on_time__isnull=False)),
            n_on_time=Count("pk", filter=Q(on_time=True)),
        )
    )
    for row in tasks:
        counts = stats[row["actor_id"]]
        if row["action"] == "verify":
            counts["verified"] += row["timed"]
            counts["verified_on_time"] += row["n_on_time"]
        else:
            counts["rechecked"] += row["timed"]
            counts["rechecked_on_time"] += row["n_on_time"]
        counts["_tasks"] += 1

    # Cases opened in the period per micro-grid, and how many a grid worker did not report.
    micro = (
        scope.opened_in_period()
        .annotate(micro=Substr("grid_code", 1, MICRO_LENGTH))
        .values("micro")
        .annotate(
            n=Count("pk"),
            missed=Count("pk", filter=~Q(source=Source.GRID_WORKER)),
        )
    )
    per_micro = {row["micro"]: (row["n"], row["missed"]) for row in micro}

    # The people in the table: staff on duty here, and whoever did a grid worker's work here.
    people = set(grids_of) | {
        uid for uid, c in stats.items() if c.get("_as_worker") or c.get("_tasks")
    }
    users = {
        u.pk: u for u in User.objects.filter(pk__in=people).select_related("role", "grid_staff")
    }
    rows = []
    for user_id in people:
        user = users.get(user_id)
        if user is None:
            continue
        if user.role and user.role.code in OPS_ROLE_POST and user_id not in grids_of:
            continue  # an operations user verifying from the centre is not a grid worker
        counts = {k: v for k, v in stats.get(user_id, {}).items() if not k.startswith("_")}
        grid_cases = missed = 0
        seen: set[str] = set()
        for code in grids_of.get(user_id, ()):
            for key, (n, m) in per_micro.items():
                if key not in seen and key.startswith(code[:MICRO_LENGTH]):
                    seen.add(key)
                    grid_cases += n
                    missed += m
        post = posts_of.get(user_id, "")
        staff_name = staff_names.get(user_id) or getattr(
            getattr(user, "grid_staff", None), "name", ""
        )
        rows.append(
            WorkerRow(
                user_id=user_id,
                username=user.get_username(),
                name=staff_name or user.display_name or user.get_username(),
                post=post,
                post_label=POST_LABELS.get(post) or (user.role.name if user.role else ""),
                grids=sorted(c for c in grids_of.get(user_id, ()) if c.startswith(root)),
                grid_cases=grid_cases,
                missed=missed,
                **counts,
            ).finish()
        )
    rows.sort(key=lambda r: (-(r.score if r.score is not None else -1), r.name, r.user_id))
    return rows


def operations_table(scope: _Scope) -> list[OpsRow]:
    later_reopen = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"), action="reopen", at__gt=OuterRef("at")
    )
    events = (
        scope.events_in_period()
        .filter(action__in=["accept", "open", "close", "dispatch"], actor__isnull=False)
        .values("actor_id", "action")
        .annotate(
            n=Count("pk"),
            timed=Count("pk", filter=Q(on_time__isnull=False)),
            n_on_time=Count("pk", filter=Q(on_time=True)),
            to_verify=Count("pk", filter=Q(to_status=Status.VERIFYING, on_time__isnull=False)),
            to_verify_on_time=Count("pk", filter=Q(to_status=Status.VERIFYING, on_time=True)),
        )
    )
    # Openings that did not stand, counted apart: a correlated subquery inside an aggregate's
    # filter is refused by SQLite.
    not_standing = dict(
        scope.events_in_period()
        .filter(action="open", actor__isnull=False)
        .filter(Q(Exists(later_reopen)) | Q(case__is_valid_report=False))
        .values("actor_id")
        .annotate(n=Count("pk"))
        .values_list("actor_id", "n")
    )
    sent_back: dict[int, int] = defaultdict(int)
    for flow in _event_flow(scope):
        if flow["kind"] == "dispatch" and flow["sent_back"] and flow["actor_id"]:
            sent_back[flow["actor_id"]] += 1

    post_of_action = {
        "accept": "registrar",
        "open": "shift_lead",
        "close": "shift_lead",
        "dispatch": "dispatcher",
    }
    rows_by_key: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in events:
        post = post_of_action[row["action"]]
        counts = rows_by_key[(row["actor_id"], post)]
        if row["action"] == "accept":
            counts["accepted"] += row["n"]
            counts["accepted_timed"] += row["timed"]
            counts["accepted_on_time"] += row["n_on_time"]
            counts["verify_dispatched"] += row["to_verify"]
            counts["verify_dispatched_on_time"] += row["to_verify_on_time"]
            counts["volume"] += row["n"]
        elif row["action"] == "open":
            counts["opened"] += row["n"]
            counts["opened_timed"] += row["timed"]
            counts["opened_on_time"] += row["n_on_time"]
            counts["opened_not_standing"] = not_standing.get(row["actor_id"], 0)
            counts["volume"] += row["n"]
        elif row["action"] == "close":
            counts["closed"] += row["n"]
            counts["closed_timed"] += row["timed"]
            counts["closed_on_time"] += row["n_on_time"]
            counts["volume"] += row["n"]
        else:
            counts["dispatched"] += row["n"]
            counts["dispatched_timed"] += row["timed"]
            counts["dispatched_on_time"] += row["n_on_time"]
            counts["sent_back"] = sent_back.get(row["actor_id"], 0)
            counts["volume"] += row["n"]

    users = {
        u.pk: u
        for u in User.objects.filter(pk__in={uid for uid, _ in rows_by_key}).select_related(
            "role", "grid_staff"
        )
    }
    kept: dict[tuple[int, str], dict[str, int]] = {}
    for (user_id, post), counts in rows_by_key.items():
        user = users.get(user_id)
        if user is None:
            continue
        own_post = OPS_ROLE_POST.get(user.role.code) if user.role else None
        if own_post is not None and own_post != post:
            continue  # e.g. a shift lead who also accepted: evaluated as a shift lead only
        if own_post is None and user.role and user.role.scope_kind == "grid":
            continue  # grid staff are evaluated in the grid-worker table
        kept[(user_id, post)] = counts
    peak = defaultdict(int)
    for (_, post), counts in kept.items():
        peak[post] = max(peak[post], counts["volume"])
    rows = []
    for (user_id, post), counts in kept.items():
        user = users[user_id]
        rows.append(
            OpsRow(
                user_id=user_id,
                username=user.get_username(),
                name=user.display_name or user.get_username(),
                post=post,
                post_label=POSTS[post],
                **counts,
            ).finish(peak[post])
        )
    order = list(POSTS)
    rows.sort(
        key=lambda r: (order.index(r.post), -(r.score if r.score is not None else -1), r.name)
    )
    return rows


# ---- the entry point -----------------------------------------------------------------------


def default_root() -> GridNode | None:
    """The town: the only level-1 node, or None when there are several (evaluate all)."""
    towns = list(GridNode.objects.filter(level=Level.TOWN)[:2])
    return towns[0] if len(towns) == 1 else None


def evaluate(
    start: date,
    end: date,
    root: str | GridNode | None = None,
    *,
    nodes: list[GridNode] | None = None,
    cases: QuerySet | None = None,
    as_of: datetime | None = None,
) -> EvaluationResult:
    """The evaluation of [start, end) for the subtree of ``root`` (a code or node; default the
    town). ``nodes`` chooses the area rows (default: the root's children, or the root itself when
    it has none). ``cases`` narrows the cases further (a caller's visible cases); the caller is
    responsible for having checked that the root is inside the user's scope."""
    if end <= start:
        raise ValueError("结束日期应晚于开始日期。")
    if isinstance(root, GridNode):
        root_node = root
    elif root:
        root_node = GridNode.objects.get(code=root)
    else:
        root_node = default_root()
    root_code = root_node.code if root_node else ""
    if nodes is None:
        if root_node is not None:
            nodes = list(root_node.children.order_by("code")) or [root_node]
        else:
            nodes = list(GridNode.objects.filter(level=Level.TOWN).order_by("code"))
    scope = _Scope(root_code, cases, start, end, as_of)
    total, areas = area_table(scope, nodes, root_node)
    return EvaluationResult(
        start=start,
        end=end,
        root_code=root_code,
        root_name=total.name,
        total=total,
        areas=areas,
        departments=department_table(scope),
        workers=worker_table(scope),
        operations=operations_table(scope),
        generated_at=timezone.now(),
    )


class EvaluationDenied(Exception):
    """The user may not evaluate what was asked. ``status`` is the HTTP answer: 403 for a user
    with no data scope, 404 for a root outside the scope (alike to one that does not exist)."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def evaluate_for(user, start: date, end: date, root_code: str | None = None) -> EvaluationResult:
    """``evaluate`` within ``user``'s scope, for the API and the page alike.

    - grid-scoped users: their own subtree (the default root) or any node inside it;
    - town-scoped users: any node (default: the town);
    - department users: their own department's cases (``visible_to``), over any part of the grid;
    - users with no data scope (residents, security and audit administrators): refused.
    """
    from towngrid.accounts.access import can_see_grid_code, in_grid_scope, scope_kind_of, visible_to
    from towngrid.accounts.models import ScopeKind

    kind = scope_kind_of(user)
    if kind == ScopeKind.NONE or (kind == ScopeKind.GRID and user.scope_id is None):
        raise EvaluationDenied("forbidden", "您的角色无权查看综合评价。", 403)
    code = (root_code or "").strip()
    if not code:
        root = user.scope if kind == ScopeKind.GRID else default_root()
    else:
        if kind == ScopeKind.GRID:
            allowed = in_grid_scope(user, code)
        elif kind == ScopeKind.DEPARTMENT:
            allowed = can_see_grid_code(user, code)
        else:
            allowed = True
        root = GridNode.objects.filter(code=code).first() if allowed else None
        if root is None:
            # Outside the scope and non-existent look the same: no existence oracle.
            raise EvaluationDenied("not_found", f"网格 {code} 不存在或不在您的范围内。", 404)
    cases = visible_to(user, Case.objects.all()) if kind == ScopeKind.DEPARTMENT else None
    return evaluate(start, end, root, cases=cases)


# ---- XLSX ----------------------------------------------------------------------------------

PERCENT = "0.00%"

AREA_COLUMNS = [
    ("code", "网格编码", None),
    ("name", "名称", None),
    ("due", "应结案数", None),
    ("closed", "结案数", None),
    ("closed_on_time", "按期结案数", None),
    ("parked", "挂账数", None),
    ("overdue", "超期数", None),
    ("closure_rate", "结案率", PERCENT),
    ("on_time_rate", "按期结案率", PERCENT),
    ("score", "综合得分", "0.00"),
    ("grade", "等级", None),
]
DEPARTMENT_COLUMNS = [
    ("name", "部门", None),
    ("dispatched", "派遣数", None),
    ("sent_back", "回退数", None),
    ("handled", "处置数", None),
    ("handled_on_time", "按期处置数", None),
    ("reworked", "返工数", None),
    ("on_time_rate", "按期处置率", PERCENT),
    ("rework_rate", "返工率", PERCENT),
    ("sendback_rate", "回退率", PERCENT),
    ("score", "综合得分", "0.00"),
    ("grade", "等级", None),
]
WORKER_COLUMNS = [
    ("name", "姓名", None),
    ("post_label", "岗位", None),
    ("reports", "上报数", None),
    ("valid_reports", "有效上报数", None),
    ("valid_rate", "有效上报率", PERCENT),
    ("verified", "核实数", None),
    ("verify_rate", "按时核实率", PERCENT),
    ("rechecked", "核查数", None),
    ("recheck_rate", "按时核查率", PERCENT),
    ("grid_cases", "网格立案数", None),
    ("missed", "漏报数", None),
    ("miss_rate", "漏报率", PERCENT),
    ("score", "综合得分", "0.00"),
    ("grade", "等级", None),
]
OPS_COLUMNS = [
    ("post_label", "岗位", None),
    ("name", "姓名", None),
    ("volume", "业务量", None),
    ("volume_score", "业务量得分", "0.00"),
    ("verify_dispatch_rate", "按时派发核实率", PERCENT),
    ("accept_rate", "按时受理率", PERCENT),
    ("open_rate", "按时立案率", PERCENT),
    ("open_accuracy", "准确立案率", PERCENT),
    ("close_rate", "按时结案率", PERCENT),
    ("dispatch_rate", "按时派遣率", PERCENT),
    ("dispatch_accuracy", "准确派遣率", PERCENT),
    ("score", "综合得分", "0.00"),
    ("grade", "等级", None),
]
EMPTY = "—"


def evaluation_xlsx(result: EvaluationResult) -> bytes:
    """The evaluation as a workbook: 区域, 部门, 网格员, 城运中心 and a 说明 sheet."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, columns, rows, first: bool = False) -> None:
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        ws.append([label for _, label, _ in columns])
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            values = asdict(row)
            ws.append([EMPTY if values[key] is None else values[key] for key, _, _ in columns])
            for index, (key, _, fmt) in enumerate(columns, start=1):
                if fmt and values[key] is not None:
                    ws.cell(row=ws.max_row, column=index).number_format = fmt
        for index, (_, label, _) in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = max(10, len(label) * 2 + 4)
        ws.freeze_panes = "A2"

    sheet("区域", AREA_COLUMNS, [*result.areas, result.total], first=True)
    sheet("部门", DEPARTMENT_COLUMNS, result.departments)
    sheet("网格员", WORKER_COLUMNS, result.workers)
    sheet("城运中心", OPS_COLUMNS, result.operations)

    notes = wb.create_sheet("说明")
    notes.append(["评价范围", f"{result.root_name}（{result.root_code}）"])
    notes.append(["评价期间", f"{result.start.isoformat()} 至 {result.end.isoformat()}（不含）"])
    notes.append(["生成时间", timezone.localtime(result.generated_at).strftime("%Y-%m-%d %H:%M")])
    notes.append(["等级", "A ≥ 90，B ≥ 75，C ≥ 60，D ≥ 40，其余 E；分母为零的指标记“—”"])
    for name, text in [
        ("区域综合得分", "按期结案率×60% + 结案率×40%"),
        ("部门综合得分", "按期处置率×60% + (1−返工率)×20% + (1−回退率)×20%"),
        ("网格员综合得分", "有效上报率×40% + (1−漏报率)×20% + 按时核实率×20% + 按时核查率×20%"),
        ("受理员综合得分", "业务量得分×25% + 按时派发核实率×40% + 按时受理率×35%"),
        ("值班长综合得分", "按时立案率×25% + 准确立案率×40% + 按时结案率×35%"),
        ("派遣员综合得分", "业务量得分×20% + 按时派遣率×40% + 准确派遣率×40%"),
    ]:
        notes.append([name, text])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 80

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
