"""Back office for codes and check-ins (read mostly: every change goes through the actions)."""

import contextlib

from django.contrib import admin

from .models import CheckIn, ObjectCode

with contextlib.suppress(ImportError):  # the colour engine registers its own models there
    from . import colour_admin  # noqa: F401


@admin.register(ObjectCode)
class ObjectCodeAdmin(admin.ModelAdmin):
    list_display = (
        "token",
        "content_type",
        "object_id",
        "serial",
        "grid_code",
        "issued_at",
        "revoked_at",
    )
    list_filter = ("content_type", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("token", "grid_code", "group_code")
    readonly_fields = [f.name for f in ObjectCode._meta.fields]
    date_hierarchy = "issued_at"

    def has_add_permission(self, request) -> bool:
        return False  # issued through codes.actions (audited), never typed in

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = (
        "at",
        "user_name",
        "content_type",
        "object_id",
        "distance_m",
        "flagged_far",
        "no_position",
        "grid_code",
    )
    list_filter = ("flagged_far", "no_position", "content_type")
    search_fields = ("user_name", "grid_code", "note")
    readonly_fields = [f.name for f in CheckIn._meta.fields]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
