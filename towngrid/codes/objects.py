"""Which registry objects carry a code, and small read helpers over them.

The coded models are the registry's stand-alone located objects: houses, enterprises, shops,
components, underground spaces and land parcels (``CODED_MODELS``). Households and residents live
inside a house (their ``colour_kind`` is the house's) and are reached through the house's code.
Everything else here is generic over the model.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models

KIND_LABELS = {
    "house": "房屋",
    "enterprise": "企业",
    "shop": "商户",
    "component": "部件",
    "underground": "地下空间",
    "parcel": "地块",
}


CODED_MODELS = ("House", "Enterprise", "Shop", "Component", "UndergroundSpace", "LandParcel")


def coded_models() -> list[type[models.Model]]:
    """The registry models that get codes, in a stable order."""
    found = []
    for name in CODED_MODELS:
        try:
            found.append(apps.get_model("registry", name))
        except LookupError:
            continue
    return found


def model_by_kind(kind: str) -> type[models.Model] | None:
    for model in coded_models():
        if model.colour_kind == kind or model._meta.model_name == kind:
            return model
    return None


def is_coded(obj: models.Model) -> bool:
    return type(obj) in coded_models()


def kind_of(obj: models.Model) -> str:
    return getattr(obj, "colour_kind", obj._meta.model_name)


def kind_label(obj_or_model) -> str:
    kind = getattr(obj_or_model, "colour_kind", "")
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    return str(obj_or_model._meta.verbose_name)


def address_of(obj: models.Model) -> str:
    return getattr(obj, "full_address", "") or getattr(obj, "address", "") or ""


def title_of(obj: models.Model) -> str:
    """The line a person recognises the object by: a name where it has one, else the address."""
    return getattr(obj, "name", "") or address_of(obj) or str(obj)


def content_type_of(obj_or_model) -> ContentType:
    return ContentType.objects.get_for_model(obj_or_model)


def load(content_type_id: int, object_id: int) -> models.Model | None:
    """The object behind a (content type, id) pair, or None if it is gone."""
    ct = ContentType.objects.get_for_id(content_type_id)
    model = ct.model_class()
    if model is None:
        return None
    rows = model._default_manager.select_related("grid").filter(pk=object_id).order_by()[:1]
    return next(iter(rows), None)


def location_of(obj: models.Model) -> tuple[float, float] | None:
    lng, lat = getattr(obj, "lng", None), getattr(obj, "lat", None)
    if lng is None or lat is None:
        return None
    return float(lng), float(lat)


def group_code_of(obj: models.Model) -> str:
    group_id = getattr(obj, "group_id", None)
    if not group_id:
        return ""
    group = getattr(obj, "group", None)
    return getattr(group, "code", "") or ""
