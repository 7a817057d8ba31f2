"""Reads of the registry: the object types, list filters (shared by pages, API and exports),
counts per grid, and what a detail page shows besides the object (its audit history and cases).

Filters take plain strings (query parameters) and ignore what they cannot use; they never widen
a queryset, so callers apply the user's scope first (``accounts.access.visible_to``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from towngrid.core.checksums import is_valid_id_number, is_valid_phone
from towngrid.core.personal import lookup_hash

from .models import (
    Component,
    Enterprise,
    EnterpriseVisit,
    House,
    Household,
    LandParcel,
    Located,
    Resident,
    Shop,
    UndergroundSpace,
)


@dataclass(frozen=True)
class RegistryType:
    """One object type as pages and the API know it: its URL slug, labels and filters."""

    slug: str
    model: type[Located]
    label: str
    search_fields: tuple[str, ...]
    # query parameter → (lookup, kind) where kind is "str", "bool", "list" (comma separated)
    filters: dict[str, tuple[str, str]] = field(default_factory=dict)
    related: tuple[str, ...] = ()


TYPES: dict[str, RegistryType] = {
    t.slug: t
    for t in [
        RegistryType(
            "houses",
            House,
            "实有房屋",
            ("road", "lane", "number", "address", "owner_name", "landlord_name"),
            {
                "type": ("house_type", "list"),
                "use": ("use", "list"),
                "rented": ("is_rented", "bool"),
                "flag": ("flags", "jsonlist"),
            },
            ("grid",),
        ),
        RegistryType(
            "households",
            Household,
            "户",
            ("number", "head_name", "address", "registered_address"),
            {"type": ("household_type", "list"), "house": ("house_id", "int")},
            ("grid", "house"),
        ),
        RegistryType(
            "residents",
            Resident,
            "实有人口",
            ("name", "address", "actual_residence", "registered_residence"),
            {
                "tags": ("tags", "jsonlist"),
                "gender": ("gender", "list"),
                "active": ("is_active", "bool"),
                "house": ("house_id", "int"),
                "household": ("household_id", "int"),
            },
            ("grid", "house", "household"),
        ),
        RegistryType(
            "enterprises",
            Enterprise,
            "企业",
            ("name", "address", "industry", "contact_name", "credit_code"),
            {
                "industry": ("industry", "list"),
                "above_scale": ("is_above_scale", "bool"),
                "key": ("is_key", "bool"),
            },
            ("grid",),
        ),
        RegistryType(
            "shops",
            Shop,
            "商户",
            ("name", "street", "address", "business_type", "alliance", "contact_name"),
            {
                "street": ("street", "list"),
                "alliance": ("alliance", "list"),
                "member": ("is_alliance_member", "bool"),
                "business_type": ("business_type", "list"),
            },
            ("grid",),
        ),
        RegistryType(
            "components",
            Component,
            "城市部件",
            ("code", "name", "address", "maintainer"),
            {
                "status": ("status", "list"),
                "kind": ("kind", "list"),
                "category": ("category__full_code", "list"),
                "department": ("owner_department__code", "list"),
            },
            ("grid", "category", "owner_department"),
        ),
        RegistryType(
            "underground",
            UndergroundSpace,
            "地下空间",
            ("name", "address", "use", "manager"),
            {"use": ("use", "list")},
            ("grid",),
        ),
        RegistryType(
            "parcels",
            LandParcel,
            "地块",
            ("name", "unit", "address"),
            {"stage": ("stage", "list"), "unit": ("unit", "list")},
            ("grid",),
        ),
    ]
}
TYPE_OF_MODEL: dict[type, RegistryType] = {t.model: t for t in TYPES.values()}
TRUE = {"1", "true", "yes", "on", "是"}
FALSE = {"0", "false", "no", "off", "否"}


def type_for(model: type[models.Model]) -> RegistryType:
    return TYPE_OF_MODEL[model]


def _values(raw: str) -> list[str]:
    return [v.strip() for v in str(raw).replace("，", ",").split(",") if v.strip()]


def filter_queryset(
    model: type[Located], params, queryset: models.QuerySet | None = None
) -> models.QuerySet:
    """``queryset`` (default: all of ``model``; pass the user's scoped queryset) narrowed by
    query parameters.

    Common parameters: ``grid`` (grid code prefix), ``q`` (text; an identity or phone number in
    it is matched exactly through its keyed hash), ``id_number``, ``phone``, ``contact_phone``,
    ``owner_phone`` (exact, through the hash). Per type: see ``TYPES``.
    """
    rtype = type_for(model)
    qs = queryset if queryset is not None else model._default_manager.all()
    qs = qs.select_related(*rtype.related, "group")

    grid = (params.get("grid") or "").strip()
    if grid:
        qs = qs.filter(grid_code__startswith=grid) if grid.isdigit() else qs.none()

    for name in model.personal_fields:
        value = (params.get(name) or "").strip()
        if value:
            qs = qs.filter(**{f"{name}_hash": lookup_hash(name, value)})

    text = (params.get("q") or "").strip()
    if text:
        qs = qs.filter(_text_condition(model, rtype, text))

    for param, (lookup, kind) in rtype.filters.items():
        raw = params.get(param)
        if raw in (None, ""):
            continue
        qs = _apply_filter(qs, lookup, kind, str(raw))
    return qs


def _text_condition(model, rtype: RegistryType, text: str) -> Q:
    condition = Q()
    for name in rtype.search_fields:
        condition |= Q(**{f"{name}__icontains": text})
    compact = text.replace(" ", "").replace("-", "")
    for name in model.personal_fields:
        kind_valid = is_valid_id_number if name.endswith("id_number") else is_valid_phone
        if kind_valid(compact):
            condition |= Q(**{f"{name}_hash": lookup_hash(name, compact)})
    if model is Enterprise:
        condition |= Q(credit_code=compact.upper())
    return condition


def _apply_filter(qs, lookup: str, kind: str, raw: str):
    if kind == "bool":
        value = raw.strip().lower()
        if value in TRUE:
            return qs.filter(**{lookup: True})
        if value in FALSE:
            return qs.filter(**{lookup: False})
        return qs
    if kind == "int":
        return qs.filter(**{lookup: int(raw)}) if raw.strip().isdigit() else qs.none()
    if kind == "list":
        values = _values(raw)
        return qs.filter(**{f"{lookup}__in": values}) if values else qs
    if kind == "jsonlist":
        # Every listed value must be in the JSON list. The JSON text is matched for the quoted
        # value: works the same on SQLite and PostgreSQL (JSON containment does not on SQLite).
        qs = qs.annotate(**{f"_{lookup}_text": Cast(lookup, TextField())})
        for value in _values(raw):
            quoted = '"' + value.replace('"', "") + '"'
            qs = qs.filter(**{f"_{lookup}_text__contains": quoted})
        return qs
    return qs.filter(**{lookup: raw})


# --- counts -------------------------------------------------------------------------------------


def counts(grid_code_prefix: str) -> dict[str, int]:
    """Registry objects in a grid subtree (the cross-app contract, for reports and screens)."""
    prefix = grid_code_prefix or ""
    return {
        "houses": House.objects.filter(grid_code__startswith=prefix).count(),
        "households": Household.objects.filter(grid_code__startswith=prefix).count(),
        "residents": Resident.objects.filter(grid_code__startswith=prefix, is_active=True).count(),
        "enterprises": Enterprise.objects.filter(grid_code__startswith=prefix).count(),
        "shops": Shop.objects.filter(grid_code__startswith=prefix).count(),
        "components": Component.objects.filter(grid_code__startswith=prefix).count(),
    }


def counts_for(querysets: dict[str, models.QuerySet]) -> dict[str, int]:
    return {slug: qs.count() for slug, qs in querysets.items()}


def resident_tag_counts(queryset: models.QuerySet) -> dict[str, int]:
    """Residents per tag (a resident with two tags counts in both)."""
    from .models import RESIDENT_TAGS

    out = {}
    for tag in RESIDENT_TAGS:
        out[tag] = _apply_filter(queryset, "tags", "jsonlist", tag).count()
    return out


# --- detail extras --------------------------------------------------------------------------------


def audit_history(obj: models.Model, limit: int = 50):
    from towngrid.core.models import AuditEvent

    return list(AuditEvent.objects.for_object(obj).order_by("-at", "-id")[:limit])


def reveal_history(obj: models.Model, limit: int = 50):
    from towngrid.core.models import AuditEvent

    qs = AuditEvent.objects.for_object(obj).filter(action="registry.reveal")
    return list(qs.order_by("-at", "-id")[:limit])


def cases_for(obj: models.Model, limit: int = 20):
    """Cases whose subject is this object, newest first."""
    from django.contrib.contenttypes.models import ContentType

    from towngrid.cases.models import Case

    ct = ContentType.objects.get_for_model(type(obj))
    qs = Case.objects.filter(subject_type=ct, subject_id=obj.pk).select_related("category")
    return list(qs.order_by("-reported_at")[:limit])


def visits_for(enterprise: Enterprise, limit: int = 50):
    return list(EnterpriseVisit.objects.filter(enterprise=enterprise)[:limit])
