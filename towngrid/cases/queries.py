"""Reads of cases: filtered lists, each role's queue, the timeline, time left, duplicates.

Every list starts from ``accounts.access.visible_to``: callers pass the user, and nothing here
returns a case outside the user's grid subtree or department.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from towngrid.accounts.access import has_capability, visible_to

from .errors import CaseError
from .models import (
    OPEN_STATUSES,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Source,
    Status,
)
from .workflow import TRANSITIONS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
EARTH_RADIUS_M = 6_371_008.8
DEFAULT_DUPLICATE_RADIUS_M = 50.0
EVENT_LABELS = {
    "report": "上报",
    "merged_in": "并入重复案件",
    "overdue": "超时提醒",
    **{t.action: t.label for t in TRANSITIONS.values()},
}


def base_queryset() -> QuerySet:
    return Case.objects.select_related("category", "category__major", "department", "grid")


def visible_cases(user) -> QuerySet:
    return visible_to(user, base_queryset())


def get_case(number: str, user=None) -> Case:
    """The case by number (within the user's scope when a user is given); CaseError not_found."""
    qs = visible_cases(user) if user is not None else base_queryset()
    case = qs.filter(number=number).first()
    if case is None:
        raise CaseError("not_found", f"未找到案件 {number}。")
    return case


# --- list filters ----------------------------------------------------------------------------


def _bool(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "是"}:
        return True
    if text in {"0", "false", "no", "否"}:
        return False
    raise CaseError("invalid", f"参数 {name} 只能是 true 或 false。", details={"field": name})


def _date(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise CaseError(
            "invalid", f"参数 {name} 须为日期（YYYY-MM-DD）。", details={"field": name}
        ) from None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def _values(value) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [v.strip() for v in items if v and v.strip()]


def filter_cases(qs: QuerySet, params: Mapping[str, Any], *, now: datetime | None = None):
    """Apply the list filters (all optional, combinable):

    ``status`` (comma list), ``category`` (subclass full code, comma list), ``major`` (top
    class: ``E01`` / ``C02``, or kind ``event`` / ``component``), ``grid`` (subtree code),
    ``department`` (code), ``overdue`` (true/false), ``source``, ``from`` / ``to`` (report date,
    inclusive, local days), ``q`` (number, address or description contains), ``pending``
    (true: a request awaits approval), ``open`` (true: open statuses only).
    """

    def get(name: str):
        getter = getattr(params, "get", None)
        return getter(name) if getter else None

    statuses = _values(get("status"))
    bad = [s for s in statuses if s not in Status.values]
    if bad:
        raise CaseError("invalid", f"未知的状态：{'、'.join(bad)}。", details={"field": "status"})
    if statuses:
        qs = qs.filter(status__in=statuses)
    categories = _values(get("category"))
    if categories:
        qs = qs.filter(category__full_code__in=categories)
    major = (get("major") or "").strip()
    if major:
        if major in {"event", "component"}:
            qs = qs.filter(category__major__kind=major)
        elif len(major) == 3 and major[0].upper() in "EC":
            kind = "event" if major[0].upper() == "E" else "component"
            qs = qs.filter(category__major__kind=kind, category__major__code=major[1:])
        else:
            raise CaseError("invalid", "参数 major 形如 E01 或 C02。", details={"field": "major"})
    grid = (get("grid") or "").strip()
    if grid:
        qs = qs.filter(grid_code__startswith=grid)
    departments = _values(get("department"))
    if departments:
        qs = qs.filter(department__code__in=departments)
    sources = _values(get("source"))
    bad = [s for s in sources if s not in Source.values]
    if bad:
        raise CaseError("invalid", f"未知的来源：{'、'.join(bad)}。", details={"field": "source"})
    if sources:
        qs = qs.filter(source__in=sources)
    now = now or timezone.now()
    overdue = _bool(get("overdue"), "overdue")
    if overdue is True:
        qs = qs.filter(overdue_q(now))
    elif overdue is False:
        qs = qs.exclude(overdue_q(now))
    if _bool(get("open"), "open"):
        qs = qs.filter(status__in=OPEN_STATUSES)
    pending = _bool(get("pending"), "pending")
    if pending is True:
        qs = qs.exclude(pending_request="")
    elif pending is False:
        qs = qs.filter(pending_request="")
    start = _date(get("from"), "from")
    if start:
        qs = qs.filter(reported_at__gte=_local_midnight(start))
    end = _date(get("to"), "to")
    if end:
        qs = qs.filter(reported_at__lt=_local_midnight(end + timedelta(days=1)))
    text = (get("q") or "").strip()
    if text:
        qs = qs.filter(
            Q(number__icontains=text) | Q(address__icontains=text) | Q(description__icontains=text)
        )
    return qs


def overdue_q(now: datetime) -> Q:
    return Q(status__in=OPEN_STATUSES, step_deadline__lt=now)


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        case.status in OPEN_STATUSES and case.step_deadline is not None and case.step_deadline < now
    )


# --- queues ------------------------------------------------------------------------------------

# What each post works on next (CJ/T 315): the statuses a role's queue holds. Roles not named
# here get the union of what their capabilities allow them to act on.
QUEUE_BY_ROLE: dict[str, Q] = {
    "ops_registrar": Q(status=Status.REPORTED),
    "ops_shift_lead": Q(status__in=[Status.VERIFIED, Status.RECHECKED]) | ~Q(pending_request=""),
    "ops_dispatcher": Q(status=Status.OPENED),
    "dept_handler": Q(status=Status.DISPATCHED),
    "grid_worker": Q(status__in=[Status.VERIFYING, Status.HANDLED]),
    "grid_leader": Q(status__in=[Status.VERIFYING, Status.HANDLED]),
}
QUEUE_BY_CAPABILITY: dict[str, Q] = {
    "cases.accept": Q(status=Status.REPORTED),
    "cases.verify": Q(status__in=[Status.VERIFYING, Status.HANDLED]),
    "cases.open": Q(status=Status.VERIFIED),
    "cases.close": Q(status=Status.RECHECKED),
    "cases.approve": ~Q(pending_request="") & Q(status=Status.DISPATCHED),
    "cases.dispatch": Q(status=Status.OPENED),
    "cases.handle": Q(status=Status.DISPATCHED),
}


def queue_condition(user) -> Q | None:
    role = getattr(user, "role", None)
    if role is not None and not user.is_superuser and role.code in QUEUE_BY_ROLE:
        return QUEUE_BY_ROLE[role.code]
    condition: Q | None = None
    for capability, q in QUEUE_BY_CAPABILITY.items():
        if has_capability(user, capability):
            condition = q if condition is None else condition | q
    return condition


def my_queue(user) -> QuerySet:
    """The cases waiting for this user's post, inside their scope, most urgent first."""
    condition = queue_condition(user)
    qs = visible_cases(user)
    if condition is None:
        return qs.none()
    return qs.filter(condition).order_by(
        # Cases without a deadline last; then by deadline, then oldest first.
        "step_deadline",
        "reported_at",
        "id",
    )


# --- time left ---------------------------------------------------------------------------------


def _work_hours(start: datetime, end: datetime) -> float:
    from towngrid.core.workcalendar import work_hours_between

    return float(work_hours_between(start, end))


def time_left(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """The current step's deadline, working hours left (negative when overdue: the working
    hours already over), and whether it is overdue."""
    now = now or timezone.now()
    deadline = case.step_deadline
    if case.status not in OPEN_STATUSES or deadline is None:
        return {"deadline": deadline, "work_hours_left": None, "overdue": False}
    overdue = deadline < now
    hours = -_work_hours(deadline, now) if overdue else _work_hours(now, deadline)
    return {"deadline": deadline, "work_hours_left": round(hours, 2), "overdue": overdue}


# --- timeline ----------------------------------------------------------------------------------


def _attachment_item(a: Attachment) -> dict[str, Any]:
    def url(f) -> str:
        try:
            return f.url if f else ""
        except ValueError:
            return ""

    return {
        "id": a.pk,
        "kind": a.kind,
        "kind_display": a.get_kind_display(),
        "url": url(a.file),
        "thumbnail_url": url(a.thumbnail),
        "content_type": a.content_type,
        "size": a.size,
        "width": a.width,
        "height": a.height,
        "exif_lng": a.exif_lng,
        "exif_lat": a.exif_lat,
        "taken_at": a.taken_at,
        "uploaded_at": a.uploaded_at,
    }


def timeline(case: Case) -> list[dict[str, Any]]:
    """The case's history rebuilt from its events, each with the photos attached to it;
    photos attached outside any event come as their own items, in time order."""
    events = list(
        CaseEvent.objects.filter(case=case).select_related("department").order_by("at", "id")
    )
    attachments = list(Attachment.objects.filter(case=case).order_by("uploaded_at", "id"))
    by_event: dict[int, list[dict[str, Any]]] = {}
    loose: list[Attachment] = []
    for a in attachments:
        if a.event_id:
            by_event.setdefault(a.event_id, []).append(_attachment_item(a))
        else:
            loose.append(a)
    items: list[dict[str, Any]] = []
    for e in events:
        items.append(
            {
                "type": "event",
                "id": e.pk,
                "at": e.at,
                "action": e.action,
                "label": EVENT_LABELS.get(e.action, e.action),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "to_status_display": Status(e.to_status).label if e.to_status else "",
                "actor": e.actor_name,
                "note": e.note,
                "department": e.department.name if e.department_id else "",
                "deadline": e.deadline,
                "on_time": e.on_time,
                "data": e.data,
                "attachments": by_event.get(e.pk, []),
            }
        )
    for a in loose:
        items.append(
            {
                "type": "attachment",
                "id": a.pk,
                "at": a.uploaded_at,
                "action": "attach",
                "label": "上传附件",
                "attachments": [_attachment_item(a)],
            }
        )
    items.sort(key=lambda i: (i["at"], 0 if i["type"] == "event" else 1, i["id"]))
    return items


# --- available actions ---------------------------------------------------------------------------


def available_actions(case: Case, user) -> list[dict[str, Any]]:
    """The workflow actions this user may take on this case now, with what each needs."""
    from . import actions

    result = []
    for t in TRANSITIONS.values():
        if actions.can_take(case, t.action, user):
            result.append(
                {
                    "action": t.action,
                    "label": t.label,
                    "needs_reason": t.needs_reason,
                    "target": t.target or case.status,
                }
            )
    return result


# --- duplicates ----------------------------------------------------------------------------------


def haversine_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def duplicate_radius_m() -> float:
    try:
        from towngrid.core.config import get
    except ImportError:  # pragma: no cover - config lands with the working calendar
        return DEFAULT_DUPLICATE_RADIUS_M
    value = get("cases.duplicate_radius_m")
    return float(value) if value is not None else DEFAULT_DUPLICATE_RADIUS_M


def find_duplicates(
    category: Category | int | str,
    lng: float,
    lat: float,
    *,
    crs: str = "wgs84",
    radius_m: float | None = None,
    exclude: Case | int | None = None,
    queryset: QuerySet | None = None,
) -> list[Case]:
    """Open cases of the same subclass within ``radius_m`` (default: the configured
    ``cases.duplicate_radius_m``, 50 m) of the point, nearest first; each case carries its
    distance in metres as ``distance_m``. A bounding box narrows the rows in SQL; the exact
    great-circle distance decides. ``queryset`` limits the candidates (e.g. to a user's
    scope)."""
    from towngrid.grids.crs import to_wgs84

    try:
        lng, lat = to_wgs84(float(lng), float(lat), crs)
    except (TypeError, ValueError) as exc:
        raise CaseError("invalid", str(exc) or "经纬度无效。") from None
    radius = float(radius_m if radius_m is not None else duplicate_radius_m())
    dlat = math.degrees(radius / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlng = dlat / cos_lat
    if isinstance(category, Category):
        cat_q = Q(category=category)
    elif isinstance(category, int) or str(category).isdigit():
        cat_q = Q(category_id=int(category))
    else:
        cat_q = Q(category__full_code=str(category))
    qs = (queryset if queryset is not None else base_queryset()).filter(
        cat_q,
        status__in=OPEN_STATUSES,
        lng__gte=lng - dlng,
        lng__lte=lng + dlng,
        lat__gte=lat - dlat,
        lat__lte=lat + dlat,
    )
    if exclude is not None:
        qs = qs.exclude(pk=getattr(exclude, "pk", exclude))
    found = []
    for case in qs[:200]:
        distance = haversine_m(lng, lat, case.lng, case.lat)
        if distance <= radius:
            case.distance_m = round(distance, 1)
            found.append(case)
    found.sort(key=lambda c: (c.distance_m, c.reported_at))
    return found
