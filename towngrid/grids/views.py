"""Pages of the grid: the map with its tree, and one page per grid node.

Every query over a scoped model goes through ``accounts.access.visible_to`` (directly or through
``ScopedQuerysetMixin``), so a user sees only the subtree of the grid that is theirs.
"""

from collections import Counter, defaultdict

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView

from towngrid.accounts.access import has_capability, scope_kind_of, visible_to
from towngrid.accounts.models import ScopeKind
from towngrid.core.models import AuditEvent
from towngrid.core.views import ScopedQuerysetMixin

from . import queries
from .models import CODE_LENGTHS, GridNode, Level, Post

# The order in which posts are listed everywhere.
POST_ORDER = [Post.LEADER, Post.FULL_TIME, Post.PART_TIME]
# Levels drawn on the map and listed in the tree; building groups appear on their grid's page.
# grids.queries splits micro-grids by the kind of their community under these keys.
SPLIT_LABELS = {"居村": _("居村"), "园区楼宇": _("园区楼宇"), "其他": _("其他")}
MAP_LEVELS = [Level.TOWN, Level.AREA, Level.COMMUNITY, Level.MICRO]


def visible_nodes(user):
    return visible_to(user, GridNode.objects.all())


def scope_roots(user) -> list[GridNode]:
    """The top nodes of what ``user`` may see: their scope node, or the town(s)."""
    nodes = visible_nodes(user)
    first = nodes.order_by("level").values_list("level", flat=True).first()
    if first is None:
        return []
    return list(nodes.filter(level=first).order_by("code"))


def geometry_of(boundary) -> dict | None:
    """The GeoJSON geometry held in a boundary field (a geometry or a Feature), or None."""
    if not boundary:
        return None
    if boundary.get("type") == "Feature":
        return boundary.get("geometry")
    if boundary.get("type") == "FeatureCollection":
        features = boundary.get("features") or []
        return features[0].get("geometry") if features else None
    return boundary


def _rounded(coords, digits: int = 6):
    """Coordinates rounded to 6 decimals (about 0.1 m): a third of the bytes on the page."""
    if coords and isinstance(coords[0], (int, float)):
        return [round(c, digits) for c in coords]
    return [_rounded(c, digits) for c in coords]


def feature_collection(rows) -> dict:
    features = []
    for row in rows:
        geometry = geometry_of(row["boundary"])
        if not geometry:
            continue
        if "coordinates" in geometry:
            geometry = {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])}
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "code": row["code"],
                    "name": row["name"],
                    "level": row["level"],
                    "kind": row["kind"],
                    "parent_code": row["parent__code"],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


FEATURE_FIELDS = ("code", "name", "level", "kind", "parent__code", "boundary")


def _detail_url_template() -> str:
    return reverse("grids:detail", args=["__CODE__"])


def post_rows(counts: dict[str, int]) -> list[dict]:
    return [
        {"post": post, "label": Post(post).label, "count": counts.get(post, 0)}
        for post in POST_ORDER
    ]


def active_duties(user):
    """Duties on duty today (grids.queries' definition), limited to the user's scope."""
    return visible_to(user, queries.active_duties())


@login_required
def grid_map(request):
    user = request.user
    rows = list(
        visible_nodes(user)
        .filter(level__in=MAP_LEVELS)
        .order_by("code")
        .values("id", "code", "name", "level", "kind", "parent_id")
    )
    # Micro-grids below every node, counted by code prefix (a subtree is a code prefix).
    micro_below: Counter[str] = Counter()
    for r in rows:
        if r["level"] == Level.MICRO:
            micro_below.update({r["code"][:n] for n in CODE_LENGTHS.values() if n < len(r["code"])})
    by_id = {r["id"]: r for r in rows}
    children: dict[int | None, list[dict]] = defaultdict(list)
    for r in rows:
        r["children"] = children[r["id"]]
        r["micro_count"] = micro_below[r["code"]]
        r["level_label"] = Level(r["level"]).label
        parent = r["parent_id"] if r["parent_id"] in by_id else None
        children[parent].append(r)
    roots = children[None]
    # Nodes of the map: micro-grids filled, the levels above drawn as outlines.
    geo = feature_collection(
        visible_nodes(user)
        .filter(level__in=MAP_LEVELS)
        .order_by("level", "code")
        .values(*FEATURE_FIELDS)
    )
    return render(
        request,
        "grids/map.html",
        {
            "roots": roots,
            "node_count": len(rows),
            "micro_count": sum(1 for r in rows if r["level"] == Level.MICRO),
            "geojson": geo,
            "detail_url_template": _detail_url_template(),
            "level_labels": {str(level): str(Level(level).label) for level in Level.values},
        },
    )


class GridDetailView(ScopedQuerysetMixin, DetailView):
    model = GridNode
    slug_field = "code"
    slug_url_kwarg = "code"
    template_name = "grids/detail.html"
    context_object_name = "node"

    def get_queryset(self):
        return super().get_queryset().select_related("parent")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        node: GridNode = self.object
        visible_codes = set(
            visible_nodes(user)
            .filter(code__in=[a.code for a in node.ancestors()])
            .values_list("code", flat=True)
        )
        ctx["breadcrumb"] = [
            {"node": a, "linked": a.code in visible_codes} for a in node.ancestors()
        ]
        ctx["level_label"] = Level(node.level).label
        ctx["area_km2"] = node.area_m2 / 1_000_000 if node.area_m2 is not None else None

        # Children with their micro-grid and staff counts.
        children = list(visible_nodes(user).filter(parent=node).order_by("code"))
        duties = active_duties(user).filter(grid__code__startswith=node.code)
        micro_codes = list(
            visible_nodes(user)
            .filter(code__startswith=node.code, level=Level.MICRO)
            .values_list("code", flat=True)
        )
        duty_rows = list(duties.values_list("grid__code", "post", "staff_id", "staff__name"))
        child_rows = []
        for child in children:
            staff_by_post: dict[str, set[int]] = defaultdict(set)
            leaders: list[str] = []
            for code, post, staff_id, staff_name in duty_rows:
                if code.startswith(child.code):
                    staff_by_post[post].add(staff_id)
                    if child.level == Level.MICRO and post == Post.LEADER:
                        leaders.append(staff_name)
            child_rows.append(
                {
                    "node": child,
                    "micro_count": sum(1 for c in micro_codes if c.startswith(child.code)),
                    "posts": [len(staff_by_post[p]) for p in POST_ORDER],
                    "leaders": leaders,
                }
            )
        ctx["children"] = child_rows
        ctx["child_level_label"] = Level(node.level + 1).label if node.level < Level.GROUP else ""
        ctx["micro_count"] = len(micro_codes)
        ctx["post_labels"] = [Post(p).label for p in POST_ORDER]

        # Staff: the people on duty for a micro-grid, counts per post above it.
        if node.level == Level.MICRO:
            order = {p: i for i, p in enumerate(POST_ORDER)}
            staff = sorted(
                duties.filter(grid=node).select_related("staff"),
                key=lambda d: (order.get(d.post, 99), d.staff.name),
            )
            ctx["duties"] = staff
        elif node.level == Level.GROUP and node.parent is not None:
            ctx["duties"] = sorted(
                active_duties(user).filter(grid=node.parent).select_related("staff"),
                key=lambda d: (
                    POST_ORDER.index(d.post) if d.post in POST_ORDER else 99,
                    d.staff.name,
                ),
            )
            ctx["duties_from_parent"] = True
        else:
            counts = queries.node_counts(node)
            ctx["post_counts"] = post_rows(counts["staff"])
            ctx["staff_total"] = len({row[2] for row in duty_rows})

        # The map: this node filled, its children outlined.
        ctx["geojson"] = feature_collection(
            visible_nodes(user)
            .filter(pk__in=[node.pk, *[c.pk for c in children]])
            .order_by("level", "code")
            .values(*FEATURE_FIELDS)
        )
        ctx["detail_url_template"] = _detail_url_template()

        # Audit trail of the node: for auditors and town-wide roles only.
        ctx["can_view_audit"] = (
            has_capability(user, "audit.view") or scope_kind_of(user) == ScopeKind.TOWN
        )
        if ctx["can_view_audit"]:
            ctx["audit_events"] = list(
                AuditEvent.objects.for_object(node).select_related("actor")[:20]
            )
        return ctx


def level_counts(root: GridNode, user) -> dict:
    """Nodes per level below ``root`` and the staff on duty in its subtree, for the home page.
    ``root`` is in the user's scope (it comes from ``scope_roots``), so is its whole subtree."""
    stats = queries.grid_stats(root.code)
    levels = [
        {
            "level": row["level"],
            "label": Level(row["level"]).label,
            "count": row["nodes"],
            "split": [
                {"label": SPLIT_LABELS.get(k, k), "count": n}
                for k, n in sorted(
                    (row.get("by_community_kind") or {}).items(), key=lambda kv: -kv[1]
                )
                if len(row.get("by_community_kind") or {}) > 1
            ],
        }
        for row in stats["levels"]
        if row["level"] > root.level and row["nodes"]
    ]
    return {"levels": levels, "posts": post_rows(stats["staff"]), "people": stats["staff_people"]}


def children_with_counts(root: GridNode, user) -> list[dict]:
    """The children of ``root`` in the user's scope, each with its micro-grid count."""
    children = list(visible_nodes(user).filter(parent=root).order_by("code"))
    micro = Counter()
    if root.level < Level.COMMUNITY:
        for code in (
            visible_nodes(user)
            .filter(code__startswith=root.code, level=Level.MICRO)
            .values_list("code", flat=True)
        ):
            micro[code[: CODE_LENGTHS[Level(root.level + 1)]]] += 1
    elif root.level == Level.COMMUNITY:
        micro.update({c.code: 1 for c in children})
    return [{"node": c, "micro_count": micro.get(c.code, 0)} for c in children]
