"""Chinese map coordinate systems: WGS-84 (GPS, = CGCS2000 at our accuracy), GCJ-02 (AMap,
Tencent) and BD-09 (Baidu).

The formulas are the published ones (as in the ``coordtransform`` / ``eviltransform`` family):
GCJ-02 adds a deterministic offset to WGS-84 inside China; BD-09 is a further polar perturbation
of GCJ-02. GCJ-02 → WGS-84 has no closed form, so it is inverted by fixed-point iteration until
the residual is below 1e-9° (≈ 0.1 mm), well inside the 1e-7° we promise.

Every function takes scalars or numpy arrays (broadcast together) and returns the same kind, so
a million points convert in one call without a Python loop.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalize_crs",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# Krasovsky 1940 ellipsoid, which the GCJ-02 algorithm uses.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# The names we accept, all lower case; CGCS2000 differs from WGS-84 by centimetres, so it maps to
# the same conversion (DESIGN.md: coordinates are stored as WGS-84/CGCS2000).
CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")
_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "cgcs2000": "wgs84",
    "epsg:4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
}

_GCJ_TOLERANCE = 1e-9
_GCJ_MAX_ITERATIONS = 30


def _wrap(value: np.ndarray, scalar: bool):
    return float(value) if scalar else value


def _is_scalar(*values) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def out_of_china(lng, lat):
    """True where GCJ-02 applies no offset (the published rough bounding box of China)."""
    lng = np.asarray(lng, dtype=float)
    lat = np.asarray(lat, dtype=float)
    result = ~((lng > 73.66) & (lng < 135.05) & (lat > 3.86) & (lat < 53.55))
    return bool(result) if result.ndim == 0 else result


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlng, dlat) at a WGS-84 point; zero outside China."""
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = ~((lng > 73.66) & (lng < 135.05) & (lat > 3.86) & (lat < 53.55))
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lng, lat):
    scalar = _is_scalar(lng, lat)
    x, y = np.broadcast_arrays(np.asarray(lng, dtype=float), np.asarray(lat, dtype=float))
    dlng, dlat = _gcj_offset(x, y)
    return _wrap(x + dlng, scalar), _wrap(y + dlat, scalar)


def gcj02_to_wgs84(lng, lat):
    """Exact inverse by iteration: find w with wgs84_to_gcj02(w) = g. The offset varies slowly,
    so each step gains several digits; 3–5 iterations reach 1e-9°."""
    scalar = _is_scalar(lng, lat)
    gx, gy = np.broadcast_arrays(np.asarray(lng, dtype=float), np.asarray(lat, dtype=float))
    dlng, dlat = _gcj_offset(gx, gy)
    wx, wy = gx - dlng, gy - dlat
    for _ in range(_GCJ_MAX_ITERATIONS):
        dlng, dlat = _gcj_offset(wx, wy)
        ex = wx + dlng - gx
        ey = wy + dlat - gy
        wx = wx - ex
        wy = wy - ey
        if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < _GCJ_TOLERANCE:
            break
    return _wrap(wx, scalar), _wrap(wy, scalar)


def gcj02_to_bd09(lng, lat):
    scalar = _is_scalar(lng, lat)
    x, y = np.broadcast_arrays(np.asarray(lng, dtype=float), np.asarray(lat, dtype=float))
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _wrap(z * np.cos(theta) + 0.0065, scalar), _wrap(z * np.sin(theta) + 0.006, scalar)


def _bd09_to_gcj02_formula(bx: np.ndarray, by: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lng, lat):
    """The published closed form is only an approximate inverse (errors up to ~3e-7°), so it
    is the starting point of the same fixed-point refinement as gcj02_to_wgs84."""
    scalar = _is_scalar(lng, lat)
    bx, by = np.broadcast_arrays(np.asarray(lng, dtype=float), np.asarray(lat, dtype=float))
    gx, gy = _bd09_to_gcj02_formula(bx, by)
    for _ in range(_GCJ_MAX_ITERATIONS):
        cx, cy = gcj02_to_bd09(gx, gy)
        ex, ey = np.asarray(cx) - bx, np.asarray(cy) - by
        gx, gy = gx - ex, gy - ey
        if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < _GCJ_TOLERANCE:
            break
    return _wrap(gx, scalar), _wrap(gy, scalar)


def wgs84_to_bd09(lng, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def normalize_crs(crs: str | None) -> str:
    """The canonical name (wgs84, gcj02, bd09) for a user-supplied CRS name, case-insensitive.

    Raises ValueError with a Chinese message, since the text reaches API clients and the CLI.
    """
    key = (crs or "wgs84").strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(
            f"不支持的坐标系“{crs}”，可选：wgs84、cgcs2000、gcj02（高德、腾讯）、bd09（百度）。"
        ) from None


def to_wgs84(lng, lat, crs: str = "wgs84"):
    """Convert from ``crs`` to WGS-84. Scalars in, scalars out; arrays in, arrays out."""
    name = normalize_crs(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lng, lat)
    if name == "bd09":
        return bd09_to_wgs84(lng, lat)
    if _is_scalar(lng, lat):
        return float(lng), float(lat)
    x, y = np.broadcast_arrays(np.asarray(lng, dtype=float), np.asarray(lat, dtype=float))
    return x, y
