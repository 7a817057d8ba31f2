"""How registry objects look in the API: plain fields, personal values masked only
(``<field>_masked``; the plain value leaves only through ``POST …/{id}/reveal/``), the grid and
building group by code, and ``version`` for optimistic concurrency.

Input is not parsed here: the API passes the request's fields to ``actions.create`` /
``actions.update``, which validate them (Chinese messages per field). The ``*Input`` serializers
only describe that input for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from towngrid.core.models import AuditEvent

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

COMMON = ["id", "grid_code", "group_code", "lng", "lat", "address", "version", "created_at",
          "updated_at"]  # fmt: skip
HIDDEN = {"grid", "group", "grid_code", "version", "created_at", "updated_at", "id"}


def _own_fields(model: type[Located]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name not in HIDDEN and f.name not in COMMON and not f.name.endswith(("_enc", "_hash"))
    ]


class LocatedSerializer(serializers.ModelSerializer):
    group_code = serializers.SerializerMethodField()

    def get_group_code(self, obj: Located) -> str | None:
        # Views select_related("group"), so this costs no query per row.
        return obj.group.code if obj.group_id else None


def _serializer_for(model: type[Located], extra: dict[str, Any] | None = None) -> type:
    masked = [f"{p}_masked" for p in model.personal_fields]
    attrs: dict[str, Any] = {
        name: serializers.CharField(read_only=True, help_text="脱敏显示") for name in masked
    }
    attrs.update(extra or {})
    meta = type(
        "Meta",
        (),
        {
            "model": model,
            "fields": COMMON + _own_fields(model) + masked + list((extra or {}).keys()),
            "read_only_fields": COMMON + _own_fields(model),
        },
    )
    attrs["Meta"] = meta
    return type(f"{model.__name__}Serializer", (LocatedSerializer,), attrs)


HouseSerializer = _serializer_for(House, {"full_address": serializers.CharField(read_only=True)})
HouseholdSerializer = _serializer_for(Household)
ResidentSerializer = _serializer_for(
    Resident, {"tag_labels": serializers.ListField(child=serializers.CharField(), read_only=True)}
)
EnterpriseSerializer = _serializer_for(Enterprise)
ShopSerializer = _serializer_for(Shop)
ComponentSerializer = _serializer_for(
    Component,
    {
        "category_code": serializers.CharField(source="category.full_code", read_only=True),
        "category_name": serializers.CharField(source="category.name", read_only=True),
        "owner_department_name": serializers.CharField(
            source="owner_department.name", read_only=True, default=None
        ),
    },
)
UndergroundSpaceSerializer = _serializer_for(UndergroundSpace)
LandParcelSerializer = _serializer_for(
    LandParcel, {"signed_rate": serializers.FloatField(read_only=True)}
)

SERIALIZERS: dict[type, type] = {
    House: HouseSerializer,
    Household: HouseholdSerializer,
    Resident: ResidentSerializer,
    Enterprise: EnterpriseSerializer,
    Shop: ShopSerializer,
    Component: ComponentSerializer,
    UndergroundSpace: UndergroundSpaceSerializer,
    LandParcel: LandParcelSerializer,
}


def _input_for(model: type[Located]) -> type:
    """The write schema: own fields, plain personal values (write-only), location inputs."""
    attrs: dict[str, Any] = {}
    for name in model.personal_fields:
        attrs[name] = serializers.CharField(
            required=False, allow_blank=True, write_only=True, help_text="明文写入，加密保存"
        )
    attrs["grid"] = serializers.CharField(required=False, help_text="微网格编码（可由经纬度定位）")
    attrs["group"] = serializers.CharField(required=False, help_text="楼组/队组编码")
    attrs["lng"] = serializers.FloatField(required=False)
    attrs["lat"] = serializers.FloatField(required=False)
    attrs["crs"] = serializers.ChoiceField(
        choices=["wgs84", "gcj02", "bd09"], required=False, help_text="坐标系，默认 wgs84"
    )
    attrs["address"] = serializers.CharField(required=False, allow_blank=True)
    attrs["version"] = serializers.IntegerField(required=False, help_text="修改时：所见版本号")
    attrs["reason"] = serializers.CharField(required=False, allow_blank=True)
    own = _own_fields(model)
    meta = type("Meta", (), {"model": model, "fields": own + list(attrs)})
    attrs["Meta"] = meta
    extra = {f: {"required": False} for f in own}
    meta.extra_kwargs = extra
    return type(f"{model.__name__}Input", (serializers.ModelSerializer,), attrs)


INPUTS: dict[type, type] = {model: _input_for(model) for model in SERIALIZERS}


class RevealInputSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="id_number、phone、owner_phone 或 contact_phone")
    reason = serializers.CharField(help_text="查看事由（必填，记入审计）")


class RevealSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField()


class EnterpriseVisitSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    grid_code = serializers.CharField(source="enterprise.grid_code", read_only=True)

    class Meta:
        model = EnterpriseVisit
        fields = [
            "id",
            "enterprise",
            "enterprise_name",
            "grid_code",
            "visited_at",
            "visitor_name",
            "findings",
            "problems",
            "needs_followup",
        ]
        read_only_fields = fields


class VisitInputSerializer(serializers.Serializer):
    findings = serializers.CharField(required=False, allow_blank=True)
    problems = serializers.ListField(child=serializers.CharField(), required=False)
    needs_followup = serializers.BooleanField(required=False, default=False)
    visited_at = serializers.DateTimeField(required=False)
    visitor_name = serializers.CharField(required=False, allow_blank=True)


class StatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Component._meta.get_field("status").choices)
    note = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


class AuditEventSerializer(serializers.ModelSerializer):
    field = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor_name", "action", "field", "reason", "changes"]
        read_only_fields = fields

    def get_field(self, event: AuditEvent) -> str | None:
        return (event.changes or {}).get("field") if event.action == "registry.reveal" else None


class CountsSerializer(serializers.Serializer):
    houses = serializers.IntegerField()
    households = serializers.IntegerField()
    residents = serializers.IntegerField()
    enterprises = serializers.IntegerField()
    shops = serializers.IntegerField()
    components = serializers.IntegerField()
    underground = serializers.IntegerField()
    parcels = serializers.IntegerField()
