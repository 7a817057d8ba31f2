"""Benchmark of the 分级明细 drill-down: maintained roll-ups against a naive aggregate query.

    .venv/bin/python bench/drilldown.py [--cases N] [--nodes K] [--naive M] [--data-dir DIR]
                                         [--keep] [--seed S]

Builds, in a fresh database (a temporary SQLite data directory unless ``--data-dir``; the
PostgreSQL database of ``DATABASE_URL`` when set, emptied first), the synthetic city of
bench/grid_lookup.py (its 40,625 cells, 125 × 325 over Shanghai's extent, from its generator)
as a five-level grid: one city (level 1), 5 areas of 25 × 325 cells, 65 communities per area of
5 × 25 cells, and the cells as micro-grids (125 per community). Then N cases (default
5,000,000) spread uniformly over the cells and over 2021–2023, in realistic states (most closed,
some late, parked, rejected, merged, a few thousand open, half of them past their deadline),
written in bulk (COPY on PostgreSQL), and the roll-ups rebuilt (``towngrid reports rebuild``'s
code; its time is printed).

Timed, for K random nodes (a level drawn uniformly from 1–4, then a node of that level) and a
random period each (a day, a week, a month, a quarter or a year, inside 2021–2023):

- **roll-ups**: ``reports.queries.drilldown(user, node, period, sections=False)`` exactly as the
  page and the API call it (scope applied, superuser): the node's figures, every child's figures,
  the figures by source and by top class, including the live count of open overdue cases;
- **naive**: the same figures computed from the cases table with aggregate queries (one for the
  children grouped by code prefix, one by source, one by top class, one for the node), for the
  first M of the same nodes (M default 30: a naive town-wide query scans every case).

Prints p50, p95 and mean per node for both, per level, and the ratios on the common nodes.
Target (issue 2): p95 under 100 ms per node through the roll-ups.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from grid_lookup import CELLS_X, CELLS_Y, synthetic_cells  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
CITY = "310199001"  # a division code no demo uses
AREAS_X, COMMUNITY_W, COMMUNITY_H = 5, 5, 25  # 5 areas of 25 × 325; communities 5 × 25 cells
START = datetime(2021, 1, 1, tzinfo=SH)
DAYS = 3 * 365
CHUNK = 100_000


def setup(data_dir: str | None) -> str:
    import django

    path = data_dir or tempfile.mkdtemp(prefix="towngrid-drilldown-")
    os.environ["TOWNGRID_DATA_DIR"] = path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return path


def empty_database() -> None:
    """Remove earlier bench rows (cases, roll-ups, the synthetic grid)."""
    from django.db import connection

    from towngrid.cases.models import Case
    from towngrid.grids.models import GridNode
    from towngrid.reports.models import CaseRollup, NodeRollup

    with connection.cursor() as cursor:
        for model in (NodeRollup, CaseRollup):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {Case._meta.db_table} CASCADE")
        else:
            Case.objects.all().delete()
    for level in (5, 4, 3, 2, 1):
        GridNode.objects.filter(code__startswith=CITY, level=level).delete()


def build_grid() -> list[tuple[int, str]]:
    """The synthetic city as GridNodes; returns (id, code) of the micro-grids in cell order."""
    from towngrid.grids.models import GridNode

    cells = synthetic_cells()  # row-major: index = iy * CELLS_X + ix
    city = GridNode.objects.create(code=CITY, name="合成城市", level=1, kind="town")
    areas = {}
    for a in range(AREAS_X):
        areas[a] = GridNode.objects.create(
            code=f"{CITY}{a + 1}", name=f"片区{a + 1}", level=2, kind="area", parent=city
        )
    communities = {}
    rows = []
    for a in range(AREAS_X):
        for cx in range(CELLS_X // AREAS_X // COMMUNITY_W):
            for cy in range(CELLS_Y // COMMUNITY_H):
                n = cx * (CELLS_Y // COMMUNITY_H) + cy + 1
                rows.append(
                    GridNode(
                        code=f"{areas[a].code}{n:02d}",
                        name=f"片区{a + 1}社区{n}",
                        level=3,
                        kind="residential",
                        parent=areas[a],
                    )
                )
    GridNode.objects.bulk_create(rows, batch_size=2000)
    for node in GridNode.objects.filter(code__startswith=CITY, level=3):
        communities[node.code] = node
    micro_rows = []
    order = []
    per_area = CELLS_X // AREAS_X
    for index in range(len(cells)):
        iy, ix = divmod(index, CELLS_X)
        a, x_in = divmod(ix, per_area)
        cx, mx = divmod(x_in, COMMUNITY_W)
        cy, my = divmod(iy, COMMUNITY_H)
        n = cx * (CELLS_Y // COMMUNITY_H) + cy + 1
        community = communities[f"{CITY}{a + 1}{n:02d}"]
        m = my * COMMUNITY_W + mx + 1
        code = f"{community.code}{m:03d}"
        x0, y0, x1, y1 = cells[index].bounds
        micro_rows.append(
            GridNode(
                code=code,
                name=f"{community.name}-{m}",
                level=4,
                kind="micro",
                parent=community,
                centroid_lng=(x0 + x1) / 2,
                centroid_lat=(y0 + y1) / 2,
            )
        )
        order.append(code)
    GridNode.objects.bulk_create(micro_rows, batch_size=5000)
    ids = dict(GridNode.objects.filter(code__startswith=CITY, level=4).values_list("code", "pk"))
    return [(ids[c], c) for c in order]


def case_rows(n: int, micros: list[tuple[int, str]], seed: int):
    """N synthetic cases as tuples (chunks), in the column order of ``COLUMNS``."""
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Category, Source

    install_catalogue()
    categories = np.array(list(Category.objects.values_list("pk", flat=True)))
    # A few classes are frequent (Zipf-like), as in any town.
    weights = 1.0 / np.arange(1, len(categories) + 1) ** 0.9
    weights /= weights.sum()
    sources = np.array([s for s in Source.values])
    rng = np.random.default_rng(seed)
    statuses = np.array(
        ["closed", "closed", "parked", "rejected", "merged", "reported", "dispatched", "handled"]
    )
    # 92 % closed (78 on time, 14 late), 3 % parked, 3 % rejected, 1.8 % merged, 0.2 % open.
    status_p = np.array([0.78, 0.14, 0.03, 0.03, 0.018, 0.0006, 0.0008, 0.0006])
    status_p /= status_p.sum()
    now = datetime.now(SH)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        cell = rng.integers(0, len(micros), m)
        cat = rng.choice(categories, m, p=weights)
        src = rng.choice(sources, m)
        seconds = rng.integers(0, DAYS * 86400, m)
        fate = rng.choice(len(statuses), m, p=status_p)
        late = rng.random(m) < 0.5
        rows = []
        for i in range(m):
            grid_id, code = micros[cell[i]]
            at = START + timedelta(seconds=int(seconds[i]))
            k = fate[i]
            status = statuses[k]
            opened = status in ("closed", "parked", "dispatched", "handled")
            is_open = status in ("reported", "dispatched", "handled")
            deadline = (
                (now - timedelta(days=1) if late[i] else now + timedelta(days=3))
                if is_open
                else None
            )
            rows.append(
                (
                    f"SC{start + i + 1:09d}",
                    int(cat[i]),
                    str(src[i]),
                    "",
                    status,
                    "合成案件",
                    "",
                    0.0,
                    0.0,
                    grid_id,
                    code,
                    "handle" if is_open else "",
                    deadline,
                    at,
                    at + timedelta(hours=3) if opened else None,
                    at + timedelta(days=2) if status == "closed" else None,
                    (k == 0) if status == "closed" else None,
                    0,
                    0,
                    "",
                    0,
                    now,
                )
            )
        yield rows


COLUMNS = [
    "number", "category_id", "source", "source_ref", "status", "description", "address", "lng",
    "lat", "grid_id", "grid_code", "step", "step_deadline", "reported_at", "opened_at",
    "closed_at", "closed_on_time", "rework_count", "sendback_count", "pending_request",
    "version", "updated_at",
]  # fmt: skip


PG_TYPES = [
    "text", "int8", "text", "text", "text", "text", "text", "float8", "float8", "int8", "text",
    "text", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "bool", "int4", "int4",
    "text", "int4", "timestamptz",
]  # fmt: skip


STATUS_SQL = """CASE
    WHEN r3 < 0.78 THEN 'closed:t' WHEN r3 < 0.92 THEN 'closed:f' WHEN r3 < 0.95 THEN 'parked'
    WHEN r3 < 0.98 THEN 'rejected' WHEN r3 < 0.998 THEN 'merged' WHEN r3 < 0.9986 THEN 'reported'
    WHEN r3 < 0.9994 THEN 'dispatched' ELSE 'handled' END"""


def load_cases_postgres(n: int, micros, seed: int, bar) -> None:
    """The same distribution as ``case_rows``, generated by the server (generate_series and
    random() from a seed): a bulk load, with the case table's secondary indexes dropped and
    rebuilt afterwards and foreign-key triggers off, as any bulk load of millions of rows."""
    from django.db import connection

    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Case, Category, Source

    install_catalogue()
    table = Case._meta.db_table
    categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
    sources = "ARRAY[" + ", ".join(f"'{s}'" for s in Source.values) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("CREATE TEMP TABLE bench_micro (idx int PRIMARY KEY, id bigint, code text)")
        cursor.executemany(
            "INSERT INTO bench_micro VALUES (%s, %s, %s)",
            [(i, pk, code) for i, (pk, code) in enumerate(micros)],
        )
        cursor.execute("CREATE TEMP TABLE bench_category (idx int PRIMARY KEY, id bigint)")
        cursor.executemany(
            "INSERT INTO bench_category VALUES (%s, %s)", list(enumerate(categories))
        )
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        step = 250_000
        for first in range(1, n + 1, step):
            last = min(first + step - 1, n)
            cursor.execute(
                f"""
                INSERT INTO {table} ({", ".join(COLUMNS)})
                SELECT 'SC' || lpad(g::text, 9, '0'), c.id, ({sources})[1 + floor(r4 * {len(Source.values)})::int],
                       '', split_part(st, ':', 1), '合成案件', '', 0, 0, m.id, m.code,
                       CASE WHEN st IN ('reported', 'dispatched', 'handled') THEN 'handle' ELSE '' END,
                       CASE WHEN st IN ('reported', 'dispatched', 'handled')
                            THEN now() + CASE WHEN r5 < 0.5 THEN interval '-1 day' ELSE interval '3 days' END END,
                       at,
                       CASE WHEN st IN ('closed:t', 'closed:f', 'parked', 'dispatched', 'handled')
                            THEN at + interval '3 hours' END,
                       CASE WHEN st LIKE 'closed%%' THEN at + interval '2 days' END,
                       CASE WHEN st = 'closed:t' THEN true WHEN st = 'closed:f' THEN false END,
                       0, 0, '', 0, now()
                FROM (
                    SELECT g, r4, r5, {STATUS_SQL} AS st,
                           %s::timestamptz + (r1 * %s) * interval '1 second' AS at,
                           floor(r2 * {len(micros)})::int AS mi,
                           floor(power(r6, 2.2) * {len(categories)})::int AS ci
                    FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                                 random() AS r5, random() AS r6
                          FROM generate_series(%s, %s) AS g) AS draws
                ) AS x
                JOIN bench_micro m ON m.idx = x.mi
                JOIN bench_category c ON c.idx = x.ci
                """,
                [START, DAYS * 86400, first, last],
            )
            bar.update(last - first + 1)
        bar.set_description("indexes")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("DROP TABLE bench_micro, bench_category")


def load_cases(n: int, micros, seed: int) -> float:
    from django.db import connection, transaction
    from tqdm import tqdm

    from towngrid.cases.models import Case

    table = Case._meta.db_table
    started = time.perf_counter()
    bar = tqdm(total=n, desc="cases", unit="case")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            load_cases_postgres(n, micros, seed, bar)
        else:
            sql = (
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
            )
            adapt = connection.ops.adapt_datetimefield_value
            with connection.cursor() as cursor:
                for rows in case_rows(n, micros, seed):
                    rows = [
                        tuple(adapt(v) if isinstance(v, datetime) else v for v in row)
                        for row in rows
                    ]
                    cursor.executemany(sql, rows)
                    bar.update(len(rows))
    bar.close()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


# --- the naive aggregate ----------------------------------------------------------------------


def naive_drilldown(node, period, now) -> dict:
    """The drill-down's figures straight from the cases table (what the roll-ups replace)."""
    from django.db.models import Count, Q
    from django.db.models.functions import Substr

    from towngrid.cases.models import OPEN_STATUSES, Case
    from towngrid.reports.rollups import COUNTER_Q, day_bounds

    lo, hi = day_bounds(period.start, period.end)
    agg = {f"n_{k}": Count("pk", filter=q) for k, q in COUNTER_Q.items()}
    agg["n_late_open"] = Count("pk", filter=Q(status__in=OPEN_STATUSES, step_deadline__lt=now))
    qs = Case.objects.filter(
        grid_code__startswith=node.code, reported_at__gte=lo, reported_at__lt=hi
    ).order_by()
    out = {"totals": qs.aggregate(**agg)}
    if node.level < 4:
        length = {1: 10, 2: 12, 3: 15}[node.level]
        out["children"] = list(
            qs.annotate(g=Substr("grid_code", 1, length)).values("g").annotate(**agg)
        )
    out["by_source"] = list(qs.values("source").annotate(**agg))
    out["by_category"] = list(qs.values("category__major").annotate(**agg))
    return out


# --- timing -----------------------------------------------------------------------------------


def random_period(rng: random.Random):
    from towngrid.reports.queries import Period

    length = rng.choice([1, 7, 30, 91, 365])
    start = date(2021, 1, 1) + timedelta(days=rng.randrange(DAYS - length))
    return Period(start, start + timedelta(days=length - 1))


def pick_nodes(k: int, rng: random.Random):
    from towngrid.grids.models import GridNode

    by_level = {
        level: list(
            GridNode.objects.filter(code__startswith=CITY, level=level).only("code", "level")
        )
        for level in (1, 2, 3, 4)
    }
    return [rng.choice(by_level[rng.choice([1, 2, 3, 4])]) for _ in range(k)]


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return (
        f"p50 {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   mean {statistics.fmean(ms):8.1f} ms"
        f"   (n={len(ms)})"
    )


def p95(times: list[float]) -> float:
    ms = sorted(times)
    return ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5_000_000)
    parser.add_argument("--nodes", type=int, default=200, help="random nodes timed (roll-ups)")
    parser.add_argument("--naive", type=int, default=30, help="of those, timed naively too")
    parser.add_argument("--data-dir", help="SQLite data directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the city and cases built before"
    )
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()

    path = setup(args.data_dir)
    from django.db import connection
    from django.utils import timezone

    from towngrid.accounts.models import User
    from towngrid.cases.models import Case
    from towngrid.grids.models import GridNode
    from towngrid.reports import queries, rollups

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    try:
        if args.reuse and GridNode.objects.filter(code=CITY).exists():
            print(f"reusing {Case.objects.count():,} cases")
        else:
            empty_database()
            started = time.perf_counter()
            micros = build_grid()
            print(f"grid: {len(micros):,} micro-grids in {time.perf_counter() - started:.1f} s")
            seconds = load_cases(args.cases, micros, args.seed)
            print(f"cases: {args.cases:,} written in {seconds:.1f} s")
            started = time.perf_counter()
            counts = rollups.rebuild(progress=True)
            rollups.vacuum()  # as `towngrid reports rebuild` does
            print(
                f"roll-ups rebuilt in {time.perf_counter() - started:.1f} s: "
                f"{counts['case_rollups']:,} micro-grid rows, {counts['node_rollups']:,} node rows"
            )
        user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
            "bench-admin", password=None
        )
        rng = random.Random(args.seed)
        nodes = pick_nodes(args.nodes, rng)
        periods = [random_period(rng) for _ in nodes]
        now = timezone.now()
        # Warm-up: first queries load the catalogue and plans.
        for node, period in list(zip(nodes, periods, strict=True))[:5]:
            queries.drilldown(user, node.code, period, sections=False, now=now)
        fast: list[float] = []
        by_level: dict[int, list[float]] = {}
        for node, period in zip(nodes, periods, strict=True):
            t = time.perf_counter()
            queries.drilldown(user, node.code, period, sections=False, now=now)
            fast.append(time.perf_counter() - t)
            by_level.setdefault(node.level, []).append(fast[-1])
        slow: list[float] = []
        for node, period in list(zip(nodes, periods, strict=True))[: args.naive]:
            t = time.perf_counter()
            naive_drilldown(node, period, now)
            slow.append(time.perf_counter() - t)
        m = len(slow)
        print()
        print(f"drill-down of {len(nodes)} random nodes (random periods of 1 day to 1 year):")
        print(f"  roll-ups:            {summary(fast)}")
        for level in sorted(by_level):
            print(f"    level {level}:           {summary(by_level[level])}")
        if m:
            print(f"  roll-ups, first {m}:  {summary(fast[:m])}")
            print(f"  naive aggregate:     {summary(slow)}")
            print(
                f"  ratio naive / roll-ups on the same {m} nodes: "
                f"mean {statistics.fmean(slow) / statistics.fmean(fast[:m]):.1f}×, "
                f"p95 {p95(slow) / p95(fast[:m]):.1f}×"
            )
        verdict = "met" if p95(fast) < 0.1 else "NOT met"
        print(
            f"target p95 < 100 ms per node through the roll-ups: {verdict} ({p95(fast) * 1000:.1f} ms)"
        )
    finally:
        connection.close()
        if not args.data_dir and not args.keep:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
