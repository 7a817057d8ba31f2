from django.contrib import admin

from .models import DutyAssignment, GridNode, GridStaff


@admin.register(GridNode)
class GridNodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "kind", "parent"]
    list_filter = ["level", "kind"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]


class DutyInline(admin.TabularInline):
    model = DutyAssignment
    raw_id_fields = ["grid"]
    extra = 0


@admin.register(GridStaff)
class GridStaffAdmin(admin.ModelAdmin):
    list_display = ["name", "work_phone", "user", "active"]
    search_fields = ["name"]
    inlines = [DutyInline]
    raw_id_fields = ["user"]
