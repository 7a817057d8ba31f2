"""Reads and aggregates of the sensing app: alarm counts per grid (and per grid level), device
lists, observation series downsampled into buckets, latest values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from .errors import SensingError
from .models import ACTIVE_STATUSES, Alarm, Device, Observation, Severity
from .validation import parse_time

MAX_BUCKETS = 2000
MAX_RANGE = timedelta(days=400)
MAX_SERIES_ROWS = 500_000
SEVERITY_KEYS = ("critical", "major", "minor", "warning")


def _empty_counts() -> dict[str, int]:
    return {"active": 0, **{k: 0 for k in SEVERITY_KEYS}}


def alarm_counts(grid_code_prefix: str) -> dict[str, int]:
    """Active alarms in a grid subtree: ``{"active", "critical", "major", "minor", "warning"}``
    (the cross-app contract; ``active`` also counts indeterminate ones)."""
    counts = _empty_counts()
    rows = (
        Alarm.objects.filter(
            grid_code__startswith=grid_code_prefix or "", status__in=ACTIVE_STATUSES
        )
        .values("severity")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts["active"] += row["n"]
        if row["severity"] in counts:
            counts[row["severity"]] += row["n"]
    return counts


def alarm_counts_by_child(grid_code_prefix: str, *, child_length: int) -> dict[str, dict[str, int]]:
    """Active alarm counts propagated up to grid level: ``{child code: counts}`` for the nodes
    whose code has ``child_length`` characters under the prefix (e.g. 12 = communities)."""
    rows = (
        Alarm.objects.filter(
            grid_code__startswith=grid_code_prefix or "", status__in=ACTIVE_STATUSES
        )
        .annotate(node=Substr("grid_code", 1, child_length))
        .values("node", "severity")
        .annotate(n=Count("id"))
    )
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = out.setdefault(row["node"], _empty_counts())
        counts["active"] += row["n"]
        if row["severity"] in counts:
            counts[row["severity"]] += row["n"]
    return out


def grid_alarm_table(grid_code_prefix: str) -> list[dict]:
    """One row per child grid of the node (with its name), sorted by code: for pages and the API."""
    from towngrid.grids.models import CODE_LENGTHS, GridNode

    node = GridNode.objects.filter(code=grid_code_prefix).first()
    if node is None:
        return []
    lengths = sorted(CODE_LENGTHS.values())
    deeper = [n for n in lengths if n > len(node.code)]
    if not deeper:
        return []
    counts = alarm_counts_by_child(node.code, child_length=deeper[0])
    children = GridNode.objects.filter(parent=node).order_by("code")
    return [
        {"code": c.code, "name": c.name, "level": c.level, **counts.get(c.code, _empty_counts())}
        for c in children
    ]


def filter_alarms(qs: QuerySet, params: Mapping[str, str]) -> QuerySet:
    status = params.get("status")
    if status:
        qs = qs.filter(status__in=[s for s in status.split(",") if s])
    active = params.get("active")
    if active in ("1", "true", "yes"):
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif active in ("0", "false", "no"):
        qs = qs.exclude(status__in=ACTIVE_STATUSES)
    for key, field in (("severity", "severity"), ("type", "alarm_type")):
        value = params.get(key)
        if value:
            qs = qs.filter(**{f"{field}__in": [v for v in value.split(",") if v]})
    if params.get("device"):
        qs = qs.filter(device__code=params["device"])
    if params.get("device_type"):
        qs = qs.filter(device__device_type__code=params["device_type"])
    if params.get("grid"):
        qs = qs.filter(grid_code__startswith=params["grid"])
    return qs


def filter_devices(qs: QuerySet, params: Mapping[str, str]) -> QuerySet:
    if params.get("type"):
        qs = qs.filter(device_type__code__in=params["type"].split(","))
    if params.get("state"):
        qs = qs.filter(state__in=params["state"].split(","))
    if params.get("grid"):
        qs = qs.filter(grid_code__startswith=params["grid"])
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(address__icontains=q))
    return qs


def device_state_counts(qs: QuerySet) -> dict[str, dict[str, int]]:
    """``{type code: {"online": n, "offline": n, "unknown": n, "total": n}}``."""
    out: dict[str, dict[str, int]] = {}
    for row in qs.values("device_type__code", "state").annotate(n=Count("id")):
        counts = out.setdefault(
            row["device_type__code"], {"online": 0, "offline": 0, "unknown": 0, "total": 0}
        )
        counts[row["state"]] = counts.get(row["state"], 0) + row["n"]
        counts["total"] += row["n"]
    return out


def _time_param(value: str | None, default: datetime, name: str) -> datetime:
    if not value:
        return default
    parsed = parse_time(value)
    if parsed is None:
        raise SensingError(
            "invalid", f"参数 {name} 不是有效的 ISO 8601 时间。", details={"field": name}
        )
    return parsed


def series(
    device: Device,
    *,
    metric: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    buckets: int | str | None = None,
) -> dict:
    """Readings of one device in [start, end), downsampled into at most ``buckets`` equal time
    buckets per metric: ``{"metrics": {metric: [{"t", "avg", "min", "max", "n"}]}}``. Numbers are
    averaged, booleans give the share of true, text the last value. Default: the last 24 hours,
    240 buckets; ``buckets=0`` returns the raw readings (at most 5,000)."""
    now = timezone.now()
    end_at = end if isinstance(end, datetime) else _time_param(end, now, "to")
    start_at = (
        start
        if isinstance(start, datetime)
        else _time_param(start, end_at - timedelta(days=1), "from")
    )
    if start_at >= end_at:
        raise SensingError("invalid", "起始时间必须早于结束时间。", details={"field": "from"})
    if end_at - start_at > MAX_RANGE:
        raise SensingError("invalid", "时间范围不能超过 400 天。", details={"field": "from"})
    try:
        n_buckets = 240 if buckets in (None, "") else int(buckets)
    except (TypeError, ValueError):
        raise SensingError(
            "invalid", "参数 buckets 必须是整数。", details={"field": "buckets"}
        ) from None
    if not 0 <= n_buckets <= MAX_BUCKETS:
        raise SensingError(
            "invalid", f"参数 buckets 须在 0–{MAX_BUCKETS} 之间。", details={"field": "buckets"}
        )
    metrics_def = device.device_type.metrics
    if metric and metric not in metrics_def:
        raise SensingError("invalid", f"设备类型没有指标 {metric}。", details={"field": "metric"})
    rows = Observation.objects.filter(
        device=device, observed_at__gte=start_at, observed_at__lt=end_at
    ).order_by("observed_at")
    base = {
        "device": device.code,
        "from": start_at.isoformat(),
        "to": end_at.isoformat(),
        "units": {k: v.get("unit", "") for k, v in metrics_def.items()},
        "names": {k: v.get("name", k) for k, v in metrics_def.items()},
    }
    if n_buckets == 0:
        raw = [
            {"t": t.isoformat(), "values": ({metric: v.get(metric)} if metric else v)}
            for t, v in rows.values_list("observed_at", "values")[:5000]
            if not metric or metric in v
        ]
        return {**base, "readings": raw}
    width = (end_at - start_at) / n_buckets
    width_s = width.total_seconds()
    acc: dict[str, dict[int, list]] = {}
    for t, values in rows.values_list("observed_at", "values")[:MAX_SERIES_ROWS].iterator():
        index = min(n_buckets - 1, int((t - start_at).total_seconds() // width_s))
        for name, value in values.items():
            if metric and name != metric:
                continue
            if isinstance(value, bool):
                value = 1.0 if value else 0.0
            elif not isinstance(value, int | float):
                slot = acc.setdefault(name, {}).setdefault(
                    index, [math.inf, -math.inf, 0.0, 0, None]
                )
                slot[4] = value
                continue
            slot = acc.setdefault(name, {}).setdefault(index, [math.inf, -math.inf, 0.0, 0, None])
            slot[0] = min(slot[0], value)
            slot[1] = max(slot[1], value)
            slot[2] += value
            slot[3] += 1
    out: dict[str, list] = {}
    for name, slots in acc.items():
        points = []
        for index in sorted(slots):
            low, high, total, n, last = slots[index]
            t = (start_at + width * index).isoformat()
            if n:
                points.append({"t": t, "avg": round(total / n, 4), "min": low, "max": high, "n": n})
            else:
                points.append({"t": t, "last": last})
        out[name] = points
    return {**base, "bucket_seconds": width_s, "metrics": out}


def latest_values(devices: QuerySet) -> dict[int, dict]:
    """``{device id: {"observed_at": ..., "values": {...}}}`` for the given devices."""
    from .models import LatestValue

    return {
        lv.device_id: {"observed_at": lv.observed_at, "values": lv.values}
        for lv in LatestValue.objects.filter(device__in=devices)
    }


def active_alarms(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=ACTIVE_STATUSES)


def severity_label(code: str) -> str:
    return dict(Severity.choices).get(code, code)


def recent_alarms(grid_code_prefix: str, limit: int = 12) -> list[dict]:
    """The latest active alarms in a grid subtree, newest first, as plain rows for the big
    screen's feed (the cross-app contract of reports.queries.live_alarms)."""
    rows = (
        Alarm.objects.filter(
            grid_code__startswith=grid_code_prefix or "", status__in=ACTIVE_STATUSES
        )
        .select_related("device", "grid")
        .order_by("-last_seen_at", "-id")[: max(0, int(limit))]
    )
    return [
        {
            "at": timezone.localtime(a.last_seen_at).strftime("%m-%d %H:%M"),
            "name": a.name or a.alarm_type,
            "device": a.device.name,
            "severity": a.severity,
            "severity_label": str(severity_label(a.severity)),
            "grid": a.grid.name if a.grid_id else a.grid_code,
        }
        for a in rows
    ]
