"""Benchmark of case intake: ``cases.actions.report`` against raw inserts of the same rows.

    .venv/bin/python bench/case_intake.py [--cases N] [--data-dir DIR] [--keep]

Builds the Beicai demo town and the category catalogue into a fresh SQLite data directory
(temporary unless ``--data-dir``; or PostgreSQL when ``DATABASE_URL`` is set), draws N points
inside the town (uniform in its micro-grids' bounding boxes, kept if the grid index places
them), and then:

1. **actions** — N calls of ``actions.report(...)``, one transaction each, exactly as the API
   calls it: category check, description and source checks, CRS conversion, point → grid
   lookup (in-memory index), the accept step's deadline on the working calendar (time-limit
   table cached per process), the case number from the per-year sequence row, and the rows:
   case, first event, reporter, audit event.
2. **raw** — the same rows for the same N reports written with plain SQL through the DB-API
   cursor, **one transaction per case** as well (sequence UPDATE … RETURNING, INSERT case,
   INSERT event, INSERT reporter, INSERT audit), every value precomputed before timing (grid
   leaf, deadline, number). This is the floor for a durable one-case-at-a-time intake; the
   ratio actions/raw is the cost of validation, lookup, deadline and the ORM.
3. For reference only, the same raw rows in bulk (``executemany``, 1,000 cases per
   transaction): what a batch import could reach, not a per-report intake.

Targets (issue 3): ≥ 1,000 cases/s through the actions on SQLite, and ≥ 0.3 of raw (2).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SH = ZoneInfo("Asia/Shanghai")


def setup(data_dir: str | None) -> str:
    import django

    path = data_dir or tempfile.mkdtemp(prefix="towngrid-intake-")
    os.environ["TOWNGRID_DATA_DIR"] = path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.demo.build import build_demo_town, demo_town_exists

    if not demo_town_exists():
        build_demo_town(progress=False)
    install_catalogue()
    return path


def draw_points(n: int, seed: int = 7):
    """N points inside the town, with their grid leaf (found once, outside the timings)."""
    import numpy as np

    from towngrid.grids.index import get_index
    from towngrid.grids.models import GridNode

    rng = random.Random(seed)
    boxes = []
    for node in GridNode.objects.filter(level=4).exclude(boundary={}).only("boundary"):
        coords = node.boundary["coordinates"][0]
        if node.boundary.get("type") == "MultiPolygon":
            coords = coords[0]
        xs = [c[0] for c in coords]
        ys = [c[1] for c in coords]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    index = get_index()
    lngs, lats = [], []
    while len(lngs) < n:
        batch = []
        for _ in range(min(n * 2, 200_000)):
            x0, y0, x1, y1 = rng.choice(boxes)
            batch.append((rng.uniform(x0, x1), rng.uniform(y0, y1)))
        arr = np.array(batch)
        leaves = index.lookup_many(arr[:, 0], arr[:, 1])
        for (x, y), leaf in zip(batch, leaves, strict=True):
            if leaf >= 0:
                lngs.append(x)
                lats.append(y)
    return lngs[:n], lats[:n]


def bar(total: int, label: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="case", mininterval=1.0, file=sys.stderr)


def _batches(n: int, batch: int):
    """Index ranges of ``batch`` cases (1: every case its own transaction)."""
    for b in range(0, n, batch):
        yield range(b, min(n, b + batch))


def run_actions(categories, lngs, lats, start: datetime, batch: int = 1) -> float:
    from django.db import transaction

    from towngrid.cases import actions

    n = len(lngs)
    progress = bar(n, f"actions.report, {batch}/transaction")
    t0 = time.perf_counter()
    for chunk in _batches(n, batch):
        # With batch > 1 an outer transaction holds several reports, as an import or a queue
        # worker would; each report's own atomic block becomes a savepoint.
        with transaction.atomic():
            for i in chunk:
                actions.report(
                    category=categories[i % len(categories)],
                    description="小区门口垃圾堆放，影响通行",
                    lng=lngs[i],
                    lat=lats[i],
                    source="grid_worker",
                    address="北蔡镇莲溪路",
                    at=start + timedelta(seconds=i),
                )
                if i % 1000 == 999:
                    progress.update(1000)
    elapsed = time.perf_counter() - t0
    progress.close()
    return elapsed


def raw_rows(categories, lngs, lats, start: datetime):
    """The values report() would write, precomputed (not timed)."""
    from towngrid.cases.models import CaseSequence
    from towngrid.cases.timelimits import deadline_for
    from towngrid.grids.index import lookup

    rows = []
    for year in {(start + timedelta(seconds=s)).astimezone(SH).year for s in (0, len(lngs))}:
        CaseSequence.objects.get_or_create(year=year)
    for i in range(len(lngs)):
        category = categories[i % len(categories)]
        at = start + timedelta(seconds=i)
        leaf = lookup(lngs[i], lats[i])[-1]
        rows.append((category, at, leaf, deadline_for(category, "accept", at), lngs[i], lats[i]))
    return rows


def _sql():
    from towngrid.cases.models import Case, CaseEvent, CaseReporter, CaseSequence
    from towngrid.core.models import AuditEvent

    seq = f"UPDATE {CaseSequence._meta.db_table} SET last = last + 1 WHERE year = %s RETURNING last"
    case = (
        f"INSERT INTO {Case._meta.db_table} (number, category_id, source, source_ref, status, "
        "description, address, lng, lat, grid_id, grid_code, is_valid_report, step, "
        "step_started_at, step_deadline, reported_at, rework_count, sendback_count, "
        "pending_request, version, updated_at) VALUES "
        "(%s, %s, %s, '', 'reported', %s, %s, %s, %s, %s, %s, NULL, 'accept', %s, %s, %s, "
        "0, 0, '', 0, %s) RETURNING id"
    )
    event = (
        f"INSERT INTO {CaseEvent._meta.db_table} (case_id, action, from_status, to_status, "
        "actor_name, at, note, deadline, data) VALUES "
        "(%s, 'report', '', 'reported', '系统', %s, %s, %s, %s)"
    )
    reporter = (
        f"INSERT INTO {CaseReporter._meta.db_table} (case_id, source, reported_at) "
        "VALUES (%s, %s, %s)"
    )
    audit = (
        f"INSERT INTO {AuditEvent._meta.db_table} (at, actor_name, action, object_type, "
        "object_id, object_repr, changes, reason) VALUES "
        "(%s, 'system', 'cases.report', 'cases.case', %s, %s, %s, '')"
    )
    return seq, case, event, reporter, audit


def run_raw(rows, prefix: str, batch: int = 1) -> float:
    """Plain SQL, the same statements per case, each case in its own transaction (a savepoint
    inside the outer one when batched, as report() would be)."""
    import json

    from django.db import connection, transaction

    seq, case_sql, event_sql, reporter_sql, audit_sql = _sql()
    description = "小区门口垃圾堆放，影响通行"
    data = json.dumps({"source": "grid_worker"})
    progress = bar(len(rows), f"raw SQL, {batch}/transaction")
    connection.ensure_connection()
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for chunk in _batches(len(rows), batch):
            with transaction.atomic():
                for i in chunk:
                    category, at, leaf, deadline, lng, lat = rows[i]
                    with transaction.atomic():
                        year = at.astimezone(SH).year
                        cursor.execute(seq, [year])
                        number = f"{prefix}{year}-{cursor.fetchone()[0]:06d}"
                        cursor.execute(
                            case_sql,
                            [
                                number,
                                category.pk,
                                "grid_worker",
                                description,
                                "北蔡镇莲溪路",
                                lng,
                                lat,
                                leaf.pk,
                                leaf.code,
                                at,
                                deadline,
                                at,
                                at,
                            ],
                        )
                        case_id = cursor.fetchone()[0]
                        cursor.execute(event_sql, [case_id, at, description, deadline, data])
                        cursor.execute(reporter_sql, [case_id, "grid_worker", at])
                        changes = json.dumps(
                            {
                                "category": category.full_code,
                                "grid": leaf.code,
                                "source": "grid_worker",
                            },
                            ensure_ascii=False,
                        )
                        cursor.execute(
                            audit_sql, [at, str(case_id), f"{number} {category.name}", changes]
                        )
                    if i % 1000 == 999:
                        progress.update(1000)
    elapsed = time.perf_counter() - t0
    progress.close()
    return elapsed


def run_raw_bulk(rows, prefix: str, batch: int = 1000) -> float:
    """Reference: the same rows, executemany in batches of ``batch`` cases per transaction."""
    import json

    from django.db import connection, transaction

    from towngrid.cases.models import Case

    _seq, case_sql, event_sql, reporter_sql, audit_sql = _sql()
    case_sql = case_sql.replace(" RETURNING id", "")
    description = "小区门口垃圾堆放，影响通行"
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for b in range(0, len(rows), batch):
            chunk = rows[b : b + batch]
            with transaction.atomic():
                numbers = [
                    f"{prefix}{r[1].astimezone(SH).year}-{b + j + 1:06d}"
                    for j, r in enumerate(chunk)
                ]
                cursor.executemany(
                    case_sql,
                    [
                        [
                            num,
                            c.pk,
                            "grid_worker",
                            description,
                            "北蔡镇莲溪路",
                            lng,
                            lat,
                            leaf.pk,
                            leaf.code,
                            at,
                            dl,
                            at,
                            at,
                        ]
                        for num, (c, at, leaf, dl, lng, lat) in zip(numbers, chunk, strict=True)
                    ],
                )
                ids = dict(Case.objects.filter(number__in=numbers).values_list("number", "id"))
                data = json.dumps({"source": "grid_worker"})
                cursor.executemany(
                    event_sql,
                    [
                        [ids[num], r[1], description, r[3], data]
                        for num, r in zip(numbers, chunk, strict=True)
                    ],
                )
                cursor.executemany(
                    reporter_sql,
                    [
                        [ids[num], "grid_worker", r[1]]
                        for num, r in zip(numbers, chunk, strict=True)
                    ],
                )
                cursor.executemany(
                    audit_sql,
                    [
                        [r[1], str(ids[num]), num, "{}"]
                        for num, r in zip(numbers, chunk, strict=True)
                    ],
                )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="cases per transaction in the batched run (default 100; 0 skips it)",
    )
    parser.add_argument("--data-dir", help="use this data directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--no-bulk", action="store_true", help="skip the bulk reference run")
    args = parser.parse_args()
    # Production-like: no SQL debug log (DEBUG keeps every query's text in memory).
    os.environ.setdefault("TOWNGRID_DEBUG", "0")

    print("准备：演示镇、案件分类 …", file=sys.stderr)
    path = setup(args.data_dir)
    try:
        from django.db import connection

        from towngrid.cases.models import Category

        categories = list(Category.objects.filter(active=True).select_related("major"))
        lngs, lats = draw_points(args.cases)
        n = args.cases
        start = datetime(2023, 3, 1, 9, 0, tzinfo=SH)
        # Each run writes its own year's numbers, so the runs never collide.
        year = 0

        def next_start() -> datetime:
            nonlocal year
            year += 1
            return start.replace(year=start.year + year - 1)

        results = []
        for batch in [1, args.batch] if args.batch and args.batch > 1 else [1]:
            t_actions = run_actions(categories, lngs, lats, next_start(), batch=batch)
            rows = raw_rows(categories, lngs, lats, next_start())
            t_raw = run_raw(rows, prefix="RW", batch=batch)
            results.append((batch, n / t_actions, n / t_raw, t_actions, t_raw))
        rate_bulk = None
        if not args.no_bulk:
            rows = raw_rows(categories, lngs, lats, next_start())
            rate_bulk = n / run_raw_bulk(rows, prefix="BK")

        print(f"database: {connection.vendor}  cases: {n:,}")
        for batch, rate_actions, rate_raw, t_actions, t_raw in results:
            label = "1 case per transaction" if batch == 1 else f"{batch} cases per transaction"
            print(f"-- {label}")
            print(f"   actions.report      {rate_actions:10,.0f} cases/s  ({t_actions:.1f} s)")
            print(f"   raw SQL             {rate_raw:10,.0f} cases/s  ({t_raw:.1f} s)")
            ratio = rate_actions / rate_raw
            print(
                f"   ratio actions/raw   {ratio:10.2f}   "
                f"(targets: ≥ 1,000/s {'met' if rate_actions >= 1000 else 'NOT met'}, "
                f"≥ 0.30 {'met' if ratio >= 0.3 else 'NOT met'})"
            )
        if rate_bulk:
            print(f"-- reference: raw executemany, 1,000 per transaction: {rate_bulk:,.0f} cases/s")
    finally:
        if not args.data_dir and not args.keep:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
