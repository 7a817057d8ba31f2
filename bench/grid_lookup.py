"""Benchmark of point → grid lookup.

    .venv/bin/python bench/grid_lookup.py [--points N] [--repeat R] [--no-demo]

Two data sets, each timed for towngrid's ``GridIndex.lookup_many`` and for a bare shapely
``STRtree.query(points, predicate="intersects")`` on the same leaves and the same points, in
the same process:

(a) the Beicai demo town's leaves (楼组/队组 and 微网格), built into a temporary SQLite data
    directory by ``towngrid.demo.build.build_demo_town`` (skipped if the builder is missing);
(b) a synthetic city of 40,625 square cells (125 × 325, Shanghai's count of 万米单元网格) over
    Shanghai's extent, built directly as an index (no database).

What is timed, precisely:
- towngrid: from two float arrays (lng, lat) to one leaf number per point, duplicates on shared
  edges resolved, finer tier first. Nothing is precomputed per point.
- bare shapely: ``tree.query(points, predicate="intersects")`` on points built beforehand (not
  timed), returning raw (point, leaf) pairs, no dedupe. This is the bare query's best case; the
  same query including ``shapely.points`` construction is printed beside it.
Each figure is the best of ``--repeat`` runs after one warm-up run. Targets (issue 2):
≥ 1,000,000 points/s in batch, and ≥ 0.8 of bare shapely.

Memory for the 40,625 cells is measured in a fresh interpreter, as growth of the resident set
size (RSS, /proc/self/statm) around building (1) the shapely geometries, (2) towngrid's index over
them (prepared geometries, bucket arrays), (3) the optional STRtree. GEOS allocates outside Python's allocator, so tracemalloc
sees only the numpy/Python part; its figure is printed too, labelled. RSS growth is approximate
(the allocator may keep or reuse freed pages).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Shanghai's extent, roughly (WGS-84).
SH_WEST, SH_EAST, SH_SOUTH, SH_NORTH = 120.85, 122.20, 30.67, 31.88
CELLS_X, CELLS_Y = 125, 325  # 40,625 cells


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the peak, which only grows
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up: prepares geometries, fills caches
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(label: str, index, leaves: np.ndarray, lngs: np.ndarray, lats: np.ndarray, repeat: int):
    from towngrid.grids.index import GridIndex  # noqa: F401 (documents the type)

    n = len(lngs)
    tree = shapely.STRtree(leaves)
    shapely.prepare(leaves)
    points = shapely.points(lngs, lats)

    result = {}

    def ours():
        result["ours"] = index.lookup_many(lngs, lats)

    def ours_strtree():
        result["ours_strtree"] = index.lookup_many(lngs, lats, method="strtree")

    def bare():
        result["bare"] = tree.query(points, predicate="intersects")

    def bare_with_points():
        tree.query(shapely.points(lngs, lats), predicate="intersects")

    t_ours = best_time(ours, repeat)
    t_bare = best_time(bare, repeat)
    t_bare_pts = best_time(bare_with_points, repeat)
    t_ours_tree = best_time(ours_strtree, repeat)
    hits = int((result["ours"] >= 0).sum())
    bare_hit_points = len(np.unique(result["bare"][0]))
    agree = np.array_equal(result["ours"], result["ours_strtree"])
    print(f"\n== {label}: {index.size:,} leaves, {n:,} random points ==")
    print(f"  points inside a leaf: towngrid {hits:,}, bare shapely {bare_hit_points:,}")
    print(f"  bucket and STRtree paths of towngrid agree on every point: {agree}")
    rows = [
        ("towngrid lookup_many (buckets + intersects_xy)", t_ours),
        ("towngrid lookup_many(method='strtree')", t_ours_tree),
        ("bare shapely STRtree.query, points prebuilt", t_bare),
        ("bare shapely STRtree.query incl. shapely.points", t_bare_pts),
    ]
    for name, t in rows:
        print(f"  {name:<50} {t * 1000:8.1f} ms  {n / t:>12,.0f} points/s")
    ratio = t_bare / t_ours
    print(f"  ratio towngrid / bare (points prebuilt):   {ratio:.2f}")
    print(f"  ratio towngrid / bare (incl. points):      {t_bare_pts / t_ours:.2f}")
    target = n / t_ours >= 1_000_000 and ratio >= 0.8
    print(f"  targets ≥1,000,000 points/s and ≥0.8 of bare: {'met' if target else 'NOT met'}")
    return n / t_ours, ratio


def bench_demo(n: int, repeat: int, rng: np.random.Generator) -> None:
    try:
        from towngrid.demo.build import build_demo_town
    except ImportError as exc:
        print(f"\n(demo town skipped: the demo builder is not available: {exc})")
        return
    from django.core.management import call_command

    from towngrid.grids.index import GridIndex
    from towngrid.grids.models import GridNode

    print("building the demo town into a temporary database …", flush=True)
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    build_demo_town(progress=True)
    print(f"demo town built in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    index = GridIndex.from_db()
    print(f"index built from the database in {(time.perf_counter() - start) * 1000:.0f} ms")
    town = GridNode.objects.filter(level=1).order_by("code").first()
    x0, y0, x1, y1 = shapely.geometry.shape(town.boundary).bounds
    lngs = rng.uniform(x0, x1, n)
    lats = rng.uniform(y0, y1, n)
    leaves = np.concatenate([t.geoms for t in index.tiers])
    compare("Beicai demo town", index, leaves, lngs, lats, repeat)

    # One point at a time, as the API does it: latency per lookup (path included).
    from towngrid.grids import index as index_module

    index_module.lookup(float(lngs[0]), float(lats[0]))  # builds the process index
    m = 20_000
    start = time.perf_counter()
    for i in range(m):
        index_module.lookup(float(lngs[i]), float(lats[i]))
    per = (time.perf_counter() - start) / m
    print(f"  single-point lookup() with path: {per * 1e6:.1f} µs per call ({1 / per:,.0f}/s)")


def synthetic_cells() -> np.ndarray:
    xs = np.linspace(SH_WEST, SH_EAST, CELLS_X + 1)
    ys = np.linspace(SH_SOUTH, SH_NORTH, CELLS_Y + 1)
    x0, y0 = np.meshgrid(xs[:-1], ys[:-1])
    x1, y1 = np.meshgrid(xs[1:], ys[1:])
    return shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())


def memory_probe() -> None:
    """Run in a fresh interpreter (see ``measure_memory``): RSS growth while building the
    synthetic city's geometries, then its index, then the optional STRtree."""
    from towngrid.grids.index import GridIndex

    mib = 1024 * 1024
    gc.collect()
    rss0 = rss_bytes()
    cells = synthetic_cells()
    gc.collect()
    rss1 = rss_bytes()
    tracemalloc.start()
    index = GridIndex.from_geometries(cells)
    index.lookup_many(np.array([121.5]), np.array([31.2]))
    gc.collect()
    rss2 = rss_bytes()
    py_index = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    index.tiers[0].tree.query(shapely.points([121.5], [31.2]))  # GEOS builds the tree lazily
    gc.collect()
    rss3 = rss_bytes()
    tier = index.tiers[0]
    arrays = sum(
        a.nbytes
        for a in (
            tier.bucket_leaves,
            tier.bucket_starts,
            tier.minx,
            tier.miny,
            tier.maxx,
            tier.maxy,
        )
    )
    print(f"  cells: {len(cells):,}")
    print(f"  RSS growth, 40,625 shapely polygons:               {(rss1 - rss0) / mib:7.1f} MiB")
    print(f"  RSS growth, towngrid index (prepared + buckets):   {(rss2 - rss1) / mib:7.1f} MiB")
    print(f"    of which numpy bucket and bounds arrays (nbytes): {arrays / mib:6.1f} MiB")
    print(f"    tracemalloc (Python/numpy allocations only):      {py_index / mib:6.1f} MiB")
    print(f"  RSS growth, optional STRtree (method='strtree'):   {(rss3 - rss2) / mib:7.1f} MiB")
    print(f"  total for geometries + index:                      {(rss2 - rss0) / mib:7.1f} MiB")


def measure_memory() -> None:
    import subprocess

    print("\n== memory for the synthetic city (fresh interpreter, RSS growth) ==", flush=True)
    subprocess.run([sys.executable, __file__, "--memory-probe"], check=True, env=os.environ.copy())


def bench_synthetic(n: int, repeat: int, rng: np.random.Generator) -> None:
    from towngrid.grids.index import GridIndex

    start = time.perf_counter()
    cells = synthetic_cells()
    index = GridIndex.from_geometries(cells)
    print(
        f"\nsynthetic city: 40,625 cells and their index built in "
        f"{(time.perf_counter() - start) * 1000:.0f} ms"
    )
    margin = 0.02  # some points fall outside the city, as real input does
    lngs = rng.uniform(SH_WEST - margin, SH_EAST + margin, n)
    lats = rng.uniform(SH_SOUTH - margin, SH_NORTH + margin, n)
    compare("synthetic city, 40,625 cells", index, cells, lngs, lats, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo town")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
        import django

        django.setup()
        memory_probe()
        return

    data_dir = tempfile.mkdtemp(prefix="towngrid-bench-")
    os.environ["TOWNGRID_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    import django

    django.setup()
    print(
        f"towngrid grid lookup benchmark · shapely {shapely.__version__} · numpy {np.__version__}"
    )
    print(f"temporary data directory: {data_dir}")
    rng = np.random.default_rng(args.seed)
    if not args.no_demo:
        bench_demo(args.points, args.repeat, rng)
    bench_synthetic(args.points, args.repeat, rng)
    measure_memory()


if __name__ == "__main__":
    main()
