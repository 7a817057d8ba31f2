"""A read-only back office view of the registry: every change goes through ``actions`` (audited,
validated, signalled), so the admin only shows. Personal values appear masked only, and
ciphertexts and hashes are never shown; rows are limited to the staff user's grid scope."""

from __future__ import annotations

from django.contrib import admin

from towngrid.accounts.access import visible_to

from .models import (
    Component,
    Enterprise,
    EnterpriseVisit,
    House,
    Household,
    LandParcel,
    Resident,
    Shop,
    UndergroundSpace,
)


class RegistryAdmin(admin.ModelAdmin):
    """Read-only, scoped, masked."""

    show_full_result_count = False  # no count(*) over 250,000 residents on every page
    list_per_page = 50

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return visible_to(request.user, super().get_queryset(request))

    def get_exclude(self, request, obj=None):
        # Ciphertexts and blind indexes stay in the database.
        return [
            f.name for f in self.model._meta.concrete_fields if f.name.endswith(("_enc", "_hash"))
        ]

    def get_readonly_fields(self, request, obj=None):
        masked = [f"{p}_masked" for p in getattr(self.model, "personal_fields", ())]
        own = [
            f.name
            for f in self.model._meta.concrete_fields
            if not f.name.endswith(("_enc", "_hash"))
        ]
        return own + masked


def _masked(field: str, label: str):
    def show(self, obj) -> str:
        return getattr(obj, f"{field}_masked")

    show.short_description = label
    show.__name__ = f"{field}_masked"
    return show


@admin.register(House)
class HouseAdmin(RegistryAdmin):
    list_display = ["__str__", "grid_code", "house_type", "use", "occupants", "owner_name",
                    "owner_phone_masked"]  # fmt: skip
    list_filter = ["house_type", "use", "is_rented"]
    search_fields = ["road", "lane", "number", "address", "owner_name"]
    owner_phone_masked = _masked("owner_phone", "产权人电话")


@admin.register(Household)
class HouseholdAdmin(RegistryAdmin):
    list_display = ["__str__", "grid_code", "household_type", "address"]
    list_filter = ["household_type"]
    search_fields = ["number", "head_name", "address"]


@admin.register(Resident)
class ResidentAdmin(RegistryAdmin):
    list_display = ["name", "grid_code", "gender", "id_number_masked", "phone_masked", "is_active"]
    list_filter = ["gender", "is_active"]
    search_fields = ["name", "address"]
    id_number_masked = _masked("id_number", "身份证号码")
    phone_masked = _masked("phone", "联系电话")


@admin.register(Enterprise)
class EnterpriseAdmin(RegistryAdmin):
    list_display = ["name", "credit_code", "grid_code", "industry", "is_above_scale", "is_key",
                    "contact_phone_masked"]  # fmt: skip
    list_filter = ["is_above_scale", "is_key"]
    search_fields = ["name", "credit_code"]
    contact_phone_masked = _masked("contact_phone", "联系电话")


@admin.register(EnterpriseVisit)
class EnterpriseVisitAdmin(RegistryAdmin):
    list_display = ["enterprise", "visited_at", "visitor_name", "needs_followup"]
    list_filter = ["needs_followup"]
    list_select_related = ["enterprise"]


@admin.register(Shop)
class ShopAdmin(RegistryAdmin):
    list_display = ["name", "street", "grid_code", "is_alliance_member", "alliance",
                    "contact_phone_masked"]  # fmt: skip
    list_filter = ["is_alliance_member", "alliance"]
    search_fields = ["name", "street"]
    contact_phone_masked = _masked("contact_phone", "联系电话")


@admin.register(Component)
class ComponentAdmin(RegistryAdmin):
    list_display = ["code", "name", "category", "status", "kind", "owner_department", "grid_code"]
    list_filter = ["status", "kind"]
    list_select_related = ["category", "owner_department"]
    search_fields = ["code", "name"]


@admin.register(UndergroundSpace)
class UndergroundSpaceAdmin(RegistryAdmin):
    list_display = ["name", "use", "area", "manager", "grid_code", "contact_phone_masked"]
    search_fields = ["name", "manager"]
    contact_phone_masked = _masked("contact_phone", "联系电话")


@admin.register(LandParcel)
class LandParcelAdmin(RegistryAdmin):
    list_display = ["name", "unit", "stage", "households_signed", "households_total", "grid_code"]
    list_filter = ["stage"]
    search_fields = ["name", "unit"]
