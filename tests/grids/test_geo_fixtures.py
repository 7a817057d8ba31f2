"""A tiny five-level grid of rectangles, shared by the geo tests.

The test database also holds the Beicai demo town (tests/conftest.py), so this town has its own
code (310117901, a made-up town in Songjiang) and lies 0.3° west of Beicai: the coordinates below
are written as if at Beicai and shifted by ``DX`` in ``rect`` and the points.

    town 310117901          121.50–121.60 E (−0.3°), 31.15–31.23 N
    ├ area …1  (west)       121.50–121.55
    │ └ 居委 …101           = area 1
    │   ├ micro …101001     south half (31.15–31.19)
    │   │ └ 楼组 …101001001 its west half (121.50–121.525)   → east half has no 楼组: 4-node path
    │   └ micro …101002     north half
    └ area …2  (east)       121.55–121.60
      └ 园区 …201           = area 2
        └ micro …201001     = the park
"""

from __future__ import annotations

import copy

from shapely.geometry import box, mapping

from towngrid.grids import index

TOWN = "310117901"
DX = -0.30


def rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    return mapping(box(x0 + DX, y0, x1 + DX, y1))


def feature(code, name, level, kind, parent, geometry) -> dict:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "code": code,
            "name": name,
            "level": level,
            "kind": kind,
            "parent_code": parent,
        },
    }


def tiny_features() -> list[dict]:
    return [
        feature(TOWN, "北蔡镇", 1, "town", None, rect(121.50, 31.15, 121.60, 31.23)),
        feature(TOWN + "1", "西片区", 2, "area", TOWN, rect(121.50, 31.15, 121.55, 31.23)),
        feature(TOWN + "2", "东片区", 2, "area", TOWN, rect(121.55, 31.15, 121.60, 31.23)),
        feature(
            TOWN + "101",
            "莲溪居委",
            3,
            "residential",
            TOWN + "1",
            rect(121.50, 31.15, 121.55, 31.23),
        ),
        feature(
            TOWN + "201", "张江园区", 3, "park", TOWN + "2", rect(121.55, 31.15, 121.60, 31.23)
        ),
        feature(
            TOWN + "101001",
            "莲溪一网格",
            4,
            "micro",
            TOWN + "101",
            rect(121.50, 31.15, 121.55, 31.19),
        ),
        feature(
            TOWN + "101002",
            "莲溪二网格",
            4,
            "micro",
            TOWN + "101",
            rect(121.50, 31.19, 121.55, 31.23),
        ),
        feature(
            TOWN + "201001",
            "园区网格",
            4,
            "micro",
            TOWN + "201",
            rect(121.55, 31.15, 121.60, 31.23),
        ),
        feature(
            TOWN + "101001001",
            "一楼组",
            5,
            "building_group",
            TOWN + "101001",
            rect(121.50, 31.15, 121.525, 31.19),
        ),
    ]


def tiny_fc() -> dict:
    return {"type": "FeatureCollection", "features": copy.deepcopy(tiny_features())}


# Points (lng, lat) inside the leaves.
IN_GROUP = (121.51 + DX, 31.16)  # 楼组 → five nodes
IN_MICRO_ONLY = (121.54 + DX, 31.16)  # micro …101001 outside its 楼组 → four nodes
IN_PARK = (121.58 + DX, 31.20)
OUTSIDE = (121.40 + DX, 31.30)  # between the tiny town and nothing


def reset_index() -> None:
    """The lookup index is per process: tests start and end without a stale one."""
    index.invalidate()


def build_tiny_grid():
    from towngrid.grids.actions import import_geojson

    result = import_geojson(tiny_fc())
    assert result.ok, result.errors
    return result
