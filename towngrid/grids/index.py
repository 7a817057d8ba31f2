"""Point → grid lookup: an in-memory index over the leaves of the grid, one per process.

The leaves are the 楼组/队组 (level 5) where they exist and the 微网格 (level 4) everywhere: a
point is first matched against level 5, and points that no level-5 node covers fall back to level
4, so the answer is the five-node path where there is a fifth level and four nodes otherwise.
Paths are precomputed per leaf, so a lookup touches no database.

The index is rebuilt lazily when the grid changes: each process compares the database's
``GridRevision`` (revision number and timestamp) with the one it built from, at most once per
``REVISION_TTL`` seconds, and at once after an import in the same process (``invalidate``).

Batch lookups (``GridIndex.lookup_many``) do not create a GEOS point per input: building a
million shapely points costs more than the tree query itself. Instead each tier keeps a uniform
bucket grid over its leaves' bounding boxes (CSR arrays), candidates per point are gathered with
numpy, filtered by bounding box, and confirmed by ``shapely.intersects_xy`` against prepared
polygons. There is no Python loop per point. The shapely STRtree is kept as well (the documented
index of the design, used for ``method="strtree"``, and for the bench's comparison).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape

from .crs import to_wgs84
from .models import CODE_LENGTHS, GridNode, GridRevision, Level

log = logging.getLogger(__name__)

# Seconds between two checks of the database revision in one process.
REVISION_TTL = 1.0
# Buckets per leaf in the batch grid: 2–4 keeps candidates per point near one without a large
# table (measured: 2 buckets per leaf ≈ 2.4 M points/s on 40,625 cells).
BUCKETS_PER_LEAF = 2.0


class _Tier:
    """The leaves of one level: geometries, their STRtree, and the bucket grid for batches."""

    def __init__(self, geoms: np.ndarray):
        self.geoms = np.asarray(geoms, dtype=object)
        self.size = len(self.geoms)
        self._tree: shapely.STRtree | None = None
        if self.size == 0:
            return
        shapely.prepare(self.geoms)  # makes intersects_xy fast; harmless if already prepared
        bounds = shapely.bounds(self.geoms)
        self.minx, self.miny, self.maxx, self.maxy = (bounds[:, i].copy() for i in range(4))
        self._build_buckets()

    @property
    def tree(self) -> shapely.STRtree:
        """The shapely STRtree over the leaves, built on first use: batch and single lookups go
        through the bucket grid, so a web process need not pay for both."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.geoms)
        return self._tree

    def _build_buckets(self) -> None:
        x0, y0 = float(self.minx.min()), float(self.miny.min())
        x1, y1 = float(self.maxx.max()), float(self.maxy.max())
        width, height = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
        wanted = max(1, int(self.size * BUCKETS_PER_LEAF))
        side = np.sqrt(width * height / wanted)
        nx = int(min(max(1, np.ceil(width / side)), 4096))
        ny = int(min(max(1, np.ceil(height / side)), 4096))
        self.x0, self.y0, self.nx, self.ny = x0, y0, nx, ny
        self.dx, self.dy = width / nx, height / ny
        ix0 = self._clip_x(self.minx)
        ix1 = self._clip_x(self.maxx)
        iy0 = self._clip_y(self.miny)
        iy1 = self._clip_y(self.maxy)
        cols = ix1 - ix0 + 1
        counts = cols * (iy1 - iy0 + 1)
        leaf = np.repeat(np.arange(self.size, dtype=np.int64), counts)
        offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        bucket = (iy0[leaf] + offset // cols[leaf]) * nx + ix0[leaf] + offset % cols[leaf]
        order = np.argsort(bucket, kind="stable")  # stable: leaves stay in code order per bucket
        self.bucket_leaves = leaf[order].astype(np.int32)
        starts = np.bincount(bucket, minlength=nx * ny)
        self.bucket_starts = np.concatenate(([0], np.cumsum(starts))).astype(np.int64)

    def _clip_x(self, x: np.ndarray) -> np.ndarray:
        return np.clip(((x - self.x0) / self.dx).astype(np.int64), 0, self.nx - 1)

    def _clip_y(self, y: np.ndarray) -> np.ndarray:
        return np.clip(((y - self.y0) / self.dy).astype(np.int64), 0, self.ny - 1)

    def match(self, lngs: np.ndarray, lats: np.ndarray, which: np.ndarray) -> tuple:
        """For the points ``which`` (indices into lngs/lats), the (point, leaf) pairs whose leaf
        covers the point, at most one per point (the lowest leaf index: the first code)."""
        empty = (np.empty(0, np.int64), np.empty(0, np.int64))
        if self.size == 0 or which.size == 0:
            return empty
        x = lngs[which]
        y = lats[which]
        fx = (x - self.x0) / self.dx
        fy = (y - self.y0) / self.dy
        inside = (fx >= 0) & (fy >= 0) & (fx <= self.nx) & (fy <= self.ny)
        which = which[inside]
        if which.size == 0:
            return empty
        bx = np.minimum(fx[inside].astype(np.int64), self.nx - 1)
        by = np.minimum(fy[inside].astype(np.int64), self.ny - 1)
        bucket = by * self.nx + bx
        start = self.bucket_starts[bucket]
        count = self.bucket_starts[bucket + 1] - start
        point = np.repeat(which, count)
        offset = np.arange(point.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        leaf = self.bucket_leaves[np.repeat(start, count) + offset].astype(np.int64)
        px = lngs[point]
        py = lats[point]
        near = (
            (px >= self.minx[leaf])
            & (px <= self.maxx[leaf])
            & (py >= self.miny[leaf])
            & (py <= self.maxy[leaf])
        )
        point, leaf, px, py = point[near], leaf[near], px[near], py[near]
        hit = shapely.intersects_xy(self.geoms[leaf], px, py)
        return _first_per_point(point[hit], leaf[hit])

    def match_strtree(self, lngs: np.ndarray, lats: np.ndarray, which: np.ndarray) -> tuple:
        """The same answer through the STRtree (shapely.points + query + numpy dedupe)."""
        if self.size == 0 or which.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        points = shapely.points(lngs[which], lats[which])
        pos, leaf = self.tree.query(points, predicate="intersects")
        return _first_per_point(which[pos], leaf)


def _first_per_point(point: np.ndarray, leaf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one leaf per point (the lowest index) when a point lies on a shared boundary."""
    if point.size == 0:
        return point, leaf
    if np.any(point[1:] < point[:-1]) or np.any((point[1:] == point[:-1]) & (leaf[1:] < leaf[:-1])):
        order = np.lexsort((leaf, point))
        point, leaf = point[order], leaf[order]
    first = np.ones(point.size, dtype=bool)
    first[1:] = point[1:] != point[:-1]
    return point[first], leaf[first]


@dataclass(frozen=True)
class _Key:
    revision: int
    changed_at: object


class GridIndex:
    """Leaves in tiers (finest first); a point takes the first tier that covers it.

    Leaf numbers run across the tiers in order, so ``lookup_many`` returns one int per point:
    the leaf number, or -1 outside every leaf. ``paths[leaf]`` is the node path, when built from
    the database.
    """

    def __init__(
        self,
        tiers: Sequence[Sequence[shapely.Geometry] | np.ndarray],
        paths: Sequence[list[GridNode]] | None = None,
        key: _Key | None = None,
    ):
        self.tiers = [_Tier(np.asarray(t, dtype=object)) for t in tiers]
        self.offsets = np.cumsum([0, *[t.size for t in self.tiers]])
        self.size = int(self.offsets[-1])
        self.paths = list(paths) if paths is not None else None
        self.key = key

    @classmethod
    def from_geometries(cls, geoms: Sequence[shapely.Geometry] | np.ndarray) -> GridIndex:
        """An index over plain geometries (one tier, no paths): for benchmarks and tests."""
        return cls([geoms])

    @classmethod
    def from_db(cls) -> GridIndex:
        """Build from the stored grid: two tiers (楼组/队组, then 微网格) with paths."""
        key = current_key()
        nodes: dict[str, GridNode] = {}
        for node in GridNode.objects.only(
            "id", "code", "name", "level", "kind", "parent_id", "boundary"
        ).order_by("code"):
            nodes[node.code] = node
        tiers: list[list[shapely.Geometry]] = [[], []]
        tier_paths: list[list[list[GridNode]]] = [[], []]
        for node in nodes.values():
            if node.level not in (Level.GROUP, Level.MICRO):
                continue
            geom = _geometry_of(node)
            if geom is None:
                continue
            prefixes = [node.code[:n] for n in CODE_LENGTHS.values() if n <= len(node.code)]
            path = [nodes[p] for p in prefixes if p in nodes]
            tier = 0 if node.level == Level.GROUP else 1
            tiers[tier].append(geom)
            tier_paths[tier].append(path)
        for node in nodes.values():
            node.boundary = {}  # the index holds shapely geometries; do not keep JSON twice
        return cls(tiers, paths=tier_paths[0] + tier_paths[1], key=key)

    def lookup_many(
        self,
        lngs: np.ndarray,
        lats: np.ndarray,
        *,
        crs: str = "wgs84",
        method: str = "buckets",
    ) -> np.ndarray:
        """Leaf number per point, -1 where no leaf covers it. ``method="strtree"`` answers the
        same through shapely.points + STRtree.query (slower; kept for comparison)."""
        if crs != "wgs84":
            lngs, lats = to_wgs84(np.asarray(lngs), np.asarray(lats), crs)
        lngs = np.ascontiguousarray(lngs, dtype=float).ravel()
        lats = np.ascontiguousarray(lats, dtype=float).ravel()
        result = np.full(lngs.shape[0], -1, dtype=np.int64)
        pending = np.arange(lngs.shape[0], dtype=np.int64)
        for tier, offset in zip(self.tiers, self.offsets[:-1], strict=False):
            if pending.size == 0:
                break
            if method == "strtree":
                point, leaf = tier.match_strtree(lngs, lats, pending)
            else:
                point, leaf = tier.match(lngs, lats, pending)
            result[point] = leaf + offset
            if len(self.tiers) > 1:
                pending = pending[result[pending] < 0]
        return result

    def lookup_one(self, lng: float, lat: float) -> int:
        return int(self.lookup_many(np.array([lng]), np.array([lat]))[0])

    def path_at(self, lng: float, lat: float) -> list[GridNode] | None:
        leaf = self.lookup_one(lng, lat)
        if leaf < 0 or self.paths is None:
            return None
        return self.paths[leaf]


def _geometry_of(node: GridNode) -> shapely.Geometry | None:
    if not node.boundary:
        return None
    try:
        geom = shape(node.boundary)
    except Exception:
        log.warning("grid %s has an unreadable boundary; left out of the lookup index", node.code)
        return None
    if geom.is_empty:
        return None
    if not shapely.is_valid(geom):
        # Imports validate boundaries, but rows written otherwise may not be: repair rather than
        # let one bad polygon break every lookup.
        log.warning("grid %s has an invalid boundary; repaired for the lookup index", node.code)
        geom = shapely.make_valid(geom)
    return geom


def current_key() -> _Key:
    row = GridRevision.objects.filter(pk=1).values_list("revision", "changed_at").first()
    return _Key(*row) if row else _Key(0, None)


_lock = threading.Lock()
_index: GridIndex | None = None
_checked_at = float("-inf")


def get_index() -> GridIndex:
    """This process's index, rebuilt if the grid revision moved since it was built."""
    global _index, _checked_at
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < REVISION_TTL:
        return index
    with _lock:
        if _index is not None and time.monotonic() - _checked_at < REVISION_TTL:
            return _index
        key = current_key()
        if _index is None or _index.key != key:
            _index = GridIndex.from_db()
        _checked_at = time.monotonic()
        return _index


def invalidate() -> None:
    """Drop this process's index; the next lookup rebuilds it (called after grid writes)."""
    global _index, _checked_at
    with _lock:
        _index = None
        _checked_at = float("-inf")


def lookup(lng: float, lat: float, crs: str = "wgs84") -> list[GridNode] | None:
    """The path town → … → leaf for a point, or None outside every grid.

    Raises ValueError (Chinese message) for an unknown ``crs``.
    """
    x, y = to_wgs84(lng, lat, crs)
    return get_index().path_at(x, y)
