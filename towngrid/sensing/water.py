"""Water quality: the GB 3838-2002 surface-water class of a reading and its 黑臭 level.

Both are computed for every water-quality reading during ingestion and stored with it as the
derived metrics ``wq_class`` (1–6: Ⅰ…Ⅴ, 6 = 劣Ⅴ) and ``black_odour`` (0 none, 1 轻度黑臭, 2 重度黑臭),
so the ordinary threshold rules can alarm on them.

Metric codes (mg/L unless noted): ``do`` dissolved oxygen, ``codmn`` permanganate index, ``cod``,
``bod5``, ``nh3n`` ammonia nitrogen, ``tp`` total phosphorus, ``ph``; ``transparency`` (cm), ``orp``
(mV).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CLASS_NAMES = {1: "Ⅰ类", 2: "Ⅱ类", 3: "Ⅲ类", 4: "Ⅳ类", 5: "Ⅴ类", 6: "劣Ⅴ类"}
WORSE_THAN_V = 6

# GB 3838-2002 Table 1, classes Ⅰ…Ⅴ. Pollutants: the value must be ≤ the limit.
UPPER_LIMITS: dict[str, tuple[float, float, float, float, float]] = {
    "codmn": (2, 4, 6, 10, 15),
    "cod": (15, 15, 20, 30, 40),
    "bod5": (3, 3, 4, 6, 10),
    "nh3n": (0.15, 0.5, 1.0, 1.5, 2.0),
    "tp": (0.02, 0.1, 0.2, 0.3, 0.4),  # rivers
}
# Dissolved oxygen: the value must be ≥ the limit.
LOWER_LIMITS: dict[str, tuple[float, float, float, float, float]] = {
    "do": (7.5, 6, 5, 3, 2),
}
PH_RANGE = (6.0, 9.0)  # every class


def parameter_class(metric: str, value: float) -> int | None:
    """The class (1–6) one parameter's value meets, or None when GB 3838 does not class it."""
    if metric == "ph":
        return 1 if PH_RANGE[0] <= value <= PH_RANGE[1] else WORSE_THAN_V
    if metric in UPPER_LIMITS:
        for cls, limit in enumerate(UPPER_LIMITS[metric], start=1):
            if value <= limit:
                return cls
        return WORSE_THAN_V
    if metric in LOWER_LIMITS:
        for cls, limit in enumerate(LOWER_LIMITS[metric], start=1):
            if value >= limit:
                return cls
        return WORSE_THAN_V
    return None


def surface_water_class(values: Mapping[str, object]) -> int | None:
    """A sample's class is its worst parameter's class (pH only ever makes it 劣Ⅴ). None when the
    reading holds no classed parameter."""
    worst: int | None = None
    for metric, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        cls = parameter_class(metric, float(value))
        if cls is not None and (worst is None or cls > worst):
            worst = cls
    # pH alone says nothing about the class unless it is out of range.
    if worst == 1 and set(values) & (set(UPPER_LIMITS) | set(LOWER_LIMITS)) == set():
        return None
    return worst


# 城市黑臭水体整治工作指南 (2015), Table 1. Each indicator: (light test, heavy test). The boundary
# at the clean end is not 黑臭 (transparency 25 cm, DO 2.0 mg/L – the Ⅴ-class limit –, ORP 50 mV,
# NH3-N 8.0 mg/L); the boundary between the two levels is light (10 cm, 0.2 mg/L, −200 mV, 15).
NONE, LIGHT, HEAVY = 0, 1, 2
BLACK_ODOUR_NAMES = {NONE: "不黑臭", LIGHT: "轻度黑臭", HEAVY: "重度黑臭"}


def indicator_level(metric: str, value: float) -> int | None:
    """The 黑臭 level (0/1/2) one of the four indicators shows, or None for other metrics."""
    if metric == "transparency":  # cm
        return HEAVY if value < 10 else LIGHT if value < 25 else NONE
    if metric == "do":
        return HEAVY if value < 0.2 else LIGHT if value < 2.0 else NONE
    if metric == "orp":  # mV
        return HEAVY if value < -200 else LIGHT if value < 50 else NONE
    if metric == "nh3n":
        return HEAVY if value > 15 else LIGHT if value > 8.0 else NONE
    return None


INDICATORS = ("transparency", "do", "orp", "nh3n")


def indicator_levels(values: Mapping[str, object]) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in INDICATORS:
        value = values.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[metric] = indicator_level(metric, float(value))  # type: ignore[assignment]
    return out


def black_odour_level(values: Mapping[str, object]) -> int | None:
    """One reading's level. Any one indicator reaching a level is enough (the guide's point rule
    applied to a single sample: one indicator with 100 % of its data at 重度 makes the point 重度).
    None when the reading has none of the four indicators."""
    levels = indicator_levels(values)
    return max(levels.values()) if levels else None


def point_level(readings: Iterable[Mapping[str, object]]) -> int | None:
    """A monitoring point's level over a series of readings (the guide's rule): 重度 when one
    indicator has ≥ 60 % of its readings at 重度 or at least two indicators have ≥ 30 %; otherwise
    轻度 when any reading is 黑臭; otherwise none. None without any indicator reading."""
    heavy: dict[str, int] = {}
    total: dict[str, int] = {}
    any_black = False
    for values in readings:
        for metric, level in indicator_levels(values).items():
            total[metric] = total.get(metric, 0) + 1
            heavy[metric] = heavy.get(metric, 0) + (level == HEAVY)
            any_black = any_black or level > NONE
    if not total:
        return None
    shares = [heavy[m] / total[m] for m in total]
    if any(s >= 0.6 for s in shares) or sum(s >= 0.3 for s in shares) >= 2:
        return HEAVY
    return LIGHT if any_black else NONE


def derive(values: dict) -> dict:
    """Add ``wq_class`` and ``black_odour`` to a water-quality reading's values (in place)."""
    cls = surface_water_class(values)
    if cls is not None:
        values["wq_class"] = cls
    level = black_odour_level(values)
    if level is not None:
        values["black_odour"] = level
    return values
