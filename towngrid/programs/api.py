"""The programs API (under ``/api/v1/programs/``): projects with milestones, progress log and
links; targets and pipelines with completion rates; posting progress (multipart, with photos),
milestone dates, target and stage readings; the summary the big screen shows.

Thin: parse, call ``actions`` or ``queries``, render their plain dicts. Reading needs
``programs.view``; each write is decided by the action (``programs.edit``, and a department user
only for the department's own projects, targets and pipelines). Refusals are ``ApiError`` with
the action's code: ``invalid`` (400, with ``details.field``), ``forbidden`` (403).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import has_capability
from towngrid.core.api import ApiError

from . import actions, queries
from .models import Milestone, Pipeline, PipelineStage, Project, Target

PARSERS = [JSONParser, MultiPartParser, FormParser]
YEAR = OpenApiParameter("year", int, description="年度（默认：有数据的最近年度）")
OBJECT = OpenApiResponse(OpenApiTypes.OBJECT)
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="输入有误（invalid）"),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="无权限（forbidden）"),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="不存在"),
}


class CanViewPrograms(BasePermission):
    message = "您的角色无权查看实事项目。"

    def has_permission(self, request, view) -> bool:
        return has_capability(request.user, "programs.view")


def api_error(exc: actions.ProgramError) -> ApiError:
    details = {"field": exc.field} if exc.field else None
    return ApiError(exc.code, exc.message, status_code=exc.http_status, details=details)


def _year(request: Request) -> int | None:
    raw = (request.query_params.get("year") or "").strip()
    if not raw:
        return queries.latest_year()
    if not raw.isdigit():
        raise ApiError("invalid", "year 应为四位年份。", details={"field": "year"})
    return int(raw)


def _photo_url(request: Request, pk: int, variant: str) -> str:
    from django.urls import reverse

    return request.build_absolute_uri(reverse("programs:photo", args=[pk, variant]))


def project_detail(request: Request, project: Project) -> dict[str, Any]:
    project = queries.project_detail_queryset().get(pk=project.pk)
    row = queries.project_row(project)
    row["milestones"] = [
        {
            "id": m.pk,
            "name": m.name,
            "planned_on": m.planned_on,
            "actual_on": m.actual_on,
            "late": m.is_late(actions.today()),
            "note": m.note,
        }
        for m in project.milestones.all()
    ]
    row["progress"] = [
        {
            "id": e.pk,
            "reported_on": e.reported_on,
            "percent": e.percent,
            "status": e.status,
            "text": e.text,
            "author": str(e.author) if e.author else None,
            "photos": [
                {
                    "id": p.pk,
                    "thumbnail": _photo_url(request, p.pk, "thumb"),
                    "url": _photo_url(request, p.pk, "full"),
                }
                for p in e.photos.all()
            ],
        }
        for e in project.progress.all()
    ]
    row["links"] = queries.project_links(request.user, project)
    row["can_edit"] = queries.can_edit_project(request.user, project)
    return row


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    """实事项目 of a year (``?year=``), each with its current percentage and 推进情况."""

    queryset = Project.objects.all()
    permission_classes = [CanViewPrograms]
    pagination_class = None
    parser_classes = PARSERS

    def get_queryset(self):
        return queries.projects()

    @extend_schema(parameters=[YEAR], responses={200: OBJECT})
    def list(self, request: Request, *args, **kwargs) -> Response:
        year = _year(request)
        rows = [queries.project_row(p) for p in queries.projects(year)] if year else []
        return Response(rows)

    @extend_schema(responses={200: OBJECT, 404: ERRORS[404]})
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(project_detail(request, self.get_object()))

    @extend_schema(
        request={
            "multipart/form-data": OpenApiTypes.OBJECT,
            "application/json": OpenApiTypes.OBJECT,
        },
        responses={201: OBJECT, **ERRORS},
        description="填报进展：text（必填）、percent（0–100）、reported_on（YYYY-MM-DD，默认今天）、"
        "status（可选）、photos（可多张）。",
    )
    @action(detail=True, methods=["post"])
    def progress(self, request: Request, pk=None) -> Response:
        project = self.get_object()
        data = request.data
        try:
            entry = actions.add_progress(
                project,
                text=data.get("text"),
                percent=data.get("percent"),
                reported_on=data.get("reported_on"),
                status=data.get("status") or None,
                photos=request.FILES.getlist("photos") if request.FILES else [],
                actor=request.user,
            )
        except actions.ProgramError as exc:
            raise api_error(exc) from None
        body = project_detail(request, project)
        body["entry"] = entry.pk
        return Response(body, status=201)


class MilestoneView(APIView):
    """Set (or clear, with an empty value) the day a milestone was reached."""

    permission_classes = [CanViewPrograms]
    parser_classes = PARSERS

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OBJECT, **ERRORS})
    def post(self, request: Request, pk: int, milestone: int) -> Response:
        item = (
            Milestone.objects.select_related("project").filter(pk=milestone, project_id=pk).first()
        )
        if item is None:
            raise ApiError("not_found", "里程碑不存在。", status_code=404)
        try:
            actions.set_milestone(
                item,
                actual_on=request.data.get("actual_on"),
                note=request.data.get("note"),
                actor=request.user,
            )
        except actions.ProgramError as exc:
            raise api_error(exc) from None
        return Response(project_detail(request, item.project))


def _reading_input(request: Request) -> dict[str, Any]:
    return {
        "value": request.data.get("value"),
        "as_of": request.data.get("as_of"),
        "note": request.data.get("note") or "",
    }


class TargetViewSet(viewsets.ReadOnlyModelViewSet):
    """Annual targets with the actual to date and the completion rate (``rate`` 0–1, or null
    without a target; ``rate_text`` as printed)."""

    queryset = Target.objects.all()
    permission_classes = [CanViewPrograms]
    pagination_class = None
    parser_classes = PARSERS

    def get_queryset(self):
        return queries.targets()

    @extend_schema(parameters=[YEAR], responses={200: OBJECT})
    def list(self, request: Request, *args, **kwargs) -> Response:
        year = _year(request)
        return Response([queries.target_row(t) for t in queries.targets(year)] if year else [])

    @extend_schema(responses={200: OBJECT, 404: ERRORS[404]})
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        target = self.get_object()
        row = queries.target_row(target)
        row["readings"] = [
            {"as_of": r.as_of, "value": queries.number(r.value), "note": r.note}
            for r in target.readings.all()
        ]
        row["can_edit"] = queries.can_edit_target(request.user, target)
        return Response(row)

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OBJECT, **ERRORS},
        description="登记累计完成值：value（必填）、as_of（YYYY-MM-DD，须在目标年度内）、note。",
    )
    @action(detail=True, methods=["post"])
    def readings(self, request: Request, pk=None) -> Response:
        target = self.get_object()
        try:
            actions.record_target(target, actor=request.user, **_reading_input(request))
        except actions.ProgramError as exc:
            raise api_error(exc) from None
        return Response(queries.target_row(target), status=201)


class PipelineViewSet(viewsets.ReadOnlyModelViewSet):
    """Pipelines (推进任务) with their stages: count reached, count assigned, completion rate."""

    queryset = Pipeline.objects.all()
    permission_classes = [CanViewPrograms]
    pagination_class = None

    def get_queryset(self):
        return queries.pipelines()

    @extend_schema(parameters=[YEAR], responses={200: OBJECT})
    def list(self, request: Request, *args, **kwargs) -> Response:
        year = _year(request)
        return Response([queries.pipeline_row(p) for p in queries.pipelines(year)] if year else [])

    @extend_schema(responses={200: OBJECT, 404: ERRORS[404]})
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        pipeline = self.get_object()
        row = queries.pipeline_row(pipeline)
        row["can_edit"] = queries.can_edit_pipeline(request.user, pipeline)
        return Response(row)


class StageReadingView(APIView):
    """Record the count a pipeline stage has reached to date."""

    permission_classes = [CanViewPrograms]
    parser_classes = PARSERS

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OBJECT, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        stage = PipelineStage.objects.select_related("pipeline").filter(pk=pk).first()
        if stage is None:
            raise ApiError("not_found", "阶段不存在。", status_code=404)
        try:
            actions.record_stage(stage, actor=request.user, **_reading_input(request))
        except actions.ProgramError as exc:
            raise api_error(exc) from None
        pipeline = queries.pipelines().get(pk=stage.pipeline_id)
        return Response(queries.pipeline_row(pipeline), status=201)


class SummaryView(APIView):
    """Projects with percentages, targets with rates, pipelines with stages (the big screen's)."""

    permission_classes = [CanViewPrograms]

    @extend_schema(parameters=[YEAR], responses={200: OBJECT})
    def get(self, request: Request) -> Response:
        return Response(queries.summary(_year(request)))
