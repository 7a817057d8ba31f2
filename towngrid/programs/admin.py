"""Back office for the programs app: projects (with partners, milestones and links), targets
and pipelines are reference data set up here each year. Figures that change through the year
(progress, target actuals, stage counts) are read-only here: they are entered on the pages or
through the API, where ``actions`` check who enters them and keep the history and the audit."""

from django.contrib import admin

from .models import (
    Milestone,
    Pipeline,
    PipelineStage,
    ProgressEntry,
    Project,
    ProjectLink,
    ProjectPartner,
    StageReading,
    Target,
    TargetReading,
)


class PartnerInline(admin.TabularInline):
    model = ProjectPartner
    extra = 0
    autocomplete_fields = ["department"]


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["order", "name", "planned_on", "actual_on", "note"]


class LinkInline(admin.TabularInline):
    model = ProjectLink
    extra = 0
    fields = ["kind", "case", "grid", "note"]
    raw_id_fields = ["case", "grid"]


class ProgressInline(admin.TabularInline):
    model = ProgressEntry
    extra = 0
    can_delete = False
    fields = ["reported_on", "percent", "status", "text", "author"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["year", "number", "name", "budget", "department", "status", "percent"]
    list_display_links = ["name"]
    list_filter = ["year", "status", "department"]
    search_fields = ["name", "description"]
    readonly_fields = ["status", "percent", "progress_text", "progress_on"]
    inlines = [PartnerInline, MilestoneInline, LinkInline, ProgressInline]


class TargetReadingInline(admin.TabularInline):
    model = TargetReading
    extra = 0
    can_delete = False
    fields = ["as_of", "value", "note", "author"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["year", "order", "metric", "unit", "annual_target", "actual", "as_of"]
    list_display_links = ["metric"]
    list_filter = ["year", "department", "key_figure"]
    search_fields = ["metric", "code"]
    readonly_fields = ["actual", "as_of"]
    inlines = [TargetReadingInline]


class StageInline(admin.TabularInline):
    model = PipelineStage
    extra = 0
    fields = ["order", "name", "target", "actual", "as_of", "note"]
    readonly_fields = ["actual", "as_of"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["year", "order", "name", "unit", "target_source", "department"]
    list_display_links = ["name"]
    list_filter = ["year", "department"]
    search_fields = ["name", "code"]
    inlines = [StageInline]


@admin.register(StageReading)
class StageReadingAdmin(admin.ModelAdmin):
    list_display = ["stage", "as_of", "value", "author"]
    list_filter = ["stage__pipeline__year"]
    readonly_fields = ["stage", "as_of", "value", "note", "author"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
