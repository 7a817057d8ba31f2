"""Reads of the programs app: projects with their progress, targets with completion rates,
pipelines with their stages, the figures as of a date (for reports of past periods), who may
edit what, and ``summary()`` for the big screen.

Completion rate (完成率) = actual / target, a fraction; ``None`` when there is no target (shown
"—", never 0 % or 100 %). Rates are shown as whole percentages rounded half up, as the seed report
prints them (1035 / 1800 = 57.5 % → "58%"), except where the whole number would claim 100 % (or
0 %) for a task that is not (or is a little) done: then with one decimal (499 / 500 → "99.8%").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind

from .models import (
    Milestone,
    Pipeline,
    PipelineStage,
    ProgressEntry,
    Project,
    ProjectLink,
    ProjectStatus,
    Target,
)

# ---- numbers -----------------------------------------------------------------------------------


def rate(
    actual: Decimal | float | int | None, target: Decimal | float | int | None
) -> float | None:
    """actual / target as a fraction, or None without a (positive) target."""
    if actual is None or target is None or Decimal(str(target)) <= 0:
        return None
    return float(Decimal(str(actual)) / Decimal(str(target)))


def rate_text(value: float | None) -> str:
    """A completion rate for people: "39%", "99.8%", or "—" for none."""
    if value is None:
        return "—"
    percent = Decimal(str(value)) * 100
    whole = percent.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    if whole == 100 and percent < 100:
        # One decimal, rounded down so that it still shows the shortfall (99.96 → "99.9%").
        return f"{percent.quantize(Decimal('0.1'), rounding=ROUND_DOWN)}%"
    if whole == 0 and percent > 0:
        return f"{percent.quantize(Decimal('0.1'), rounding=ROUND_UP)}%"  # 0.01 → "0.1%"
    return f"{whole}%"


def decimal_text(value: Decimal | float | int | None) -> str:
    """A number without trailing zeros: 400.00 → "400", 371.60 → "371.6"; None → "—"."""
    if value is None:
        return "—"
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def number(value: Decimal | None) -> float | int | None:
    """A decimal for JSON: an int when it is whole."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


# ---- projects ----------------------------------------------------------------------------------


def implementer_label(project: Project) -> str:
    """The 实施部门 column: the lead department, then the partners in brackets, e.g.
    "社会事业发展办公室(规划建设和生态环境办公室、党政办公室)"."""
    partners = [p.department.name for p in project.partners.all()]
    if project.cooperating_units:
        partners.append(project.cooperating_units)
    lead = project.department.name
    return f"{lead}({'、'.join(partners)})" if partners else lead


def latest_year() -> int | None:
    years = [
        Project.objects.order_by("-year").values_list("year", flat=True).first(),
        Target.objects.order_by("-year").values_list("year", flat=True).first(),
        Pipeline.objects.order_by("-year").values_list("year", flat=True).first(),
    ]
    years = [y for y in years if y]
    return max(years) if years else None


def years() -> list[int]:
    found = set(Project.objects.values_list("year", flat=True))
    found |= set(Target.objects.values_list("year", flat=True))
    found |= set(Pipeline.objects.values_list("year", flat=True))
    return sorted(found, reverse=True)


def projects(year: int | None = None) -> QuerySet:
    qs = Project.objects.select_related("department").prefetch_related("cooperating_departments")
    if year is not None:
        qs = qs.filter(year=year)
    return qs.order_by("-year", "number")


def project_detail_queryset() -> QuerySet:
    return projects().prefetch_related(
        Prefetch("milestones", queryset=Milestone.objects.order_by("order", "id")),
        Prefetch(
            "progress",
            queryset=ProgressEntry.objects.select_related("author").prefetch_related("photos"),
        ),
    )


@dataclass(frozen=True)
class ProgressAsOf:
    percent: int
    status: str
    text: str
    reported_on: date | None


def progress_as_of(project: Project, end: date | None) -> ProgressAsOf:
    """The project's progress as it stood at ``end`` (inclusive): its latest entry on or before
    that day; a project with no entry by then is 未启动 at 0 %. ``end`` None: the latest."""
    entries = ProgressEntry.objects.filter(project=project)
    if end is not None:
        entries = entries.filter(reported_on__lte=end)
    entry = entries.order_by("-reported_on", "-id").first()
    if entry is None:
        return ProgressAsOf(0, ProjectStatus.PLANNED, "", None)
    return ProgressAsOf(entry.percent, entry.status, entry.text, entry.reported_on)


def project_links(user, project: Project) -> dict[str, list[dict[str, Any]]]:
    """The project's linked cases and places as ``user`` may see them: a case outside the user's
    scope is left out (it would tell that it exists); a place is named, with its code only when
    the user may see that grid."""
    from towngrid.accounts.access import can_see_grid_code, visible_to
    from towngrid.cases.models import Case

    links = list(
        ProjectLink.objects.filter(project=project).select_related("case", "grid", "case__category")
    )
    case_ids = [link.case_id for link in links if link.case_id]
    visible = set(
        visible_to(user, Case.objects.filter(pk__in=case_ids)).values_list("pk", flat=True)
    )
    cases, places = [], []
    for link in links:
        if link.case_id and link.case_id in visible:
            case = link.case
            cases.append(
                {
                    "id": link.pk,
                    "number": case.number,
                    "status": case.status,
                    "status_label": case.get_status_display(),
                    "category": case.category.name if case.category_id else "",
                    "note": link.note,
                }
            )
        elif link.grid_id:
            node = link.grid
            shown = can_see_grid_code(user, node.code)
            places.append(
                {
                    "id": link.pk,
                    "name": node.name,
                    "code": node.code if shown else None,
                    "note": link.note,
                }
            )
    return {"cases": cases, "places": places}


# ---- who may change what --------------------------------------------------------------------


def _department_may_edit(user, department_ids: set[int]) -> bool:
    if not has_capability(user, "programs.edit"):
        return False
    kind = scope_kind_of(user)
    if kind == ScopeKind.TOWN:
        return True
    if kind == ScopeKind.DEPARTMENT:
        return user.department_id is not None and user.department_id in department_ids
    return False  # grid roles do not run town projects


def can_edit_project(user, project: Project) -> bool:
    """``programs.edit`` and either a town-wide role, or a department user of the project's lead
    or cooperating department."""
    ids = {project.department_id} | {p.department_id for p in project.partners.all()}
    return _department_may_edit(user, ids)


def can_edit_target(user, target: Target) -> bool:
    return _department_may_edit(user, {target.department_id} if target.department_id else set())


def can_edit_pipeline(user, pipeline: Pipeline) -> bool:
    ids = {pipeline.department_id} if pipeline.department_id else set()
    return _department_may_edit(user, ids)


# ---- targets and pipelines -----------------------------------------------------------------


def targets(year: int | None = None) -> QuerySet:
    qs = Target.objects.select_related("department")
    if year is not None:
        qs = qs.filter(year=year)
    return qs.order_by("-year", "order", "id")


def pipelines(year: int | None = None) -> QuerySet:
    qs = Pipeline.objects.select_related("department").prefetch_related(
        Prefetch("stages", queryset=PipelineStage.objects.order_by("order", "id"))
    )
    if year is not None:
        qs = qs.filter(year=year)
    return qs.order_by("-year", "order", "id")


def target_value_as_of(target: Target, end: date | None) -> tuple[Decimal | None, date | None]:
    """(actual, as of) at ``end`` inclusive from the readings; without readings, the stored
    actual when it is dated on or before ``end``."""
    readings = target.readings.all()
    if end is not None:
        readings = readings.filter(as_of__lte=end)
    reading = readings.order_by("-as_of", "-id").first()
    if reading is not None:
        return reading.value, reading.as_of
    if target.as_of is not None and (end is None or target.as_of <= end):
        return target.actual, target.as_of
    return None, None


def stage_value_as_of(stage: PipelineStage, end: date | None) -> tuple[Decimal | None, date | None]:
    readings = stage.readings.all()
    if end is not None:
        readings = readings.filter(as_of__lte=end)
    reading = readings.order_by("-as_of", "-id").first()
    if reading is not None:
        return reading.value, reading.as_of
    if stage.as_of is not None and (end is None or stage.as_of <= end):
        return stage.actual, stage.as_of
    return None, None


def target_row(target: Target, end: date | None = None) -> dict[str, Any]:
    actual, as_of = target_value_as_of(target, end)
    r = rate(actual, target.annual_target)
    return {
        "id": target.pk,
        "year": target.year,
        "code": target.code,
        "metric": target.metric,
        "unit": target.unit,
        "annual_target": number(target.annual_target),
        "target_source": target.target_source,
        "actual": number(actual),
        "as_of": as_of.isoformat() if as_of else None,
        "rate": r,
        "rate_text": rate_text(r),
        "department": target.department.name if target.department_id else "",
        "key_figure": target.key_figure,
        "note": target.note,
    }


def stage_row(stage: PipelineStage, end: date | None = None) -> dict[str, Any]:
    actual, as_of = stage_value_as_of(stage, end)
    r = rate(actual, stage.target)
    return {
        "id": stage.pk,
        "name": stage.name,
        "actual": number(actual),
        "target": number(stage.target),
        "as_of": as_of.isoformat() if as_of else None,
        "rate": r,
        "rate_text": rate_text(r),
        "note": stage.note,
    }


def pipeline_row(pipeline: Pipeline, end: date | None = None) -> dict[str, Any]:
    stages = [stage_row(s, end) for s in pipeline.stages.all()]
    total = sum((s["actual"] or 0) for s in stages)
    return {
        "id": pipeline.pk,
        "year": pipeline.year,
        "code": pipeline.code,
        "name": pipeline.name,
        "unit": pipeline.unit,
        "target_source": pipeline.target_source,
        "department": pipeline.department.name if pipeline.department_id else "",
        "description": pipeline.description,
        "stages": stages,
        "total": total,
    }


def project_row(project: Project, end: date | None = None) -> dict[str, Any]:
    progress = (
        ProgressAsOf(project.percent, project.status, project.progress_text, project.progress_on)
        if end is None
        else progress_as_of(project, end)
    )
    return {
        "id": project.pk,
        "year": project.year,
        "number": project.number,
        "name": project.name,
        "description": project.description,
        "budget": number(project.budget),
        "budget_text": decimal_text(project.budget),
        "department": project.department.name,
        "department_code": project.department.code,
        "implementer": implementer_label(project),
        "status": progress.status,
        "status_label": str(ProjectStatus(progress.status).label),
        "percent": progress.percent,
        "progress_text": progress.text,
        "progress_on": progress.reported_on.isoformat() if progress.reported_on else None,
    }


def summary(year: int | None = None) -> dict[str, Any]:
    """Projects with their percentage, targets with completion rates, pipelines with stages, for
    ``year`` (default: the latest year with data). Plain data for the big screen and the API;
    an empty town gives empty lists."""
    year = year or latest_year()
    if year is None:
        return {"year": None, "projects": [], "targets": [], "pipelines": [], "totals": {}}
    project_rows = [project_row(p) for p in projects(year)]
    budget = sum((Decimal(str(p["budget"])) for p in project_rows), Decimal(0))
    return {
        "year": year,
        "projects": project_rows,
        "targets": [target_row(t) for t in targets(year)],
        "pipelines": [pipeline_row(p) for p in pipelines(year)],
        "totals": {
            "projects": len(project_rows),
            "completed": sum(1 for p in project_rows if p["status"] == ProjectStatus.COMPLETED),
            "budget": number(budget),
            "mean_percent": (
                round(sum(p["percent"] for p in project_rows) / len(project_rows), 1)
                if project_rows
                else None
            ),
        },
    }
