"""Patrols by colour (三色巡查): who must patrol what and when, the day's route, and coverage.

The colour engine keeps one ``ColourState`` per object with ``patrol_due_at`` (the last patrol
plus the interval of the object's colour: 21 days green, 14 yellow, 7 red by default). A patrol
is a ``CheckIn``. Here:

- **due** (今日应巡): ``patrol_due_at`` falls on or before the end of the day (local time);
- **overdue** (超期): ``patrol_due_at`` is already past;
- **route** (今日路线): the day's due and overdue objects ordered by a nearest-neighbour walk
  from the worker's position (the phone's GPS) or, without one, the centroid of the worker's grid;
- **coverage** (巡查覆盖率) over a window [start, end]: of the objects that needed a patrol in the
  window, the share patrolled by their due date. An object's due date is its last check-in
  before the window (or the window's start when it was never patrolled) plus its interval; it
  needed a patrol when that date falls inside the window (or it was patrolled early anyway),
  and it counts as done when its first check-in in the window came by that date. An object
  counts once per window, with the interval of its present colour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from . import objects
from .models import CheckIn

COLOURS = ("red", "yellow", "green")  # most urgent first
MAX_ROUTE_STOPS = 80
MAX_LIST = 200


def _states():
    from .colour_models import ColourState

    return ColourState.objects.all()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day as aware datetimes."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, start + timedelta(days=1)


def _scoped_states(user):
    from towngrid.accounts.access import visible_to

    return visible_to(user, _states())


# --- due and overdue ------------------------------------------------------------------------------


def counts_by_colour(qs, *, now: datetime, day_end: datetime) -> dict[str, dict[str, int]]:
    """{colour: {"overdue": n, "due": n, "total": n}} over a ColourState queryset; ``due``
    includes the overdue ones (everything to patrol by the end of the day)."""
    rows = (
        qs.order_by()
        .values("colour")
        .annotate(
            overdue=Count("pk", filter=Q(patrol_due_at__lt=now)),
            due=Count("pk", filter=Q(patrol_due_at__lt=day_end)),
            total=Count("pk"),
        )
    )
    out = {c: {"overdue": 0, "due": 0, "total": 0} for c in COLOURS}
    for row in rows:
        out.setdefault(row["colour"], {"overdue": 0, "due": 0, "total": 0})
        out[row["colour"]] = {k: row[k] for k in ("overdue", "due", "total")}
    return out


@dataclass
class Stop:
    """One object to patrol, with what the route page shows."""

    content_type_id: int
    object_id: int
    colour: str
    label: str
    grid_code: str
    patrol_due_at: datetime
    last_patrol_at: datetime | None
    overdue: bool
    lng: float | None = None
    lat: float | None = None
    address: str = ""
    kind: str = ""
    token: str = ""
    leg_m: float | None = None  # walking distance from the previous stop (straight line)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def days_overdue(self) -> int:
        return max(0, (timezone.now() - self.patrol_due_at).days)


def _stops(states) -> list[Stop]:
    """Stops for ColourState rows, with each object's position, address and live code."""
    from .models import ObjectCode

    stops = [
        Stop(
            content_type_id=s.content_type_id,
            object_id=s.object_id,
            colour=s.colour,
            label=s.label,
            grid_code=s.grid_code,
            patrol_due_at=s.patrol_due_at,
            last_patrol_at=s.last_patrol_at,
            overdue=s.patrol_due_at < timezone.now(),
        )
        for s in states
    ]
    by_ct: dict[int, list[Stop]] = defaultdict(list)
    for stop in stops:
        by_ct[stop.content_type_id].append(stop)
    from django.contrib.contenttypes.models import ContentType

    for ct_id, group in by_ct.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:
            continue
        ids = [s.object_id for s in group]
        rows = {o.pk: o for o in model._default_manager.filter(pk__in=ids)}
        tokens = dict(
            ObjectCode.objects.filter(
                content_type_id=ct_id, object_id__in=ids, revoked_at__isnull=True
            ).values_list("object_id", "token")
        )
        for stop in group:
            obj = rows.get(stop.object_id)
            if obj is None:
                continue
            location = objects.location_of(obj)
            if location:
                stop.lng, stop.lat = location
            stop.address = objects.address_of(obj)
            stop.label = stop.label or objects.title_of(obj)
            stop.kind = objects.kind_label(obj)
            stop.token = tokens.get(stop.object_id, "")
    return stops


def due_patrols(user, *, day: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The user's patrols for ``day`` within the user's scope: counts by colour, the overdue
    and the due-today objects (most urgent first: colour, then how long overdue)."""
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    _, day_end = day_bounds(day)
    qs = _scoped_states(user)
    rank = {c: i for i, c in enumerate(COLOURS)}
    due = list(qs.filter(patrol_due_at__lt=day_end).order_by("patrol_due_at")[:MAX_LIST])
    due.sort(key=lambda s: (rank.get(s.colour, 9), s.patrol_due_at))
    stops = _stops(due)
    for stop in stops:
        stop.overdue = stop.patrol_due_at < now
    return {
        "day": day,
        "counts": counts_by_colour(qs, now=now, day_end=day_end),
        "overdue": [s for s in stops if s.overdue],
        "due_today": [s for s in stops if not s.overdue],
        "truncated": qs.filter(patrol_due_at__lt=day_end).count() > len(due),
    }


# --- the day's route -------------------------------------------------------------------------------


def _start_point(user, start: tuple[float, float] | None) -> tuple[float, float] | None:
    if start is not None:
        return start
    scope = getattr(user, "scope", None)
    if scope is not None and scope.centroid_lng is not None and scope.centroid_lat is not None:
        return (scope.centroid_lng, scope.centroid_lat)
    return None


def order_route(stops: list[Stop], start: tuple[float, float] | None) -> list[Stop]:
    """Nearest-neighbour walk from ``start`` (or the first located stop) through every located
    stop; stops without a position go last. Sets ``leg_m`` on each stop."""
    from towngrid.cases.queries import haversine_m

    located = [s for s in stops if s.lng is not None and s.lat is not None]
    unlocated = [s for s in stops if s.lng is None or s.lat is None]
    route: list[Stop] = []
    here = start
    remaining = located[:]
    while remaining:
        if here is None:
            nearest = remaining[0]
            nearest.leg_m = None
        else:
            nearest = min(remaining, key=lambda s: haversine_m(here[0], here[1], s.lng, s.lat))
            nearest.leg_m = round(haversine_m(here[0], here[1], nearest.lng, nearest.lat))
        route.append(nearest)
        remaining.remove(nearest)
        here = (nearest.lng, nearest.lat)
    return route + unlocated


def route_for_day(
    user,
    *,
    day: date | None = None,
    start: tuple[float, float] | None = None,
    now: datetime | None = None,
    limit: int = MAX_ROUTE_STOPS,
) -> dict[str, Any]:
    """The day's route: every overdue or due-today object in the user's scope (red first when
    there are more than ``limit``), walked nearest-first from ``start`` or the grid centroid."""
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    _, day_end = day_bounds(day)
    rank = {c: i for i, c in enumerate(COLOURS)}
    states = list(_scoped_states(user).filter(patrol_due_at__lt=day_end)[: limit * 5])
    states.sort(key=lambda s: (rank.get(s.colour, 9), s.patrol_due_at))
    stops = _stops(states[:limit])
    for stop in stops:
        stop.overdue = stop.patrol_due_at < now
    origin = _start_point(user, start)
    route = order_route(stops, origin)
    total = sum(s.leg_m or 0 for s in route)
    return {"day": day, "stops": route, "origin": origin, "total_m": total}


# --- coverage --------------------------------------------------------------------------------------


def _window(start: date, end: date, now: datetime) -> tuple[datetime, datetime]:
    window_start, _ = day_bounds(start)
    _, window_end = day_bounds(end)
    return window_start, min(window_end, now)


def _coverage_rows(
    grid_code_prefix: str, start: date, end: date, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """{grid_code: {"due", "done", "overdue"}} for the objects under the prefix."""
    now = now or timezone.now()
    window_start, cap = _window(start, end, now)
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"due": 0, "done": 0, "overdue": 0})
    if cap <= window_start:
        return {}
    states = (
        _states()
        .filter(grid_code__startswith=grid_code_prefix)
        .values_list("content_type_id", "object_id", "interval_days", "grid_code")
    )
    checkins = CheckIn.objects.filter(grid_code__startswith=grid_code_prefix).order_by()
    last_before = {
        (r["content_type_id"], r["object_id"]): r["last"]
        for r in checkins.filter(at__lt=window_start)
        .values("content_type_id", "object_id")
        .annotate(last=Max("at"))
    }
    first_in = {
        (r["content_type_id"], r["object_id"]): r["first"]
        for r in checkins.filter(at__gte=window_start, at__lt=cap)
        .values("content_type_id", "object_id")
        .annotate(first=Min("at"))
    }
    for ct_id, object_id, interval, grid_code in states.iterator(chunk_size=5000):
        key = (ct_id, object_id)
        previous = last_before.get(key)
        due_at = (previous or window_start) + timedelta(days=interval)
        patrolled = first_in.get(key)
        if due_at > cap and patrolled is None:
            continue  # not yet needed in this window
        row = out[grid_code]
        row["due"] += 1
        if patrolled is not None and patrolled <= due_at:
            row["done"] += 1
        else:
            row["overdue"] += 1
    return dict(out)


def _rate(done: int, due: int) -> float:
    return round(done / due, 4) if due else 0.0


def patrol_coverage(
    grid_code_prefix: str, start: date, end: date, *, now: datetime | None = None
) -> dict[str, Any]:
    """Cross-app read: {"due", "done", "overdue", "rate"} of the patrols in [start, end] under
    ``grid_code_prefix`` (see the module docstring for the definitions)."""
    rows = _coverage_rows(grid_code_prefix, start, end, now=now)
    due = sum(r["due"] for r in rows.values())
    done = sum(r["done"] for r in rows.values())
    overdue = sum(r["overdue"] for r in rows.values())
    return {"due": due, "done": done, "overdue": overdue, "rate": _rate(done, due)}


def coverage_by_grid(
    grid_code_prefix: str, start: date, end: date, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Coverage per micro-grid under the prefix, with the grid's name, worst first."""
    from towngrid.grids.models import GridNode, Level

    rows = _coverage_rows(grid_code_prefix, start, end, now=now)
    micro = {
        g.code: g.name
        for g in GridNode.objects.filter(code__startswith=grid_code_prefix, level=Level.MICRO)
    }
    merged: dict[str, dict[str, int]] = {}
    for code, row in rows.items():
        key = code[:15] if len(code) >= 15 else code
        target = merged.setdefault(key, {"due": 0, "done": 0, "overdue": 0})
        for k in target:
            target[k] += row[k]
    result = [
        {
            "grid_code": code,
            "grid_name": micro.get(code, code),
            **row,
            "rate": _rate(row["done"], row["due"]),
        }
        for code, row in merged.items()
    ]
    result.sort(key=lambda r: (r["rate"], -r["due"], r["grid_code"]))
    return result


def worker_summary(user, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per grid worker on duty in the user's scope: their micro-grid's overdue and due-today
    patrols by colour, and their check-ins in the last 7 days."""
    from towngrid.accounts.access import visible_to
    from towngrid.grids.models import DutyAssignment
    from towngrid.grids.queries import active_duties

    now = now or timezone.now()
    _, day_end = day_bounds(timezone.localdate(now))
    duties = visible_to(user, DutyAssignment.objects.all()).filter(
        pk__in=active_duties().values("pk")
    )
    duties = duties.exclude(post="leader").select_related("staff", "grid", "staff__user")
    duties = list(duties.order_by("grid__code", "staff__name")[:500])
    codes = {d.grid.code for d in duties}
    per_grid: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    rows = (
        _scoped_states(user)
        .filter(grid_code__in=codes)
        .order_by()
        .values("grid_code", "colour")
        .annotate(
            overdue=Count("pk", filter=Q(patrol_due_at__lt=now)),
            due=Count("pk", filter=Q(patrol_due_at__lt=day_end)),
        )
    )
    for row in rows:
        per_grid[row["grid_code"]][row["colour"]] = {"overdue": row["overdue"], "due": row["due"]}
    week = now - timedelta(days=7)
    user_ids = [d.staff.user_id for d in duties if d.staff.user_id]
    checkins = dict(
        CheckIn.objects.filter(user_id__in=user_ids, at__gte=week)
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )
    out = []
    for duty in duties:
        colours = per_grid.get(duty.grid.code, {})
        out.append(
            {
                "name": duty.staff.name,
                "post": duty.get_post_display(),
                "grid_code": duty.grid.code,
                "grid_name": duty.grid.name,
                "by_colour": {c: colours.get(c, {"overdue": 0, "due": 0}) for c in COLOURS},
                "overdue": sum(v["overdue"] for v in colours.values()),
                "due": sum(v["due"] for v in colours.values()),
                "checkins_7d": checkins.get(duty.staff.user_id, 0),
            }
        )
    return out
