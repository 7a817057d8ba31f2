"""Read models of the grid: node and staff counts per level, counts for one grid's page.

Staff are counted as people, not as duties: a person holding several micro-grids (or several
posts in one) counts once per post. Only active duties count: started (or no start date), not
ended (an ``ended_on`` of today means the duty ended today), held by active staff.

Each function runs a handful of aggregate queries whatever the size of the subtree.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import DutyAssignment, GridNode, Kind, Level, Post

POSTS = [p.value for p in Post]

# 居村 and 园区楼宇 are reported apart (the report: 311 micro-grids in 居村 plus 6 in 园区楼宇).
COMMUNITY_GROUPS = {
    Kind.RESIDENTIAL.value: "居村",
    Kind.VILLAGE.value: "居村",
    Kind.PARK.value: "园区楼宇",
    Kind.BUILDING.value: "园区楼宇",
}


def active_duties(root_code: str | None = None) -> QuerySet[DutyAssignment]:
    today = timezone.localdate()
    qs = DutyAssignment.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=today),
        Q(started_on__isnull=True) | Q(started_on__lte=today),
        staff__active=True,
    )
    if root_code:
        qs = qs.filter(grid__code__startswith=root_code)
    return qs


def _staff_by_post(duties: QuerySet[DutyAssignment]) -> dict[str, int]:
    counts = dict.fromkeys(POSTS, 0)
    for post, n in duties.values_list("post").annotate(n=Count("staff", distinct=True)).order_by():
        counts[post] = n
    return counts


def grid_stats(root_code: str | None = None) -> dict[str, Any]:
    """Per level of the subtree under ``root_code`` (the whole grid when None): node count and
    distinct staff per post on duty in nodes of that level, plus totals for the subtree, and
    for the micro-grids the split between 居村 and 园区楼宇."""
    nodes = GridNode.objects.all()
    if root_code:
        nodes = nodes.filter(code__startswith=root_code)
    node_counts = dict(nodes.values_list("level").annotate(n=Count("id")).order_by())

    duties = active_duties(root_code)
    by_level: dict[int, dict[str, int]] = {}
    rows = (
        duties.values_list("grid__level", "post")
        .annotate(n=Count("staff", distinct=True))
        .order_by()
    )
    for level, post, n in rows:
        by_level.setdefault(level, dict.fromkeys(POSTS, 0))[post] = n

    micro_split: dict[str, int] = {}
    split_rows = (
        nodes.filter(level=Level.MICRO)
        .values_list("parent__kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for kind, n in split_rows:
        label = COMMUNITY_GROUPS.get(kind or "", "其他")
        micro_split[label] = micro_split.get(label, 0) + n

    levels = []
    for level in Level:
        row: dict[str, Any] = {
            "level": level.value,
            "label": str(level.label),
            "nodes": node_counts.get(level.value, 0),
            "staff": by_level.get(level.value, dict.fromkeys(POSTS, 0)),
        }
        if level == Level.MICRO:
            row["by_community_kind"] = micro_split
        levels.append(row)
    total_staff = duties.values("staff").distinct().count()
    return {
        "root": root_code,
        "levels": levels,
        "staff": _staff_by_post(duties),
        "staff_people": total_staff,
    }


def node_counts(node: GridNode) -> dict[str, Any]:
    """Counts for one grid's page: children, micro-grids in the subtree (itself included when it
    is one), and distinct staff per post in the subtree."""
    subtree = GridNode.objects.filter(code__startswith=node.code)
    agg = subtree.aggregate(
        children=Count("id", filter=Q(parent_id=node.pk)),
        micro_grids=Count("id", filter=Q(level=Level.MICRO)),
        groups=Count("id", filter=Q(level=Level.GROUP)),
    )
    return {**agg, "staff": _staff_by_post(active_duties(node.code))}
