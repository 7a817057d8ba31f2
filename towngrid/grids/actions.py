"""Writes for the grid: every change to nodes, staff and duties goes through here, is validated,
is audited, and bumps the grid revision so lookup indexes rebuild."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from towngrid.core.audit import record

from . import index
from .geometry import (
    DEFAULT_CONTAINMENT_TOLERANCE,
    DEFAULT_OVERLAP_TOLERANCE,
    ExistingNode,
    FeatureError,
    ParsedFeature,
    validate_feature_collection,
)
from .models import (
    CODE_LENGTHS,
    DutyAssignment,
    GridNode,
    GridRevision,
    GridStaff,
    Level,
    Post,
)


class GridActionError(ValueError):
    """A refused grid write, with a message fit to show the user."""


def bump_revision() -> int:
    """Mark the grid as changed; call inside the transaction that changed it."""
    row, _ = GridRevision.objects.get_or_create(pk=1)
    # changed_at too (update() skips auto_now): indexes key on (revision, changed_at), so a
    # counter that restarts (a restored backup, a rolled-back test) still triggers a rebuild.
    GridRevision.objects.filter(pk=1).update(revision=F("revision") + 1, changed_at=timezone.now())
    row.refresh_from_db()
    # This process rebuilds at once; others notice the new revision within index.REVISION_TTL.
    index.invalidate()
    transaction.on_commit(index.invalidate)
    return row.revision


@transaction.atomic
def create_staff(name: str, *, work_phone: str = "", user=None, actor=None) -> GridStaff:
    name = (name or "").strip()
    if not name:
        raise GridActionError("姓名不能为空。")
    staff = GridStaff.objects.create(name=name, work_phone=work_phone.strip(), user=user)
    record(actor, "grids.staff_created", staff, changes={"name": name})
    return staff


@transaction.atomic
def assign_duty(
    staff: GridStaff, grid: GridNode, post: str, *, actor=None, reason: str = ""
) -> DutyAssignment:
    """Put a person on duty in a micro-grid. A person may hold several grids and posts."""
    if grid.level != Level.MICRO:
        raise GridActionError(f"只能在微网格上安排岗位，{grid.name} 是{grid.get_level_display()}。")
    if post not in Post.values:
        raise GridActionError(f"未知岗位：{post}。")
    duty, created = DutyAssignment.objects.get_or_create(staff=staff, grid=grid, post=post)
    if not created and duty.ended_on is not None:
        # The same post again after it ended: the unique (staff, grid, post) row is reopened,
        # otherwise the person would silently stay off duty.
        duty.ended_on = None
        duty.started_on = timezone.localdate()
        duty.save(update_fields=["ended_on", "started_on"])
        created = True
    if created:
        record(
            actor,
            "grids.duty_assigned",
            duty,
            changes={"grid": grid.code, "post": post},
            reason=reason,
        )
    return duty


@transaction.atomic
def end_duty(duty: DutyAssignment, *, actor=None, reason: str = "") -> None:
    duty.ended_on = timezone.localdate()
    duty.save(update_fields=["ended_on"])
    record(actor, "grids.duty_ended", duty, reason=reason)


# --- GeoJSON import and export -------------------------------------------------------------

# SQLite allows 32,766 bound parameters per statement, older builds 999; stay well below.
_CHUNK = 500


@dataclass
class ImportResult:
    """The outcome of an import or a dry run. ``ok`` is False when any error was found, and
    then nothing was written. Counts are what was (or, in a dry run, would be) written."""

    ok: bool
    errors: list[FeatureError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    revision: int | None = None
    created_codes: list[str] = field(default_factory=list)
    updated_codes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "revision": self.revision,
            "errors": [e.as_dict() for e in self.errors],
        }


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _referenced_codes(fc: Any) -> tuple[set[str], set[str]]:
    """Codes and parent codes named in the file, read leniently (validation judges them)."""
    codes: set[str] = set()
    parents: set[str] = set()
    features = fc.get("features") if isinstance(fc, dict) else None
    for feature in features if isinstance(features, list) else ():
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            continue
        for key, bucket in (("code", codes), ("parent_code", parents)):
            value = props.get(key)
            if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
                bucket.add(str(value).strip())
    return codes, parents


def _stored_context(
    file_codes: set[str], parent_codes: set[str]
) -> tuple[dict[str, ExistingNode], dict[str, list[ExistingNode]], dict[str, GridNode]]:
    """What validation and the write need from the database, in a few queries:
    the nodes the file updates, the parents it refers to, and the siblings that stay."""
    current: dict[str, GridNode] = {}
    for chunk in _chunks(sorted(file_codes)):
        for node in GridNode.objects.filter(code__in=chunk):
            current[node.code] = node
    existing: dict[str, ExistingNode] = {}
    for chunk in _chunks(sorted(parent_codes - file_codes)):
        for code, level, boundary in GridNode.objects.filter(code__in=chunk).values_list(
            "code", "level", "boundary"
        ):
            existing[code] = ExistingNode(code=code, level=level, boundary=boundary)
    # Stored children that the file does not replace, of the parents it names (new nodes must
    # not overlap them) and of the nodes it updates (a new boundary must still hold them).
    children: dict[str, list[ExistingNode]] = {}
    for chunk in _chunks(sorted(parent_codes | set(current))):
        rows = GridNode.objects.filter(parent__code__in=chunk).values_list(
            "code", "level", "parent__code", "boundary"
        )
        for code, level, parent_code, boundary in rows:
            if code not in file_codes:
                children.setdefault(parent_code, []).append(
                    ExistingNode(code, level, parent_code, boundary)
                )
    # Towns are siblings too (key ""): a second town must not overlap the first.
    if any(len(code) == CODE_LENGTHS[Level.TOWN] for code in file_codes):
        for code, boundary in GridNode.objects.filter(level=Level.TOWN).values_list(
            "code", "boundary"
        ):
            if code not in file_codes:
                children.setdefault("", []).append(ExistingNode(code, Level.TOWN, None, boundary))
    return existing, children, current


def _node_fields(feature: ParsedFeature) -> dict[str, Any]:
    lng, lat = feature.centroid if feature.centroid else (None, None)
    return {
        "name": feature.name,
        "kind": feature.kind,
        "boundary": feature.geojson or {},
        "centroid_lng": lng,
        "centroid_lat": lat,
        "area_m2": feature.area_m2,
    }


_UPDATE_FIELDS = ["name", "kind", "boundary", "centroid_lng", "centroid_lat", "area_m2"]


def import_geojson(
    fc: dict,
    *,
    actor=None,
    dry_run: bool = False,
    reason: str = "",
    containment_tolerance: float = DEFAULT_CONTAINMENT_TOLERANCE,
    overlap_tolerance: float = DEFAULT_OVERLAP_TOLERANCE,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import grid nodes from a GeoJSON FeatureCollection, all or nothing.

    Every feature is validated first (see geometry.validate_feature_collection); on any error
    nothing is written and every error is returned. Otherwise nodes are created or updated
    (matched by code; nodes absent from the file are kept) parent-before-child in one
    transaction, one audit event summarises the import, and the grid revision is bumped so
    lookup indexes rebuild. ``progress`` receives a short Chinese stage label.
    """

    def stage(label: str) -> None:
        if progress is not None:
            progress(label)

    stage("读取要素")
    existing, children, current = _stored_context(*_referenced_codes(fc))
    stage("校验")
    checked = validate_feature_collection(
        fc,
        existing=existing,
        existing_children=children,
        containment_tolerance=containment_tolerance,
        overlap_tolerance=overlap_tolerance,
    )
    result = ImportResult(ok=checked.ok, errors=checked.errors, dry_run=dry_run)
    if not checked.ok:
        return result

    to_create: list[ParsedFeature] = []
    to_update: list[tuple[GridNode, ParsedFeature]] = []
    for feature in sorted(checked.features, key=lambda f: (f.level, f.code)):
        node = current.get(feature.code)
        if node is None:
            to_create.append(feature)
            continue
        wanted = _node_fields(feature)
        if any(getattr(node, k) != v for k, v in wanted.items()):
            to_update.append((node, feature))
        else:
            result.unchanged += 1
    result.created = len(to_create)
    result.updated = len(to_update)
    result.created_codes = [f.code for f in to_create]
    result.updated_codes = [n.code for n, _ in to_update]
    if dry_run:
        return result

    stage("写入")
    with transaction.atomic():
        ids: dict[str, int] = {code: node.pk for code, node in current.items()}
        missing_parents = sorted({f.parent_code for f in to_create if f.parent_code} - set(ids))
        for chunk in _chunks(missing_parents):
            ids.update(GridNode.objects.filter(code__in=chunk).values_list("code", "pk"))
        now = timezone.now()
        for level in Level.values:
            batch = [
                GridNode(
                    code=f.code,
                    level=f.level,
                    parent_id=ids.get(f.parent_code) if f.parent_code else None,
                    created_at=now,
                    updated_at=now,
                    **_node_fields(f),
                )
                for f in to_create
                if f.level == level
            ]
            if not batch:
                continue
            created = GridNode.objects.bulk_create(batch, batch_size=_CHUNK)
            if any(n.pk is None for n in created):  # a backend without RETURNING
                codes = [n.code for n in created]
                for chunk in _chunks(codes):
                    ids.update(GridNode.objects.filter(code__in=chunk).values_list("code", "pk"))
            else:
                ids.update((n.code, n.pk) for n in created)
        if to_update:
            nodes = []
            for node, feature in to_update:
                for key, value in _node_fields(feature).items():
                    setattr(node, key, value)
                node.updated_at = now  # bulk_update does not apply auto_now
                nodes.append(node)
            GridNode.objects.bulk_update(nodes, [*_UPDATE_FIELDS, "updated_at"], batch_size=_CHUNK)
        result.revision = bump_revision()
        record(
            actor,
            "grids.imported",
            changes={
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "created_codes": result.created_codes,
                "updated_codes": result.updated_codes,
                "revision": result.revision,
            },
            reason=reason,
            object_type=GridNode._meta.label_lower,
            object_repr=f"导入网格：新增 {result.created}，更新 {result.updated}，"
            f"未变 {result.unchanged}",
        )
    stage("完成")
    return result


def export_geojson(queryset: QuerySet[GridNode] | None = None) -> dict[str, Any]:
    """The nodes of ``queryset`` (default: all) as a FeatureCollection that import_geojson
    reads back unchanged. One query; the map page and the CLI use it."""
    if queryset is None:
        queryset = GridNode.objects.all()
    rows = queryset.order_by("code").values_list(
        "code", "name", "level", "kind", "parent__code", "boundary", "centroid_lng", "centroid_lat"
    )
    features = []
    for code, name, level, kind, parent_code, boundary, lng, lat in rows:
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": boundary or None,
                "properties": {
                    "code": code,
                    "name": name,
                    "level": level,
                    "kind": kind,
                    "parent_code": parent_code,
                    "centroid": [lng, lat] if lng is not None else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
