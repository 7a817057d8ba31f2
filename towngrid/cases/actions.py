"""Every state change of a case (GB/T 30428 / CJ/T 315 workflow).

``report`` creates a case; ``transition`` applies any action of ``workflow.TRANSITIONS`` through
one engine (``_apply``) that checks the status, the actor's capability and scope, the reason,
then writes with an optimistic conditional UPDATE (``WHERE id = … AND version = …``): of two
people acting on one case at once exactly one wins, the other gets ``CaseError("conflict")``
and nothing of theirs is written. Each applied action writes one ``CaseEvent`` (the timeline is
rebuilt from them) and one audit event, in the same transaction.

Every action takes ``at`` (default now) so the demo generator and the benchmarks can backdate,
and ``expected_version`` so an API client can say which version of the case it looked at.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import Department, ScopeKind
from towngrid.core import audit
from towngrid.core.db import insert_row
from towngrid.core.notify import notify

from .errors import CaseError
from .models import (
    OPEN_STATUSES,
    Attachment,
    AttachmentKind,
    Case,
    CaseEvent,
    CaseReporter,
    CaseSequence,
    Category,
    LimitUnit,
    Source,
    Status,
    Step,
)
from .signals import case_changed
from .workflow import TRANSITIONS, Transition

NUMBER_PREFIX = "BC"  # 北蔡; the number's year is the local (Asia/Shanghai) year of the report
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_DESCRIPTION = 4000
STATUS_LABELS = {s.value: str(s.label) for s in Status}
_KEEP = object()  # "leave this as the transition table says"


# --- collaborators written by other modules (imported late: they may load after this one) -----


def _deadline(category: Category, step: str | None, start: datetime) -> datetime | None:
    """The step's deadline on the working calendar (cases.timelimits); None without a limit."""
    if not step:
        return None
    from .timelimits import deadline_for

    return deadline_for(category, step, start)


def _add_time(start: datetime, amount: Decimal, unit: str) -> datetime:
    """``start`` + ``amount`` ``unit`` on the working calendar (an approved extension)."""
    from towngrid.core.workcalendar import add_duration

    return add_duration(start, amount, unit)


def _attach(case: Case, files: Sequence, kind: str, *, actor, event, at) -> list[Attachment]:
    if not files:
        return []
    from .media import attach_photo

    return [attach_photo(case, f, kind, actor=actor, event=event, at=at) for f in files]


# --- small helpers -------------------------------------------------------------------------------


def _now(at: datetime | None) -> datetime:
    return at or timezone.now()


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _actor_name(actor) -> str:
    user = _user(actor)
    if user is None:
        return "系统"
    return (getattr(user, "display_name", "") or user.get_username())[:150]


def case_url(case: Case) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("cases:detail", kwargs={"number": case.number})
    except NoReverseMatch:
        return f"/cases/{case.number}/"


def in_case_scope(actor, case: Case) -> bool:
    """Whether the actor may act on this case by place or department: grid users inside their
    subtree, department users on cases dispatched to their department, town roles anywhere."""
    if _user(actor) is None:
        return True  # the system (CLI, workers, demo generator)
    kind = scope_kind_of(actor)
    if kind == ScopeKind.TOWN:
        return True
    if kind == ScopeKind.GRID:
        return actor.scope_id is not None and case.grid_code.startswith(actor.scope.code)
    if kind == ScopeKind.DEPARTMENT:
        return actor.department_id is not None and case.department_id == actor.department_id
    return False


def _require_reason(note: str, label: str) -> str:
    note = (note or "").strip()
    if not note:
        raise CaseError("reason_required", f"“{label}”必须填写原因。")
    return note


# --- report (上报) -------------------------------------------------------------------------------

# Category lookups by code are cached per process for a few seconds: intake runs thousands of
# reports a second against a table that changes a few times a year.
_CATEGORY_TTL = 5.0
_category_cache: dict[str, tuple[float, Category | None]] = {}


def _category(value: Category | str | int) -> Category:
    if isinstance(value, Category):
        category = value
    else:
        key = str(value)
        hit = _category_cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < _CATEGORY_TTL:
            category = hit[1]
        else:
            qs = Category.objects.select_related("major", "default_department")
            category = (
                qs.filter(pk=int(key)).first()
                if key.isdigit()
                else qs.filter(full_code=key).first()
            )
            _category_cache[key] = (now, category)
        if category is None:
            raise CaseError(
                "invalid", f"没有编码为 {value} 的案件小类。", details={"field": "category"}
            )
    if not category.active:
        raise CaseError(
            "invalid", f"案件小类“{category.name}”已停用。", details={"field": "category"}
        )
    return category


def _next_number(at: datetime) -> str:
    """BC2023-000123: the next number of the report's year, from the CaseSequence row, in the
    caller's transaction (one UPDATE … RETURNING; the row is created on first use)."""
    year = at.astimezone(LOCAL_TZ).year
    table = CaseSequence._meta.db_table
    sql = f"UPDATE {table} SET last = last + 1 WHERE year = %s RETURNING last"
    with connection.cursor() as cursor:
        cursor.execute(sql, [year])
        row = cursor.fetchone()
        if row is None:
            # First case of the year: create the row (a concurrent creator makes get_or_create
            # fall back to the existing row), then take a number from it as usual.
            CaseSequence.objects.get_or_create(year=year)
            cursor.execute(sql, [year])
            row = cursor.fetchone()
    return f"{NUMBER_PREFIX}{year}-{row[0]:06d}"


def _coordinates(lng, lat, crs: str) -> tuple[float, float]:
    from towngrid.grids.crs import to_wgs84

    try:
        x, y = float(lng), float(lat)
    except (TypeError, ValueError):
        raise CaseError("invalid", "经纬度必须是数字。", details={"field": "lng"}) from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (-180 <= x <= 180 and -90 <= y <= 90):
        raise CaseError("invalid", "经纬度超出范围。", details={"field": "lng"})
    try:
        return to_wgs84(x, y, crs)
    except ValueError as exc:
        raise CaseError("invalid", str(exc), details={"field": "crs"}) from None


def report(
    *,
    category: Category | str | int,
    description: str,
    lng: float,
    lat: float,
    crs: str = "wgs84",
    source: str,
    actor=None,
    address: str = "",
    source_ref: str = "",
    photos: Sequence = (),
    at: datetime | None = None,
    subject=None,
) -> Case:
    """上报: create a case in REPORTED, located in its grid, with the accept step's deadline.

    ``subject`` is the registry object (or device) the case is about, e.g. the house whose code
    was scanned; receivers of ``signals.case_changed`` (the colour engine) react to it.

    Refuses (nothing written): an unknown or inactive category, an empty or too long
    description, a 12345 transfer without its ticket number, a point outside the town. Does not
    merge duplicates; ``queries.find_duplicates`` offers them to the people who accept.
    """
    from towngrid.grids.index import lookup

    at = _now(at)
    category = _category(category)
    description = (description or "").strip()
    if not description:
        raise CaseError("invalid", "请填写问题描述。", details={"field": "description"})
    if len(description) > MAX_DESCRIPTION:
        raise CaseError(
            "invalid", f"问题描述不能超过 {MAX_DESCRIPTION} 字。", details={"field": "description"}
        )
    if source not in Source.values:
        raise CaseError("invalid", f"未知的案件来源：{source}。", details={"field": "source"})
    source_ref = (source_ref or "").strip()
    if source == Source.HOTLINE and not source_ref:
        raise CaseError(
            "invalid", "12345 热线转派必须填写工单号。", details={"field": "source_ref"}
        )
    x, y = _coordinates(lng, lat, crs)
    path = lookup(x, y)
    if not path:
        raise CaseError(
            "outside_town",
            "该位置不在本镇网格范围内，无法受理。",
            details={"lng": x, "lat": y},
        )
    leaf = path[-1]
    user = _user(actor)
    deadline = _deadline(category, Step.ACCEPT, at)
    with transaction.atomic():
        case = Case(
            number=_next_number(at),
            category=category,
            source=source,
            source_ref=source_ref[:64],
            status=Status.REPORTED,
            description=description,
            address=(address or "").strip()[:200],
            lng=x,
            lat=y,
            grid=leaf,
            grid_code=leaf.code,
            reporter=user,
            step=Step.ACCEPT,
            step_started_at=at,
            step_deadline=deadline,
            reported_at=at,
        )
        if subject is not None:
            case.subject_type = ContentType.objects.get_for_model(subject)
            case.subject_id = subject.pk
        insert_row(case)
        event = CaseEvent(
            case=case,
            action="report",
            to_status=Status.REPORTED,
            actor=user,
            actor_name=_actor_name(actor),
            at=at,
            note=description[:200],
            deadline=deadline,
            data={"source": source, "source_ref": source_ref} if source_ref else {"source": source},
        )
        insert_row(event)
        insert_row(CaseReporter(case=case, user=user, source=source, reported_at=at))
        audit.record(
            actor,
            "cases.report",
            case,
            changes={"category": category.full_code, "grid": leaf.code, "source": source},
        )
        _attach(case, photos, AttachmentKind.BEFORE, actor=user, event=event, at=at)
        case_changed.send(
            sender=Case, case=case, action="report", old_status="", new_status=case.status
        )
    return case


# --- the transition engine -----------------------------------------------------------------------


def check_allowed(case: Case, t: Transition, actor) -> None:
    """Raise unless ``actor`` may take ``t`` on ``case`` now (status, capability, scope)."""
    if case.status not in t.sources:
        raise CaseError(
            "transition_not_allowed",
            f"案件当前状态为“{STATUS_LABELS.get(case.status, case.status)}”，不能执行“{t.label}”。",
            details={"status": case.status, "action": t.action},
        )
    if _user(actor) is not None:
        if not has_capability(actor, t.capability):
            raise CaseError("forbidden", f"您没有“{t.label}”的权限。", details={"action": t.action})
        if not in_case_scope(actor, case):
            raise CaseError("forbidden", "该案件不在您的管辖范围内。", details={"action": t.action})
    pending = case.pending_request
    if t.action in {"request_extension", "request_park"} and pending:
        raise CaseError("request_pending", "已有待审批的申请，请等待值班长处理。")
    if t.action == "approve_extension" and pending != "extension":
        raise CaseError("no_pending_request", "该案件没有待审批的延期申请。")
    if t.action == "approve_park" and pending != "park":
        raise CaseError("no_pending_request", "该案件没有待审批的挂账申请。")
    if t.action == "deny_request" and not pending:
        raise CaseError("no_pending_request", "该案件没有待审批的申请。")


def can_take(case: Case, action: str, actor) -> bool:
    t = TRANSITIONS.get(action)
    if t is None:
        return False
    try:
        check_allowed(case, t, actor)
    except CaseError:
        return False
    return True


def _apply(
    case: Case,
    action: str,
    *,
    actor,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
    target: Any = _KEEP,
    step: Any = _KEEP,
    updates: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    department: Department | None = None,
    on_time: Any = _KEEP,
    deadline: Any = _KEEP,
    event_action: str | None = None,
) -> CaseEvent:
    """Apply one transition: check, conditional UPDATE, event, audit, reporter notices."""
    t = TRANSITIONS[action]
    at = _now(at)
    check_allowed(case, t, actor)
    note = (note or "").strip()
    if t.needs_reason:
        _require_reason(note, t.label)
    if expected_version is not None and int(expected_version) != case.version:
        raise _conflict(case)

    old_status = case.status
    new_status = t.target if target is _KEEP else target
    new_status = new_status or old_status
    new_step = t.step if step is _KEEP else step
    fields: dict[str, Any] = {"status": new_status}
    if new_status != old_status or new_step is not None:
        # The case enters a new step (or leaves the timed steps): restart its clock.
        new_step = new_step or ""
        fields["step"] = new_step
        fields["step_started_at"] = at
        fields["step_deadline"] = (
            _deadline(case.category, new_step, at) if deadline is _KEEP else deadline
        )
    elif deadline is not _KEEP:
        fields["step_deadline"] = deadline
    if on_time is _KEEP:
        # A step-completing action is on time when taken by the deadline of the step it ends.
        completes = new_status != old_status and bool(case.step)
        on_time = (case.step_deadline is None or at <= case.step_deadline) if completes else None
    fields.update(updates or {})
    fields["version"] = case.version + 1
    fields["updated_at"] = timezone.now()

    write = {
        "fields": fields,
        "old_status": old_status,
        "new_status": new_status,
        "on_time": on_time,
        "department": department,
        "data": data,
        "label": t.label if target is _KEEP else _label(new_status),
        "event_action": event_action or action,
    }
    try:
        with transaction.atomic():
            return _write(case, actor=actor, at=at, note=note, **write)
    except OperationalError as exc:
        # SQLite: another writer held the database past the busy timeout. For the user this is
        # the same as losing the race: nothing was written, look again and retry.
        if "locked" in str(exc).lower():
            raise _conflict(case) from exc
        raise


def _write(
    case: Case,
    *,
    actor,
    at: datetime,
    note: str,
    fields: dict[str, Any],
    old_status: str,
    new_status: str,
    on_time: bool | None,
    department: Department | None,
    data: dict[str, Any] | None,
    label: str,
    event_action: str,
) -> CaseEvent:
    """The writes of one transition, inside the caller's transaction: the conditional UPDATE
    first (so a lost race writes nothing), then the event, the audit record, the notices."""
    changed = Case.objects.filter(pk=case.pk, version=case.version).update(**fields)
    if changed == 0:
        raise _conflict(case)
    before = {name: getattr(case, name) for name in fields}
    for name, value in fields.items():
        setattr(case, name, value)
    event = CaseEvent.objects.create(
        case=case,
        action=event_action,
        from_status=old_status,
        to_status=new_status,
        actor=_user(actor),
        actor_name=_actor_name(actor),
        at=at,
        note=note,
        department=department,
        deadline=fields.get("step_deadline"),
        on_time=on_time,
        data=data or {},
    )
    changes = {
        k: [_plain(before[k]), _plain(v)]
        for k, v in fields.items()
        if k not in {"version", "updated_at", "step_started_at"} and before[k] != v
    }
    audit.record(actor, f"cases.{event_action}", case, changes=changes, reason=note)
    if new_status != old_status:
        _notify_reporters(case, actor, label)
    case_changed.send(
        sender=Case, case=case, action=event_action, old_status=old_status, new_status=new_status
    )
    return event


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _conflict(case: Case) -> CaseError:
    return CaseError(
        "conflict",
        f"案件 {case.number} 已被他人处理，请刷新后重试。",
        details={"number": case.number, "version": case.version},
    )


def _notify_reporters(case: Case, actor, what: str) -> None:
    """Tell every reporter who is a user (merged duplicates' reporters included)."""
    actor_id = getattr(_user(actor), "pk", None)
    ids = {
        uid
        for uid in CaseReporter.objects.filter(case=case, user__isnull=False).values_list(
            "user_id", flat=True
        )
        if uid != actor_id
    }
    if ids:
        notify(
            ids,
            kind="case_progress",
            title=f"您上报的案件 {case.number} 已{what}",
            body=f"{case.category.name}：{_label(case.status)}",
            url=case_url(case),
            obj=case,
        )


# --- the named actions ---------------------------------------------------------------------------


def accept(case: Case, *, actor, note: str = "", at=None, expected_version=None) -> Case:
    """受理. A grid worker's own report was seen on site by the reporter: it skips 核实 and goes
    straight to VERIFIED (valid); everything else goes to the grid worker to verify."""
    if case.source == Source.GRID_WORKER:
        _apply(
            case,
            "accept",
            actor=actor,
            note=note or "网格员上报，免于核实",
            at=at,
            expected_version=expected_version,
            target=Status.VERIFIED,
            step=Step.OPEN,
            updates={"accepted_at": _now(at), "is_valid_report": True},
            data={"skip_verify": True},
        )
    else:
        _apply(
            case,
            "accept",
            actor=actor,
            note=note,
            at=at,
            expected_version=expected_version,
            updates={"accepted_at": _now(at)},
        )
    return case


def verify(
    case: Case, *, actor, valid: bool = True, note: str = "", at=None, expected_version=None
) -> Case:
    """核实 on site: valid → VERIFIED (to be opened); not valid → REJECTED "核实不属实"."""
    if valid:
        _apply(
            case,
            "verify",
            actor=actor,
            note=note,
            at=at,
            expected_version=expected_version,
            updates={"is_valid_report": True},
            data={"valid": True},
        )
    else:
        _apply(
            case,
            "verify",
            actor=actor,
            note=note or "核实不属实",
            at=at,
            expected_version=expected_version,
            target=Status.REJECTED,
            step=None,
            updates={"is_valid_report": False},
            data={"valid": False},
        )
    return case


def open_case(case: Case, *, actor, note: str = "", at=None, expected_version=None) -> Case:
    """立案: the shift lead opens the case; it waits for dispatch."""
    _apply(
        case,
        "open",
        actor=actor,
        note=note,
        at=at,
        expected_version=expected_version,
        updates={"opened_at": _now(at)},
    )
    return case


def reject(case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None):
    """不予立案 with a reason. A report nobody had judged yet counts as not valid (有效上报率)."""
    updates = {"is_valid_report": False} if case.is_valid_report is None else {}
    _apply(
        case,
        "reject",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        updates=updates,
    )
    return case


def _department(value: Department | str | int | None) -> Department | None:
    if value is None or value == "":
        return None
    if isinstance(value, Department):
        return value
    key = str(value)
    qs = Department.objects.filter(active=True)
    dept = qs.filter(pk=int(key)).first() if key.isdigit() else qs.filter(code=key).first()
    if dept is None:
        raise CaseError("invalid", f"没有编码为 {value} 的部门。", details={"field": "department"})
    return dept


def dispatch(
    case: Case,
    *,
    actor,
    department: Department | str | int | None = None,
    note: str = "",
    at=None,
    expected_version=None,
) -> Case:
    """派遣 to a department (default: the subclass's default department). Its handling deadline
    is the handle step's limit from now, and is what the reporter is promised."""
    dept = _department(department) or case.category.default_department
    if dept is None:
        raise CaseError(
            "invalid", "请指定处置部门（该小类没有默认处置部门）。", details={"field": "department"}
        )
    at = _now(at)
    handle_deadline = _deadline(case.category, Step.HANDLE, at)
    _apply(
        case,
        "dispatch",
        actor=actor,
        note=note,
        at=at,
        expected_version=expected_version,
        deadline=handle_deadline,
        department=dept,
        updates={
            "department": dept,
            "dispatched_at": at,
            "handle_deadline": handle_deadline,
            "handled_on_time": None,
        },
        data={"department": dept.code},
    )
    notify(
        dept.users.filter(is_active=True),
        kind="case_dispatched",
        title=f"新派遣案件 {case.number}：{case.category.name}",
        body=case.address or case.description[:100],
        url=case_url(case),
        obj=case,
    )
    return case


def handle(
    case: Case,
    *,
    actor,
    note: str = "",
    photos: Sequence = (),
    photo_kind: str = AttachmentKind.AFTER,
    at=None,
    expected_version=None,
) -> Case:
    """处置: the department records progress (notes, photos); the status does not change."""
    if not (note or "").strip() and not photos:
        raise CaseError("invalid", "请填写处置说明或上传照片。", details={"field": "note"})
    at = _now(at)
    with transaction.atomic():
        event = _apply(
            case,
            "handle",
            actor=actor,
            note=note,
            at=at,
            expected_version=expected_version,
            department=case.department,
            data={"photos": len(photos)} if photos else None,
        )
        _attach(case, photos, photo_kind, actor=_user(actor), event=event, at=at)
    return case


def feedback(
    case: Case, *, actor, note: str = "", photos: Sequence = (), at=None, expected_version=None
) -> Case:
    """处理反馈: the department reports the problem solved; the grid worker re-checks it. A
    subclass whose closing conditions require an after-photo refuses feedback without one."""
    at = _now(at)
    if (
        case.category.requires_after_photo
        and not photos
        and not case.attachments.filter(kind=AttachmentKind.AFTER).exists()
    ):
        raise CaseError(
            "after_photo_required",
            f"“{case.category.name}”须上传处置后照片才能反馈。",
            details={"field": "photos"},
        )
    handled_on_time = case.handle_deadline is None or at <= case.handle_deadline
    with transaction.atomic():
        event = _apply(
            case,
            "feedback",
            actor=actor,
            note=note,
            at=at,
            expected_version=expected_version,
            department=case.department,
            on_time=handled_on_time,
            updates={"handled_at": at, "handled_on_time": handled_on_time},
        )
        _attach(case, photos, AttachmentKind.AFTER, actor=_user(actor), event=event, at=at)
    return case


def sendback(
    case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None
) -> Case:
    """回退: the department returns a wrong dispatch to the dispatcher, with a reason. The case
    leaves the department (it no longer sees it); the event keeps which department it was."""
    _apply(
        case,
        "sendback",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        department=case.department,
        updates={
            "department": None,
            "handle_deadline": None,
            "sendback_count": case.sendback_count + 1,
        },
        data={"department": case.department.code if case.department else ""},
    )
    return case


def rework(
    case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None
) -> Case:
    """返工: the fix did not pass; back to the same department with a fresh handling limit."""
    at = _now(at)
    handle_deadline = _deadline(case.category, Step.HANDLE, at)
    _apply(
        case,
        "rework",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        deadline=handle_deadline,
        department=case.department,
        updates={
            "rework_count": case.rework_count + 1,
            "handle_deadline": handle_deadline,
            "handled_on_time": None,
        },
        data={"passed": False},
    )
    if case.department_id:
        notify(
            case.department.users.filter(is_active=True),
            kind="case_rework",
            title=f"案件 {case.number} 核查未通过，需返工",
            body=reason or note,
            url=case_url(case),
            obj=case,
        )
    return case


def recheck(
    case: Case,
    *,
    actor,
    passed: bool = True,
    note: str = "",
    photos: Sequence = (),
    at=None,
    expected_version=None,
) -> Case:
    """核查 on site: passed → RECHECKED (to be closed); failed → 返工 to the same department."""
    at = _now(at)
    with transaction.atomic():
        if passed:
            event = _apply(
                case,
                "recheck",
                actor=actor,
                note=note,
                at=at,
                expected_version=expected_version,
                data={"passed": True},
            )
        else:
            rework(
                case,
                actor=actor,
                reason=_require_reason(note, "核查不通过"),
                at=at,
                expected_version=expected_version,
            )
            event = case.events.order_by("-at", "-id").first()
        _attach(case, photos, AttachmentKind.AFTER, actor=_user(actor), event=event, at=at)
    return case


def close(case: Case, *, actor, note: str = "", at=None, expected_version=None) -> Case:
    """结案. On time when the last feedback was within the handling deadline (extensions
    included) and the close itself is within the close step's deadline."""
    at = _now(at)
    close_in_time = case.step_deadline is None or at <= case.step_deadline
    closed_on_time = bool(case.handled_on_time) and close_in_time
    _apply(
        case,
        "close",
        actor=actor,
        note=note,
        at=at,
        expected_version=expected_version,
        on_time=close_in_time,
        updates={"closed_at": at, "closed_on_time": closed_on_time, "pending_request": ""},
        data={"closed_on_time": closed_on_time},
    )
    return case


def _amount(amount, unit: str) -> tuple[Decimal, str]:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        raise CaseError("invalid", "延期时长必须是数字。", details={"field": "amount"}) from None
    if not value.is_finite() or value <= 0 or value > 1000:
        raise CaseError("invalid", "延期时长必须大于 0。", details={"field": "amount"})
    if unit not in LimitUnit.values:
        raise CaseError(
            "invalid",
            f"延期单位无效：{unit}（可选 {', '.join(LimitUnit.values)}）。",
            details={"field": "unit"},
        )
    return value, unit


def _shift_leads():
    """Users who approve requests and watch deadlines: town-scope roles holding cases.approve."""
    from towngrid.accounts.models import Role, User

    roles = [
        r.pk
        for r in Role.objects.filter(scope_kind=ScopeKind.TOWN)
        if "cases.approve" in (r.capabilities or [])
    ]
    return User.objects.filter(role_id__in=roles, is_active=True)


def request_extension(
    case: Case,
    *,
    actor,
    amount=None,
    unit: str = LimitUnit.WORK_DAYS,
    reason: str = "",
    note: str = "",
    at=None,
    expected_version=None,
) -> Case:
    """延期申请: the department asks the shift lead for more time, with a reason."""
    value, unit = _amount(amount, unit)
    _apply(
        case,
        "request_extension",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        department=case.department,
        updates={"pending_request": "extension"},
        data={"amount": str(value), "unit": unit},
    )
    notify(
        _shift_leads(),
        kind="case_request",
        title=f"案件 {case.number} 申请延期 {value.normalize()} {LimitUnit(unit).label}",
        body=reason or note,
        url=case_url(case),
        obj=case,
    )
    return case


def _last_request(case: Case, action: str) -> CaseEvent | None:
    return case.events.filter(action=action).order_by("-at", "-id").first()


def approve_extension(case: Case, *, actor, note: str = "", at=None, expected_version=None):
    """批准延期: the handling deadline (and the current step's) moves by the requested time on
    the working calendar, counted from the deadline it extends."""
    request = _last_request(case, "request_extension")
    if request is None:
        raise CaseError("no_pending_request", "该案件没有待审批的延期申请。")
    value, unit = _amount(request.data.get("amount"), request.data.get("unit"))
    base = case.step_deadline or _now(at)
    new_deadline = _add_time(base, value, unit)
    new_handle = _add_time(case.handle_deadline, value, unit) if case.handle_deadline else None
    _apply(
        case,
        "approve_extension",
        actor=actor,
        note=note,
        at=at,
        expected_version=expected_version,
        deadline=new_deadline,
        department=case.department,
        # overdue_notified_at cleared: the extended deadline, once passed, is reported again.
        updates={
            "pending_request": "",
            "handle_deadline": new_handle or new_deadline,
            "overdue_notified_at": None,
        },
        data={"amount": str(value), "unit": unit},
    )
    _notify_department(case, f"案件 {case.number} 的延期申请已批准", note)
    return case


def deny_request(
    case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None
) -> Case:
    """驳回申请 (extension or park), with a reason; the deadline stays."""
    kind = case.pending_request
    _apply(
        case,
        "deny_request",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        department=case.department,
        updates={"pending_request": ""},
        data={"request": kind},
    )
    what = "延期" if kind == "extension" else "挂账"
    _notify_department(case, f"案件 {case.number} 的{what}申请被驳回", reason or note)
    return case


def request_park(
    case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None
) -> Case:
    """挂账申请: the department cannot solve the problem for now and says why."""
    _apply(
        case,
        "request_park",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        department=case.department,
        updates={"pending_request": "park"},
    )
    notify(
        _shift_leads(),
        kind="case_request",
        title=f"案件 {case.number} 申请挂账",
        body=reason or note,
        url=case_url(case),
        obj=case,
    )
    return case


def approve_park(case: Case, *, actor, note: str = "", at=None, expected_version=None) -> Case:
    """批准挂账: PARKED, out of the on-time denominators (GB/T 30428.4) until reopened."""
    _apply(
        case,
        "approve_park",
        actor=actor,
        note=note,
        at=at,
        expected_version=expected_version,
        department=case.department,
        updates={"pending_request": ""},
    )
    _notify_department(case, f"案件 {case.number} 已批准挂账", note)
    return case


def reopen(
    case: Case, *, actor, reason: str = "", note: str = "", at=None, expected_version=None
) -> Case:
    """重新启用 a closed, parked or rejected case: back to OPENED, to be dispatched again."""
    _apply(
        case,
        "reopen",
        actor=actor,
        note=reason or note,
        at=at,
        expected_version=expected_version,
        updates={
            "closed_at": None,
            "closed_on_time": None,
            "handled_on_time": None,
            "department": None,
            "handle_deadline": None,
            "pending_request": "",
            "opened_at": case.opened_at or _now(at),
        },
        data={"from": case.status},
    )
    return case


def merge(
    duplicate: Case,
    into: Case,
    *,
    actor,
    note: str = "",
    at=None,
    expected_version=None,
) -> Case:
    """合并为重复: ``duplicate`` becomes MERGED into ``into``; its reporters become reporters of
    ``into`` (kept linked and told of its progress from now on) and are notified."""
    if duplicate.pk == into.pk:
        raise CaseError("invalid", "不能将案件合并到其自身。", details={"field": "into"})
    if into.status == Status.MERGED:
        raise CaseError(
            "invalid",
            f"案件 {into.number} 本身已合并，请合并到 {into.duplicate_of.number}。",
            details={"field": "into"},
        )
    if _user(actor) is not None and not in_case_scope(actor, into):
        raise CaseError("forbidden", "目标案件不在您的管辖范围内。")
    at = _now(at)
    with transaction.atomic():
        _apply(
            duplicate,
            "merge",
            actor=actor,
            note=note or f"与案件 {into.number} 重复",
            at=at,
            expected_version=expected_version,
            updates={"duplicate_of": into},
            data={"into": into.number},
        )
        reporters = list(duplicate.reporters.all())
        CaseReporter.objects.bulk_create(
            [
                CaseReporter(
                    case=into,
                    user_id=r.user_id,
                    source=r.source,
                    merged_from=duplicate,
                    reported_at=r.reported_at,
                )
                for r in reporters
            ]
        )
        CaseEvent.objects.create(
            case=into,
            action="merged_in",
            from_status=into.status,
            to_status=into.status,
            actor=_user(actor),
            actor_name=_actor_name(actor),
            at=at,
            note=f"合并重复案件 {duplicate.number}",
            data={"duplicate": duplicate.number, "reporters": len(reporters)},
        )
        notify(
            [r.user_id for r in reporters],
            kind="case_merged",
            title=f"您上报的案件 {duplicate.number} 已并入案件 {into.number}",
            body=f"{into.category.name}：{_label(into.status)}",
            url=case_url(into),
            obj=into,
        )
    return duplicate


def _notify_department(case: Case, title: str, body: str = "") -> None:
    if case.department_id:
        notify(
            case.department.users.filter(is_active=True),
            kind="case_request",
            title=title,
            body=body,
            url=case_url(case),
            obj=case,
        )


# The actions by name, for callers that choose one at run time (API, CLI). ``transition`` is
# the generic entry point; each name maps to its wrapper, which knows the action's specifics.
ACTIONS = {
    "accept": accept,
    "verify": verify,
    "open": open_case,
    "reject": reject,
    "dispatch": dispatch,
    "handle": handle,
    "feedback": feedback,
    "sendback": sendback,
    "recheck": recheck,
    "rework": rework,
    "close": close,
    "request_extension": request_extension,
    "approve_extension": approve_extension,
    "deny_request": deny_request,
    "request_park": request_park,
    "approve_park": approve_park,
    "reopen": reopen,
}


def transition(
    case: Case,
    action: str,
    *,
    actor,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
    **data: Any,
) -> Case:
    """Apply the workflow action ``action`` to ``case`` (any of ``workflow.TRANSITIONS``).

    ``data`` carries the action's own input: ``valid`` (verify), ``passed`` (recheck),
    ``department`` (dispatch), ``reason`` (reject, sendback, rework, requests, reopen),
    ``amount``/``unit`` (request_extension), ``photos`` (handle, feedback, recheck), ``into``
    (merge: the case to merge into).
    """
    if action == "merge":
        into = data.pop("into", None)
        if not isinstance(into, Case):
            into = Case.objects.select_related("category").filter(number=str(into or "")).first()
        if into is None:
            raise CaseError("invalid", "请指定要合并到的案件。", details={"field": "into"})
        return merge(case, into, actor=actor, note=note, at=at, expected_version=expected_version)
    func = ACTIONS.get(action)
    if func is None:
        raise CaseError("invalid", f"未知的操作：{action}。", details={"field": "action"})
    import inspect

    accepted = inspect.signature(func).parameters
    unknown = sorted(k for k in data if k not in accepted)
    kwargs = {k: v for k, v in data.items() if k in accepted}
    if unknown and any(data[k] not in (None, "", [], ()) for k in unknown):
        raise CaseError(
            "invalid",
            f"“{TRANSITIONS[action].label}”不接受参数：{'、'.join(unknown)}。",
            details={"fields": unknown},
        )
    return func(case, actor=actor, note=note, at=at, expected_version=expected_version, **kwargs)


# --- overdue (超时) ----------------------------------------------------------------------------


def _overdue_recipients():
    """Who is told when a step runs over: "the next level up" from whoever owns the step.

    - accept / open / dispatch / close (operations centre steps): the shift leads;
    - verify / recheck (the grid worker's steps): the micro-grid's grid leader(s) on duty and
      the community staff whose scope holds the grid;
    - handle (the department's step): the shift leads, who supervise the departments, and the
      department's own users (the department has no head role; the whole department sees that
      one of its cases is late, so whoever leads it can act).
    """
    from towngrid.accounts.models import User
    from towngrid.grids.models import DutyAssignment, Post

    leads = list(_shift_leads().values_list("pk", flat=True))
    grid_cache: dict[str, list[int]] = {}
    dept_cache: dict[int, list[int]] = {}
    today = timezone.localdate()

    def for_grid(code: str) -> list[int]:
        micro, community = code[:15], code[:12]
        if micro not in grid_cache:
            leaders = DutyAssignment.objects.filter(
                grid__code=micro,
                post=Post.LEADER,
                staff__active=True,
                staff__user__isnull=False,
                staff__user__is_active=True,
            ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
            staff = User.objects.filter(
                role__code="community_staff",
                is_active=True,
                scope__code__in=[community[:n] for n in (9, 10, 12)],
            )
            grid_cache[micro] = list(leaders.values_list("staff__user_id", flat=True)) + list(
                staff.values_list("pk", flat=True)
            )
        return grid_cache[micro]

    def for_department(dept_id: int | None) -> list[int]:
        if dept_id is None:
            return []
        if dept_id not in dept_cache:
            dept_cache[dept_id] = list(
                User.objects.filter(department_id=dept_id, is_active=True).values_list(
                    "pk", flat=True
                )
            )
        return dept_cache[dept_id]

    def recipients(case: Case) -> list[int]:
        if case.step in {Step.VERIFY, Step.RECHECK}:
            return for_grid(case.grid_code)
        if case.step == Step.HANDLE:
            return leads + for_department(case.department_id)
        return leads

    return recipients


STEP_LABELS = {s.value: str(s.label) for s in Step}


def check_overdue(now: datetime | None = None) -> int:
    """Notify the next level up of every open case whose current step is past its deadline and
    was not yet reported for this step; returns how many cases were reported. Writes one
    ``overdue`` event per case (the timeline shows it) and one audit event for the sweep; the
    case's ``version`` is not touched, so nobody's action conflicts with the sweep."""
    now = _now(now)
    due = (
        Case.objects.filter(status__in=OPEN_STATUSES, step_deadline__lt=now)
        .filter(
            Q(overdue_notified_at__isnull=True) | Q(overdue_notified_at__lt=F("step_started_at"))
        )
        .select_related("category")
        .order_by("step_deadline", "id")
    )
    recipients = _overdue_recipients()
    count = 0
    numbers: list[str] = []
    for chunk in _chunks(due.iterator(chunk_size=500), 500):
        with transaction.atomic():
            events = []
            for case in chunk:
                users = recipients(case)
                step = STEP_LABELS.get(case.step, case.step)
                late = now - case.step_deadline
                notify(
                    users,
                    kind="case_overdue",
                    title=f"案件 {case.number} {step}超时",
                    body=f"{case.category.name}，{step}时限 "
                    f"{timezone.localtime(case.step_deadline):%Y-%m-%d %H:%M}，"
                    f"已超时 {_duration(late)}。",
                    url=case_url(case),
                    obj=case,
                )
                events.append(
                    CaseEvent(
                        case=case,
                        action="overdue",
                        from_status=case.status,
                        to_status=case.status,
                        actor_name="系统",
                        at=now,
                        note=f"{step}超时，已提醒 {len(set(users))} 人",
                        deadline=case.step_deadline,
                        on_time=False,
                        data={"step": case.step, "notified": len(set(users))},
                    )
                )
                numbers.append(case.number)
            CaseEvent.objects.bulk_create(events)
            Case.objects.filter(pk__in=[c.pk for c in chunk]).update(overdue_notified_at=now)
            count += len(chunk)
    if count:
        audit.record(
            None,
            "cases.check_overdue",
            object_type="cases.case",
            changes={"count": count, "numbers": numbers[:100]},
        )
    return count


def _chunks(items: Iterable, size: int):
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {mins} 分钟"
    return f"{mins} 分钟"
