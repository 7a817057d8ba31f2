"""Benchmark of sensor ingestion: ``sensing.actions.ingest`` against raw inserts of the same rows.

    .venv/bin/python bench/ingest.py [--count N] [--batch B] [--devices D] [--only sqlite|postgresql]

For each database (SQLite in a fresh temporary data directory; PostgreSQL in a private database
created for the run and dropped afterwards, on the server of ``DATABASE_URL`` or
postgres://postgres@127.0.0.1:5432/test), in a child process of its own:

1. set up: migrate, a small grid (one micro-grid), the sensing catalogue (device types, rules)
   and D devices of the five kinds;
2. **raw** — N observation rows written with plain ``executemany`` INSERTs through the same
   database connection, B rows per transaction, into ``sensing_observation`` (the same table,
   indexes and constraints), values precomputed before timing; then the table is emptied;
3. **ingest** — the same N readings as compact messages through ``actions.ingest`` in batches
   of B (transport ``mqtt``, as the worker calls it): JSON validation against the device type,
   the duplicate check, the insert, the latest value, every device's rules with their state,
   alarms raised, refreshed and cleared (the levels cross thresholds now and then). Message
   generation is outside the timed part.

Prints both rates, their ratio, and the process's resident memory (RSS) after the first and the
last 100,000 ingested readings: it must not grow with the stream. Targets (issue 2/7): at least
20,000 observations/s per process on SQLite, and at least 0.3 of the raw insert rate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2023, 6, 1, 0, 0, tzinfo=SH)
WINDOW = 100_000
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
TYPES = ["rain_pump_station", "water_quality", "gas_detector", "elevator_ebike", "ai_camera"]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


# --- the readings ---------------------------------------------------------------------------------


def values_for(type_code: str, device: int, n: int) -> dict:
    """Deterministic, valid values; pump levels and gas concentrations cross their alarm
    thresholds now and then so rules raise and clear alarms along the stream."""
    phase = (n + device * 7) % 240
    if type_code == "rain_pump_station":
        level = 1.5 + 2.2 * max(0.0, 1 - abs(phase - 120) / 60)  # 1.5 … 3.7 m every 240 readings
        return {
            "water_level": round(level, 3),
            "rainfall": round(phase % 50, 1),
            "pumps_running": phase % 5,
        }
    if type_code == "water_quality":
        return {
            "ph": 7.2,
            "do": round(5.5 - (phase % 60) / 20, 2),
            "nh3n": 0.8,
            "transparency": 40,
            "orp": 150,
        }
    if type_code == "gas_detector":
        return {
            "lel": 55.0 if phase in (100, 101) else round(phase % 3, 1),
            "alarm": phase in (100, 101),
        }
    if type_code == "elevator_ebike":
        return {"ebike": phase == 200, "door_blocked": phase == 200}
    return {"event": "小包垃圾", "confidence": 0.5, "count": 1}  # below every policy's confidence


def readings(devices: list[tuple[int, str, str]], count: int, start: int = 0):
    """(device id, device code, type, message id, observed_at, values) for readings
    ``start``…``count``: devices in turn, one reading a minute each."""
    n_dev = len(devices)
    for i in range(start, count):
        pk, code, type_code = devices[i % n_dev]
        n = i // n_dev
        yield pk, code, type_code, f"b-{i}", T0 + timedelta(minutes=n), values_for(type_code, pk, n)


# --- the child: one database -----------------------------------------------------------------------


def setup(n_devices: int) -> list[tuple[int, str, str]]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from towngrid.grids.models import GridNode, Kind, Level
    from towngrid.sensing import catalogue
    from towngrid.sensing.models import Device, DeviceType

    town = GridNode.objects.create(
        code="990000009", name="基准镇", level=Level.TOWN, kind=Kind.TOWN
    )
    area = GridNode.objects.create(
        code="9900000091", name="基准片区", level=Level.AREA, kind=Kind.AREA, parent=town
    )
    community = GridNode.objects.create(
        code="990000009101",
        name="基准居委",
        level=Level.COMMUNITY,
        kind=Kind.RESIDENTIAL,
        parent=area,
    )
    micro = GridNode.objects.create(
        code="990000009101001",
        name="基准微网格",
        level=Level.MICRO,
        kind=Kind.MICRO,
        parent=community,
    )
    catalogue.install()
    types = {t.code: t for t in DeviceType.objects.all()}
    Device.objects.bulk_create(
        [
            Device(
                code=f"BENCH-{i:05d}",
                name=f"基准设备{i}",
                device_type=types[TYPES[i % len(TYPES)]],
                grid=micro,
                grid_code=micro.code,
                lng=121.5,
                lat=31.2,
            )  # fmt: skip
            for i in range(n_devices)
        ],
        batch_size=1000,
    )
    return [
        (d.pk, d.code, d.device_type.code)
        for d in Device.objects.select_related("device_type").order_by("pk")
    ]


def run_raw(devices, count: int, batch: int) -> float:
    """Plain executemany of the same rows, ``batch`` per transaction; only the writes timed."""
    from django.db import connection, transaction

    from towngrid.sensing.models import Observation

    ops = connection.ops
    table = ops.quote_name(Observation._meta.db_table)
    cols = ", ".join(
        ops.quote_name(c)
        for c in ("device_id", "observed_at", "received_at", "message_id", "values")
    )
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    sql = f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s{cast})"
    received = ops.adapt_datetimefield_value(T0)
    from towngrid.sensing import partitions

    partitions.ensure_months([T0, T0 + timedelta(minutes=count // max(1, len(devices)) + 1)])
    elapsed = 0.0
    for first in range(0, count, batch):
        rows = [
            (
                pk,
                ops.adapt_datetimefield_value(t),
                received,
                mid,
                json.dumps(values, ensure_ascii=False),
            )
            for pk, _code, _type, mid, t, values in readings(
                devices, min(count, first + batch), first
            )
        ]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        elapsed += time.perf_counter() - started
    assert Observation.objects.count() == count
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {table}" if connection.vendor == "postgresql" else f"DELETE FROM {table}"
        )
    return elapsed


def run_ingest(devices, count: int, batch: int, progress: bool) -> dict:
    from django.db import reset_queries
    from tqdm import tqdm

    from towngrid.sensing.actions import ingest
    from towngrid.sensing.models import Alarm, Observation

    elapsed = 0.0
    totals = {"stored": 0, "duplicates": 0, "rejected": 0, "alarms_raised": 0, "alarms_cleared": 0}
    rss_first = rss_last = None
    last_window_start = max(0, count - WINDOW)
    bar = tqdm(total=count, unit="obs", disable=not progress, file=sys.stderr, mininterval=1)
    for first in range(0, count, batch):
        upto = min(count, first + batch)
        messages = [
            {"id": mid, "device": code, "time": t.isoformat(), "values": values}
            for _pk, code, _type, mid, t, values in readings(devices, upto, first)
        ]
        reset_queries()  # what the worker does between batches
        started = time.perf_counter()
        result = ingest(messages, transport="mqtt")
        elapsed += time.perf_counter() - started
        for key in totals:
            totals[key] += getattr(result, key)
        if rss_first is None and upto >= min(WINDOW, count):
            rss_first = rss_mb()
        if first <= last_window_start < upto or upto == count:
            rss_last = rss_mb()
        bar.update(upto - first)
    bar.close()
    assert totals["stored"] == count == Observation.objects.count(), totals
    return {
        "seconds": elapsed,
        **totals,
        "alarms": Alarm.objects.count(),
        "rss_first_mb": round(rss_first, 1),
        "rss_last_mb": round(rss_last, 1),
    }


def child(args) -> None:
    devices = setup(args.devices)
    from django.db import connection

    raw_seconds = run_raw(devices, args.count, args.batch)
    result = run_ingest(devices, args.count, args.batch, not args.no_progress)
    result.update(
        {
            "vendor": connection.vendor,
            "count": args.count,
            "raw_seconds": raw_seconds,
            "raw_rate": args.count / raw_seconds,
            "ingest_rate": args.count / result["seconds"],
        }
    )
    print("RESULT " + json.dumps(result))


# --- the parent: both databases ---------------------------------------------------------------------


def _run_child(args, env: dict) -> dict:
    # As in production: no DEBUG query log (it keeps the last 9,000 statements, which for bulk
    # inserts is hundreds of MB and would show as memory growth that production never has).
    env = {**env, "TOWNGRID_DEBUG": "0"}
    cmd = [
        sys.executable, __file__, "--child", "--count", str(args.count), "--batch", str(args.batch),
        "--devices", str(args.devices),
    ] + (["--no-progress"] if args.no_progress else [])  # fmt: skip
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({env.get('DATABASE_URL', 'sqlite')})")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def bench_sqlite(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="towngrid-bench-ingest-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["TOWNGRID_DATA_DIR"] = data_dir
        return _run_child(args, env)


def bench_postgresql(args) -> dict:
    import psycopg

    base = os.environ.get("DATABASE_URL") or DEFAULT_PG
    if not base.startswith("postgres"):
        base = DEFAULT_PG
    name = f"towngrid_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="towngrid-bench-ingest-") as data_dir:
            env = dict(os.environ)
            env["TOWNGRID_DATA_DIR"] = data_dir
            env["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name
            return _run_child(args, env)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(r: dict) -> None:
    ratio = r["ingest_rate"] / r["raw_rate"]
    print(f"\n== {r['vendor']}: {r['count']:,} observations ==")
    print(f"raw executemany  : {r['raw_rate']:>10,.0f} obs/s  ({r['raw_seconds']:.1f} s)")
    print(f"ingest()         : {r['ingest_rate']:>10,.0f} obs/s  ({r['seconds']:.1f} s)")
    print(
        f"ratio ingest/raw : {ratio:>10.2f}   (target ≥ 0.30: {'met' if ratio >= 0.3 else 'NOT met'})"
    )
    if r["vendor"] == "sqlite":
        met = "met" if r["ingest_rate"] >= 20_000 else "NOT met"
        print(f"per-process rate : target ≥ 20,000 obs/s: {met}")
    print(
        f"alarms raised {r['alarms_raised']:,}, cleared {r['alarms_cleared']:,} "
        f"({r['alarms']:,} alarm rows)"
    )
    growth = r["rss_last_mb"] - r["rss_first_mb"]
    print(
        f"RSS after the first {min(WINDOW, r['count']):,}: {r['rss_first_mb']:.1f} MB; "
        f"after the last: {r['rss_last_mb']:.1f} MB ({growth:+.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=1_000_000, help="observations (default 1,000,000)"
    )
    parser.add_argument(
        "--batch", type=int, default=2000, help="readings per ingest call (default 2000)"
    )
    parser.add_argument("--devices", type=int, default=1000, help="devices (default 1000)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    # Each database's figures as soon as its run ends (a long PostgreSQL run loses nothing).
    if args.only in (None, "sqlite"):
        report(bench_sqlite(args))
        sys.stdout.flush()
    if args.only in (None, "postgresql"):
        report(bench_postgresql(args))


if __name__ == "__main__":
    main()
