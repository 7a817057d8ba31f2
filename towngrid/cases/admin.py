"""The back office for the case catalogue and time limits (reference data, edited here and
audited), and a read-only view of cases and their files: every change to a case goes through
``cases.actions`` so that its timeline and audit trail stay whole."""

from django.contrib import admin

from towngrid.core.admin import AuditedAdminMixin

from .models import (
    Attachment,
    Case,
    CaseEvent,
    Category,
    CategoryClass,
    LimitUnit,
    TimeLimit,
)
from .timelimits import limit_for


class SubclassInline(admin.TabularInline):
    model = Category
    fields = ["code", "full_code", "name", "default_department", "is_public", "active", "sort"]
    extra = 0
    show_change_link = True
    autocomplete_fields = ["default_department"]


@admin.register(CategoryClass)
class CategoryClassAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "cases.category_class"
    list_display = ["kind", "code", "name", "is_local", "subclass_count", "sort"]
    list_display_links = ["code", "name"]
    list_filter = ["kind", "is_local"]
    search_fields = ["code", "name"]
    inlines = [SubclassInline]

    @admin.display(description="小类数")
    def subclass_count(self, obj) -> int:
        return obj.subclasses.count()


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    fields = ["step", "amount", "unit"]
    extra = 0


@admin.register(Category)
class CategoryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "cases.category"
    list_display = [
        "full_code",
        "name",
        "major",
        "default_department",
        "handle_limit",
        "requires_after_photo",
        "is_public",
        "is_local",
        "active",
    ]
    list_display_links = ["full_code", "name"]
    list_filter = [
        "major__kind",
        "major",
        "default_department",
        "is_public",
        "is_local",
        "active",
        "requires_after_photo",
    ]
    list_select_related = ["major", "default_department"]
    search_fields = ["name", "full_code", "keywords"]
    autocomplete_fields = ["default_department"]
    inlines = [TimeLimitInline]
    fieldsets = [
        (None, {"fields": ["major", "code", "full_code", "name", "keywords", "description"]}),
        ("处置", {"fields": ["default_department", "requires_after_photo", "closing_conditions"]}),
        ("发布", {"fields": ["is_public", "is_local", "active", "sort"]}),
    ]

    @admin.display(description="处置时限")
    def handle_limit(self, obj) -> str:
        found = limit_for(obj, "handle")
        if found is None:
            return "—"
        amount, unit = found
        return f"{amount.normalize():f} {LimitUnit(unit).label}"


@admin.register(TimeLimit)
class TimeLimitAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A row without a subclass is the town default for that step."""

    audit_prefix = "cases.time_limit"
    list_display = ["__str__", "category", "step", "amount", "unit"]
    list_filter = ["step", "unit", ("category", admin.EmptyFieldListFilter)]
    list_select_related = ["category"]
    search_fields = ["category__name", "category__full_code"]
    autocomplete_fields = ["category"]


class ReadOnlyAdminMixin:
    """Cases change only through the workflow actions; the admin only shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    fields = ["at", "action", "from_status", "to_status", "actor_name", "department", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]


class AttachmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Attachment
    fields = ["kind", "file", "content_type", "size", "uploaded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "category",
        "status",
        "source",
        "department",
        "grid_code",
        "reported_at",
        "step",
        "step_deadline",
    ]
    list_filter = ["status", "source", "category__major", "category", "department", "step"]
    list_select_related = ["category", "department"]
    search_fields = ["number", "source_ref"]
    date_hierarchy = "reported_at"
    inlines = [CaseEventInline, AttachmentInline]
    show_full_result_count = False  # a count(*) over millions of cases on every page is slow


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["case", "kind", "content_type", "size", "width", "height", "uploaded_at"]
    list_filter = ["kind", "content_type"]
    list_select_related = ["case", "case__category"]
    search_fields = ["case__number", "sha256"]
    date_hierarchy = "uploaded_at"
