"""Reads of the colour engine: the distribution of colours in a grid subtree (the cross-app
``colour_distribution``, re-exported by ``codes.queries``), colour lists with filters (the
enterprise colour list, 重点企业颜色清单) and an object's colour history."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from .colour_models import COLOUR_RANK, Colour, ColourChange, ColourState

COLOURS = [c.value for c in Colour]


def _kind(model: str | None) -> str | None:
    """``model`` as a colour kind: "house", "registry.house", "House" or "enterprise" → the
    ``colour_kind`` of that registry model (None: every kind)."""
    if not model:
        return None
    name = model.split(".")[-1].lower()
    from .objects import coded_models

    for candidate in coded_models():
        if name in {candidate._meta.model_name, candidate.colour_kind}:
            return candidate.colour_kind
    return name


def colour_distribution(grid_code_prefix: str, model: str | None = None) -> dict[str, int]:
    """{"green": n, "yellow": n, "red": n}: the live colours of the objects in the grid subtree
    (one grouped count on an index)."""
    qs = ColourState.objects.filter(grid_code__startswith=grid_code_prefix or "")
    kind = _kind(model)
    if kind:
        qs = qs.filter(colour_kind=kind)
    counts = {c: 0 for c in COLOURS}
    for row in qs.values("colour").annotate(n=Count("id")).order_by():
        if row["colour"] in counts:
            counts[row["colour"]] = row["n"]
    return counts


@dataclass
class ColourFilter:
    kind: str = ""  # colour kind ("" = every kind)
    colour: str = ""
    grid: str = ""  # grid code prefix
    q: str = ""  # name / address contains
    key_only: bool = False  # enterprises: 重点企业 only
    overridden: bool = False
    overdue: bool = False


def colour_list(queryset: QuerySet, f: ColourFilter, *, now=None) -> QuerySet:
    """ColourState rows of one kind narrowed by the filter, worst colour first, then the most
    overdue patrol. ``queryset`` is already limited to the user's scope by the caller."""
    from django.db.models import Case, IntegerField, Value, When
    from django.utils import timezone

    kind = _kind(f.kind) or f.kind
    qs = queryset.filter(colour_kind=kind) if kind else queryset
    if f.colour in COLOURS:
        qs = qs.filter(colour=f.colour)
    if f.grid:
        qs = qs.filter(grid_code__startswith=f.grid)
    if f.q:
        qs = qs.filter(label__icontains=f.q.strip())
    if f.overridden:
        qs = qs.filter(override__isnull=False)
    if f.overdue:
        qs = qs.filter(patrol_due_at__lt=now or timezone.now())
    if f.key_only and kind == "enterprise":
        from django.apps import apps

        enterprise = apps.get_model("registry", "Enterprise")
        qs = qs.filter(object_id__in=enterprise.objects.filter(is_key=True).values("pk"))
    rank = Case(
        *[When(colour=c, then=Value(-r)) for c, r in COLOUR_RANK.items()],
        output_field=IntegerField(),
    )
    return qs.annotate(rank=rank).order_by("rank", "patrol_due_at", "id")


def colour_counts(queryset: QuerySet) -> dict[str, int]:
    counts = {c: 0 for c in COLOURS}
    for row in queryset.order_by().values("colour").annotate(n=Count("id")):
        counts[row["colour"]] = row["n"]
    return counts


def history(content_type_id: int, object_id: int, *, limit: int = 100) -> list[ColourChange]:
    return list(
        ColourChange.objects.filter(content_type_id=content_type_id, object_id=object_id)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )
