"""Pages of the programs app, phone first: the list of 实事项目 with progress bars and the
annual targets with completion rates; a project's page with milestones, its progress log and the
add-progress form; the targets and pipelines pages with their update forms.

Views parse and render; every change goes through ``actions`` (which decides who may make it),
every figure comes from ``queries``. Projects, targets and pipelines are town-level and visible
to every holder of ``programs.view``; a project's linked cases and places are filtered by the
reader's scope (``queries.project_links``).
"""

from __future__ import annotations

import mimetypes
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from towngrid.accounts.access import has_capability

from . import actions, queries
from .models import Milestone, PipelineStage, ProgressPhoto, ProjectStatus, Target


def _require_view(request: HttpRequest) -> None:
    if not has_capability(request.user, "programs.view"):
        raise PermissionDenied(_("您的角色无权查看实事项目。"))


def _common(request: HttpRequest, year: int | None) -> dict:
    """What every programs page shows around its content: the year switcher, the link to the
    half-year report for those who may generate it, and the default date of a new reading (today,
    or the year's last day for a past year: a reading must fall in its year)."""
    today = actions.today()
    return {
        "year": year,
        "years": queries.years(),
        "today": today,
        "default_day": min(today, date(year, 12, 31)) if year else today,
        "can_generate": has_capability(request.user, "reports.generate"),
    }


def _year(request: HttpRequest) -> int | None:
    raw = (request.GET.get("year") or "").strip()
    if raw.isdigit():
        return int(raw)
    return queries.latest_year()


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The year's projects (progress bars), targets (completion rates) and pipelines."""
    _require_view(request)
    year = _year(request)
    data = queries.summary(year) if year else queries.summary()
    return render(request, "programs/index.html", {"data": data, **_common(request, data["year"])})


def _project_context(request: HttpRequest, project, **extra) -> dict:
    project = queries.project_detail_queryset().get(pk=project.pk)
    return {
        "project": project,
        "row": queries.project_row(project),
        "links": queries.project_links(request.user, project),
        "can_edit": queries.can_edit_project(request.user, project),
        "statuses": ProjectStatus.choices,
        **_common(request, project.year),
        **extra,
    }


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    project = get_object_or_404(queries.projects(), pk=pk)
    return render(request, "programs/project.html", _project_context(request, project))


@login_required
@require_POST
def add_progress(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    project = get_object_or_404(queries.projects(), pk=pk)
    try:
        actions.add_progress(
            project,
            text=request.POST.get("text"),
            percent=request.POST.get("percent"),
            reported_on=request.POST.get("reported_on"),
            status=request.POST.get("status") or None,
            photos=request.FILES.getlist("photos"),
            actor=request.user,
        )
    except actions.ProgramError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from None
        context = _project_context(
            request, project, error=exc.message, error_field=exc.field, form=request.POST
        )
        return render(request, "programs/project.html", context, status=400)
    messages.success(request, _("进展已登记。"))
    return redirect("programs:project", pk=project.pk)


@login_required
@require_POST
def set_milestone(request: HttpRequest, pk: int, milestone: int) -> HttpResponse:
    _require_view(request)
    project = get_object_or_404(queries.projects(), pk=pk)
    item = get_object_or_404(Milestone, pk=milestone, project=project)
    try:
        actions.set_milestone(
            item,
            actual_on=request.POST.get("actual_on"),
            note=request.POST.get("note"),
            actor=request.user,
        )
    except actions.ProgramError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from None
        context = _project_context(request, project, milestone_error=exc.message)
        return render(request, "programs/project.html", context, status=400)
    messages.success(request, _("节点已更新。"))
    return redirect(reverse("programs:project", kwargs={"pk": project.pk}) + "#milestones")


def _editable_rows(request, rows: list[dict], objects: dict, can_edit) -> list[dict]:
    for row in rows:
        row["can_edit"] = can_edit(request.user, objects[row["id"]])
    return rows


@login_required
def targets(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    return _targets_page(request)


def _targets_page(request: HttpRequest, *, error: str = "", error_id=None, status=200):
    year = _year(request)
    objects = {t.pk: t for t in queries.targets(year)}
    rows = _editable_rows(
        request, [queries.target_row(t) for t in objects.values()], objects, queries.can_edit_target
    )
    context = {"rows": rows, "error": error, "error_id": error_id, **_common(request, year)}
    return render(request, "programs/targets.html", context, status=status)


@login_required
@require_POST
def record_target(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    target = get_object_or_404(Target.objects.select_related("department"), pk=pk)
    try:
        actions.record_target(
            target,
            value=request.POST.get("value"),
            as_of=request.POST.get("as_of"),
            note=request.POST.get("note", ""),
            actor=request.user,
        )
    except actions.ProgramError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from None
        return _targets_page(request, error=exc.message, error_id=target.pk, status=400)
    messages.success(request, _("已登记 %(metric)s 的完成情况。") % {"metric": target.metric})
    return redirect(reverse("programs:targets") + f"?year={target.year}")


@login_required
def pipelines(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    return _pipelines_page(request)


def _pipelines_page(request: HttpRequest, *, error: str = "", error_id=None, status=200):
    year = _year(request)
    objects = {p.pk: p for p in queries.pipelines(year)}
    rows = _editable_rows(
        request,
        [queries.pipeline_row(p) for p in objects.values()],
        objects,
        queries.can_edit_pipeline,
    )
    context = {"rows": rows, "error": error, "error_id": error_id, **_common(request, year)}
    return render(request, "programs/pipelines.html", context, status=status)


@login_required
@require_POST
def record_stage(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    stage = get_object_or_404(PipelineStage.objects.select_related("pipeline"), pk=pk)
    try:
        actions.record_stage(
            stage,
            value=request.POST.get("value"),
            as_of=request.POST.get("as_of"),
            note=request.POST.get("note", ""),
            actor=request.user,
        )
    except actions.ProgramError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from None
        return _pipelines_page(request, error=exc.message, error_id=stage.pk, status=400)
    messages.success(request, _("已登记 %(name)s 的完成数。") % {"name": str(stage)})
    return redirect(reverse("programs:pipelines") + f"?year={stage.pipeline.year}")


@login_required
def photo(request: HttpRequest, pk: int, variant: str = "thumb") -> FileResponse:
    """A progress photo (already stripped of metadata) for whoever may see projects."""
    _require_view(request)
    item = get_object_or_404(ProgressPhoto, pk=pk)
    if variant not in ("thumb", "full"):
        raise Http404
    field = item.thumbnail if variant == "thumb" else item.file
    try:
        handle = field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    content_type = "image/jpeg" if variant == "thumb" else item.content_type
    response = FileResponse(
        handle, content_type=content_type or mimetypes.guess_type(field.name)[0]
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
