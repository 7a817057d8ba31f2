"""Benchmark of the registry: import 100,000 house rows from Excel, and recompute the colour of
100,000 houses, each as a rate and as a ratio against raw inserts measured in the same process.

    .venv/bin/python bench/registry.py [--rows N] [--data-dir DIR] [--keep]

Builds the Beicai demo grid into a fresh SQLite data directory (temporary unless ``--data-dir``;
PostgreSQL when ``DATABASE_URL`` is set), draws N points inside the micro-grids, writes a clean
house workbook of N rows (not timed), and then measures:

1. **raw** — the baseline: the same N house rows, values precomputed (grid, group, address),
   written with one ``executemany`` INSERT in one transaction (then deleted). The floor for any
   bulk write of these rows.
2. **dry run** — ``excel.run_import(..., dry_run=True)``: read the workbook, parse and check
   every cell, locate every point through the grid index, check duplicates in the file and in
   the database. Nothing written.
3. **import** — ``excel.run_import(...)``: the dry run's work, then the all-or-nothing write
   (one transaction, reserved ids, executemany), one audit event, then the colour engine's bulk
   recompute of the new houses (``codes.colours.recompute_many``) when it exists.
4. **colours** — ``recompute_many`` over the N imported houses again, on its own.

Each line prints rows/s and the ratio to the raw insert rate.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(data_dir: str | None) -> str:
    import django

    path = data_dir or tempfile.mkdtemp(prefix="towngrid-registry-bench-")
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


def house_rows(n: int, seed: int = 11) -> list[dict]:
    """N clean house rows (by template header) at points inside the micro-grids."""
    import numpy as np
    import shapely
    from shapely.geometry import shape

    from towngrid.grids.models import GridNode, Level

    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    micros = [
        shape(g.boundary).buffer(-0.00005)
        for g in GridNode.objects.filter(level=Level.MICRO).exclude(boundary={}).order_by("code")
    ]
    per = -(-n // len(micros))
    lngs: list[float] = []
    lats: list[float] = []
    for poly in micros:
        shapely.prepare(poly)
        x0, y0, x1, y1 = poly.bounds
        got = 0
        while got < per:
            x = nprng.uniform(x0, x1, per * 2)
            y = nprng.uniform(y0, y1, per * 2)
            inside = shapely.contains_xy(poly, x, y)
            take = min(per - got, int(inside.sum()))
            lngs.extend(x[inside][:take].tolist())
            lats.extend(y[inside][:take].tolist())
            got += take
    types = ["商品房", "售后公房", "动迁安置房", "农村自建房"]
    uses = ["自住", "自住", "自住", "出租", "空置"]
    rows = []
    for i in range(n):
        rows.append(
            {
                "路/街/村": f"测试{i // 20000}路",
                "弄": str(i // 200 % 100 + 1),
                "号": str(i // 20 % 10 + 1),
                "室": f"{i % 20 + 101}",
                "房屋类型": types[i % 4],
                "建筑面积(m²)": rng.randint(35, 140),
                "原始设计房间数": rng.randint(1, 3),
                "使用情况": uses[i % 5],
                "实住人数": rng.randint(0, 5),
                "产权人姓名": "张建国",
                "产权人电话": f"139{i:08d}",
                "经度": round(lngs[i], 7),
                "纬度": round(lats[i], 7),
            }
        )
    return rows


class Bar:
    """The jobs' progress interface over tqdm."""

    def __init__(self, label: str):
        from tqdm import tqdm

        self.bar = tqdm(total=0, desc=label, unit="行", mininterval=1.0, file=sys.stderr)

    def set_total(self, total: int) -> None:
        self.bar.reset(total=total)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def say(self, message: str) -> None:
        self.bar.set_postfix_str(message)

    def close(self) -> None:
        self.bar.close()


def raw_insert(checked) -> float:
    """Seconds for the baseline: the checked rows' values straight into the table."""
    from django.db import connection, transaction

    from towngrid.registry.excel import build_objects
    from towngrid.registry.models import House

    # Full model instances with every default, values prepared before the clock starts.
    objs = [
        House(**{k: v for k, v in o.__dict__.items() if not k.startswith("_")})
        for o in build_objects(checked.rtype, checked.rows)
    ]
    meta = House._meta
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    values = [[f.get_db_prep_save(f.pre_save(o, True), connection) for f in fields] for o in objs]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            cursor.executemany(sql, values[start : start + 5000])
    seconds = time.perf_counter() - started
    House.objects.filter(road__startswith="测试").delete()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data-dir", help="use this data directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args()
    os.environ.setdefault("TOWNGRID_DEBUG", "0")

    print("准备：演示镇网格 …", file=sys.stderr)
    path = setup(args.data_dir)
    try:
        from django.db import connection

        from towngrid.registry import excel
        from towngrid.registry.models import House

        n = args.rows
        House.objects.filter(road__startswith="测试").delete()
        started = time.perf_counter()
        rows = house_rows(n)
        print(f"生成行：{time.perf_counter() - started:.1f} 秒", file=sys.stderr)
        book = Path(path) / "bench-houses.xlsx"
        started = time.perf_counter()
        excel.write_rows_workbook("house", rows, book)
        t_write = time.perf_counter() - started
        print(f"工作簿：{n:,} 行，生成 {t_write:.1f} 秒（不计入）", file=sys.stderr)

        started = time.perf_counter()
        checked = excel.check_workbook("house", book)
        print(f"校验（预热）：{time.perf_counter() - started:.1f} 秒", file=sys.stderr)
        assert checked.report.ok, checked.report.errors[:5]
        t_raw = raw_insert(checked)

        bar = Bar("试导入")
        started = time.perf_counter()
        report = excel.run_import("house", book, dry_run=True, progress=bar)
        t_dry = time.perf_counter() - started
        bar.close()
        assert report.ok, report.errors[:5]

        bar = Bar("导入")
        started = time.perf_counter()
        report = excel.run_import("house", book, progress=bar)
        t_import = time.perf_counter() - started
        bar.close()
        assert report.committed and report.created == n, report.as_dict()["errors"][:5]

        t_colour = None
        try:
            from towngrid.codes.colours import recompute_many
        except ImportError:
            recompute_many = None
        if recompute_many is not None:
            qs = House.objects.filter(road__startswith="测试")
            bar = Bar("颜色重算")
            bar.set_total(n)
            started = time.perf_counter()
            recompute_many(qs, progress=bar.advance)
            t_colour = time.perf_counter() - started
            bar.close()

        raw_rate = n / t_raw
        print(f"数据库：{connection.vendor}，{n:,} 行房屋")
        print(f"raw executemany insert (baseline) : {raw_rate:>10,.0f} rows/s   1.00")
        for label, seconds in [
            ("dry run (read + check)           ", t_dry),
            ("import (check + write + colours) ", t_import),
            ("colour recompute (recompute_many)", t_colour),
        ]:
            if seconds is None:
                print(f"{label} :     (towngrid.codes.colours.recompute_many missing)")
                continue
            rate = n / seconds
            print(f"{label} : {rate:>10,.0f} rows/s   {rate / raw_rate:.2f}  ({seconds:.1f} s)")
        House.objects.filter(road__startswith="测试").delete()
    finally:
        if not args.data_dir and not args.keep:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
