"""Keeping the case roll-ups current, and rebuilding them.

What each counter counts, for the cases reported on a day (a merged duplicate counts nowhere:
its problem is counted once, in the case it was merged into):

- ``reported`` 上报: every case but merged duplicates;
- ``opened`` 立案: of those, the ones opened (``opened_at`` set; a reopened case stays opened);
- ``closed`` 结案 / ``closed_on_time`` 按期结案 / ``closed_late`` 超期结案: closed now, and of those
  closed within their deadlines or not;
- ``parked`` 挂账: parked now;
- ``open`` 在办: in one of the open statuses now.

Maintenance (``on_case_changed``, a receiver of ``cases.signals.case_changed``, runs inside the
case's transaction):

- a report adds the new case's counters to its ``CaseRollup`` row and the eighteen ``NodeRollup``
  rows above it (town/area/community × total/subclass/source × day/month) with one atomic upsert per table, so
  intake costs two statements and concurrent reports never lose a count;
- a transition that changes the status recomputes the case's ``CaseRollup`` row from the cases
  of that row (a handful: one micro-grid, day, subclass and source) under a row lock, and adds the
  difference to the ``NodeRollup`` rows. Recomputing rather than guessing the old counters from
  the old status keeps the roll-ups right whatever a transition changed (``opened_at`` on reopen,
  ``closed_on_time`` on close); the lock serialises writers of the same row on PostgreSQL (SQLite
  serialises all writers anyway), so two transitions never overwrite each other's recount;
- a transition that keeps the status (extension requests and the like) changes no counter and
  writes nothing.

``rebuild`` recomputes everything from the cases with one INSERT … SELECT per table and level;
``towngrid reports rebuild`` runs it after bulk loads that bypass the actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import CharField, Count, F, Max, Q, Sum, Value
from django.db.models.functions import Cast, Length, Substr, TruncDate, TruncMonth
from django.utils import timezone

from towngrid.cases.models import OPEN_STATUSES, Case, Status

from .models import COUNTER_FIELDS, CaseRollup, Dim, Grain, NodeRollup

SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTERS = COUNTER_FIELDS
MICRO_LENGTH = 15
# The node levels kept in NodeRollup and the length of their codes (grids.models.CODE_LENGTHS).
COARSE_LEVELS = ((1, 9), (2, 10), (3, 12))

# Each counter as a condition on a case: the one definition the roll-ups, the naive aggregate
# (bench, tests) and the case lists behind every figure share.
NOT_MERGED = ~Q(status=Status.MERGED)
COUNTER_Q: dict[str, Q] = {
    "reported": NOT_MERGED,
    "opened": NOT_MERGED & Q(opened_at__isnull=False),
    "closed": Q(status=Status.CLOSED),
    "closed_on_time": Q(status=Status.CLOSED, closed_on_time=True),
    "closed_late": Q(status=Status.CLOSED, closed_on_time=False),
    "parked": Q(status=Status.PARKED),
    "open": Q(status__in=OPEN_STATUSES),
}


def counter_aggregates() -> dict[str, Count]:
    """``n_<counter>`` → its COUNT. Prefixed: an alias named like a field (``closed_on_time``)
    would capture that field in the conditions of the aggregates after it."""
    return {f"n_{name}": Count("pk", filter=q) for name, q in COUNTER_Q.items()}


def unprefix(row: dict[str, Any]) -> dict[str, int]:
    return {c: row.get(f"n_{c}") or 0 for c in COUNTERS}


def counters_of(case: Case) -> dict[str, int]:
    """The counters of one case, in Python (the same conditions as ``COUNTER_Q``)."""
    merged = case.status == Status.MERGED
    closed = case.status == Status.CLOSED
    return {
        "reported": int(not merged),
        "opened": int(not merged and case.opened_at is not None),
        "closed": int(closed),
        "closed_on_time": int(closed and case.closed_on_time is True),
        "closed_late": int(closed and case.closed_on_time is False),
        "parked": int(case.status == Status.PARKED),
        "open": int(case.status in OPEN_STATUSES),
    }


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, SHANGHAI).date()


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after ``end`` 00:00) in Asia/Shanghai: ``end`` is inclusive."""
    return (
        datetime.combine(start, time.min, tzinfo=SHANGHAI),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=SHANGHAI),
    )


def micro_code(grid_code: str) -> str:
    return grid_code[:MICRO_LENGTH]


def under(code: str, field: str = "grid_code") -> Q:
    """Cases located in the micro-grid (or node) ``code``: the code itself or below it."""
    return Q(**{f"{field}__startswith": code})


# --- maintenance -------------------------------------------------------------------------------


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _quoted(names: Iterable[str]) -> list[str]:
    return [connection.ops.quote_name(n) for n in names]


FINE_KEYS = ("grid_code", "day", "category_id", "source")
NODE_KEYS = ("grid_code", "dim", "grain", "day", "key")


_UPSERT_SQL: dict[tuple, str] = {}


def _upsert_add(model, keys: tuple[str, ...], extra: tuple[str, ...], rows: list[list]) -> None:
    """INSERT rows, or add their counters to the existing rows with the same keys (one atomic
    statement, the same on SQLite and PostgreSQL; built once per shape)."""
    if not rows:
        return
    shape = (model, keys, extra, len(rows), connection.vendor)
    sql = _UPSERT_SQL.get(shape)
    if sql is None:
        table = _table(model)
        columns = _quoted([*keys, *extra, *COUNTERS])
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _quoted(COUNTERS))
        sql = _UPSERT_SQL[shape] = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))} "
            f"ON CONFLICT ({', '.join(_quoted(keys))}) DO UPDATE SET {updates}"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for row in rows for v in row])


def _db_day(day: date):
    return connection.ops.adapt_datefield_value(day)


def _node_rows(micro: str, day: date, category_id: int, source: str, delta: dict) -> list[list]:
    counts = [delta[c] for c in COUNTERS]
    days = ((Grain.DAY, _db_day(day)), (Grain.MONTH, _db_day(day.replace(day=1))))
    rows = []
    for level, length in COARSE_LEVELS:
        if len(micro) <= length:
            continue
        code = micro[:length]
        for dim, key in ((Dim.ALL, ""), (Dim.CATEGORY, str(category_id)), (Dim.SOURCE, source)):
            for grain, value in days:
                rows.append([code, str(dim), str(grain), value, key, level, *counts])
    return rows


def _add(micro: str, day: date, category_id: int, source: str, delta: dict[str, int]) -> None:
    if not any(delta.values()):
        return
    _upsert_add(
        CaseRollup,
        FINE_KEYS,
        (),
        [[micro, _db_day(day), category_id, source, *[delta[c] for c in COUNTERS]]],
    )
    _upsert_add(
        NodeRollup, NODE_KEYS, ("level",), _node_rows(micro, day, category_id, source, delta)
    )


def bucket_cases(micro: str, day: date, category_id: int, source: str):
    """The cases of one CaseRollup row (as a queryset, for tests and tools)."""
    lo, hi = day_bounds(day, day)
    located = under(micro) if len(micro) == MICRO_LENGTH else Q(grid_code=micro)
    return Case.objects.filter(
        located,
        category_id=category_id,
        source=source,
        reported_at__gte=lo,
        reported_at__lt=hi,
    )


class _Row:
    """The fields of a case that its counters depend on (``counters_of`` reads these)."""

    __slots__ = ("status", "opened_at", "closed_on_time")

    def __init__(self, status: str, opened: bool, closed_on_time) -> None:
        self.status = status
        self.opened_at = True if opened else None
        self.closed_on_time = None if closed_on_time is None else bool(closed_on_time)


_SQL: dict[str, dict[str, str]] = {}


def _recount_sql() -> tuple[str, str, str]:
    """The three statements of ``recount``, built once per process and database (raw SQL: the
    ORM's query compilation cost more than the statements themselves on every transition)."""
    built = _SQL.setdefault(connection.vendor, {})
    if not built:
        q = connection.ops.quote_name
        fine = _table(CaseRollup)
        cols = ", ".join(_quoted(COUNTERS))
        keys = _quoted(FINE_KEYS)
        zero = ", ".join(["0"] * len(COUNTERS))
        first = _quoted(COUNTERS)[0]
        # Insert the row if missing, else touch it: either way it is locked for this transaction
        # and its current counters come back.
        built["lock"] = (
            f"INSERT INTO {fine} ({', '.join(keys)}, {cols}) VALUES (%s, %s, %s, %s, {zero}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {first} = {fine}.{first} "
            f"RETURNING {cols}"
        )
        case = _table(Case)
        built["cases"] = (
            f"SELECT {q('status')}, {q('opened_at')} IS NOT NULL, {q('closed_on_time')} "
            f"FROM {case} WHERE {q('category_id')} = %s AND {q('source')} = %s "
            f"AND {q('reported_at')} >= %s AND {q('reported_at')} < %s "
            f"AND ({q('grid_code')} = %s OR {q('grid_code')} LIKE %s)"
        )
        sets = ", ".join(f"{c} = %s" for c in _quoted(COUNTERS))
        where = " AND ".join(f"{k} = %s" for k in keys)
        built["update"] = f"UPDATE {fine} SET {sets} WHERE {where}"
    return built["lock"], built["cases"], built["update"]


def recount(micro: str, day: date, category_id: int, source: str) -> dict[str, int]:
    """Recompute one CaseRollup row from its cases and pass the difference up; returns it.

    The row is locked first (a concurrent writer of the same row waits for this transaction,
    and its own recount, a new snapshot under READ COMMITTED, then sees ours)."""
    lock_sql, cases_sql, update_sql = _recount_sql()
    key = [micro, _db_day(day), category_id, source]
    lo, hi = day_bounds(day, day)
    adapt = connection.ops.adapt_datetimefield_value
    like = micro + "%" if len(micro) == MICRO_LENGTH and micro.isdigit() else micro
    with connection.cursor() as cursor:
        cursor.execute(lock_sql, key)
        old = dict(zip(COUNTERS, cursor.fetchone(), strict=True))
        cursor.execute(cases_sql, [category_id, source, adapt(lo), adapt(hi), micro, like])
        new = dict.fromkeys(COUNTERS, 0)
        for status, opened, on_time in cursor.fetchall():
            for name, value in counters_of(_Row(status, opened, on_time)).items():
                new[name] += value
        delta = {c: new[c] - old[c] for c in COUNTERS}
        if any(delta.values()):
            cursor.execute(update_sql, [*new.values(), *key])
    if any(delta.values()):
        _upsert_add(
            NodeRollup, NODE_KEYS, ("level",), _node_rows(micro, day, category_id, source, delta)
        )
    return delta


def on_case_changed(
    sender, case: Case, action: str = "", old_status: str = "", new_status: str = "", **kwargs
) -> None:
    """The receiver of ``cases.signals.case_changed`` (connected in apps.ReportsConfig.ready)."""
    micro = micro_code(case.grid_code)
    day = local_day(case.reported_at)
    if not old_status:
        # A new case: nothing of it was counted yet, so its counters are the difference.
        _add(micro, day, case.category_id, case.source, counters_of(case))
        return
    if old_status == new_status:
        return
    recount(micro, day, case.category_id, case.source)


# --- rebuild -----------------------------------------------------------------------------------


def _insert_select(model, columns: list[str], queryset) -> None:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table(model)} ({', '.join(_quoted(columns))}) {sql}", params)


def _fine_queryset():
    return (
        Case.objects.order_by()
        .annotate(
            r_code=Substr("grid_code", 1, MICRO_LENGTH),
            r_day=TruncDate("reported_at", tzinfo=SHANGHAI),
        )
        .values("r_code", "r_day", "category_id", "source")
        .annotate(**counter_aggregates())
    )


def _coarse_queryset(level: int, length: int, dim: str):
    """One level's rows of one dimension, summed from the level below: the community level from
    the micro-grid rows, the area level from the community rows, the town from the areas (each
    step reads far fewer rows than the one before)."""
    if level == COARSE_LEVELS[-1][0]:
        key = {
            Dim.ALL: Value(""),
            Dim.CATEGORY: Cast("category_id", CharField(max_length=16)),
            Dim.SOURCE: Cast("source", CharField(max_length=16)),
        }[dim]
        source = (
            CaseRollup.objects.order_by()
            .alias(code_length=Length("grid_code"))
            .filter(code_length__gt=length)
        )
    else:
        key = F("key")
        source = NodeRollup.objects.order_by().filter(level=level + 1, dim=dim, grain=Grain.DAY)
    return (
        source.annotate(
            r_code=Substr("grid_code", 1, length),
            r_dim=Value(str(dim)),
            r_grain=Value(str(Grain.DAY)),
            r_key=key,
        )
        .values("r_code", "r_dim", "r_grain", "day", "r_key")
        .annotate(r_level=Value(level), **{c: Sum(c) for c in COUNTERS})
    )


def _month_queryset():
    """Every node's month rows, summed from its day rows."""
    return (
        NodeRollup.objects.order_by()
        .filter(grain=Grain.DAY)
        .annotate(r_grain=Value(str(Grain.MONTH)), r_month=TruncMonth("day"))
        .values("grid_code", "dim", "r_grain", "r_month", "key")
        .annotate(r_level=Max("level"), **{c: Sum(c) for c in COUNTERS})
    )


def vacuum() -> bool:
    """On PostgreSQL, outside a transaction: VACUUM ANALYZE the roll-up tables, so the
    drill-down's index-only scans (migration 0002) need no heap visits for rows just rebuilt.
    Returns whether it ran."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    from .models import CaseRollup, NodeRollup

    with connection.cursor() as cursor:
        for model in (CaseRollup, NodeRollup):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return True


def rebuild(*, progress: bool = False) -> dict[str, int]:
    """Recompute both roll-up tables from the cases, in one transaction (readers see the old
    figures until it commits). Returns the row counts."""
    from tqdm import tqdm

    steps = 2 + len(COARSE_LEVELS) * 3
    bar = tqdm(total=steps, desc="报表汇总", unit="步", disable=not progress)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Writers of cases wait (their receivers lock these tables' rows) until the new
                # figures are in, so none of their changes falls between the delete and the insert.
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"LOCK TABLE {_table(CaseRollup)}, {_table(NodeRollup)} IN EXCLUSIVE MODE"
                    )
            NodeRollup.objects.all().delete()
            CaseRollup.objects.all().delete()
            _insert_select(
                CaseRollup,
                ["grid_code", "day", "category_id", "source", *COUNTERS],
                _fine_queryset(),
            )
            bar.update(1)
            for level, length in reversed(COARSE_LEVELS):
                for dim in (Dim.ALL, Dim.CATEGORY, Dim.SOURCE):
                    _insert_select(
                        NodeRollup,
                        ["grid_code", "dim", "grain", "day", "key", "level", *COUNTERS],
                        _coarse_queryset(level, length, dim),
                    )
                    bar.update(1)
            _insert_select(
                NodeRollup,
                ["grid_code", "dim", "grain", "day", "key", "level", *COUNTERS],
                _month_queryset(),
            )
            bar.update(1)
            if connection.vendor == "postgresql":
                # Fresh statistics, or the planner reads a million new rows as an empty table.
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {_table(CaseRollup)}, {_table(NodeRollup)}")
    finally:
        bar.close()
    return {"case_rollups": CaseRollup.objects.count(), "node_rollups": NodeRollup.objects.count()}


def snapshot() -> dict[str, set[tuple]]:
    """Every non-zero roll-up row as a tuple, to compare incremental upkeep with a rebuild."""

    def rows(model, keys) -> set[tuple]:
        out = set()
        for row in model.objects.values_list(*keys, *COUNTERS):
            if any(row[len(keys) :]):
                out.add(tuple(str(v) for v in row))
        return out

    return {
        "case": rows(CaseRollup, ["grid_code", "day", "category_id", "source"]),
        "node": rows(NodeRollup, ["grid_code", "level", "dim", "grain", "day", "key"]),
    }


def exists() -> bool:
    """Whether the roll-ups hold the cases: every (non-merged) case counted at the town level.
    Cheap (one COUNT and one SUM) and false after ``remove`` or a load around the actions."""
    counted = NodeRollup.objects.filter(level=1, dim=Dim.ALL, grain=Grain.MONTH).aggregate(
        n=Sum("reported")
    )["n"]
    return (counted or 0) == Case.objects.exclude(status=Status.MERGED).count()


def counters_from_rows(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    total = dict.fromkeys(COUNTERS, 0)
    for row in rows:
        for c in COUNTERS:
            total[c] += row.get(c) or 0
    return total
