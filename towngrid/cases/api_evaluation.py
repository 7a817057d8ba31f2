"""综合评价 over the API: the figures as JSON and as an XLSX download.

``GET /api/v1/evaluation/?start=YYYY-MM-DD&end=YYYY-MM-DD&root=CODE``
``GET /api/v1/evaluation/export.xlsx?…`` (same parameters)

Scope is applied by hand (``evaluation.evaluate_for``), because these views serve aggregates
rather than rows of a model, so the ``ScopedViewSetMixin`` has no queryset to narrow:

- grid-scoped users evaluate their own subtree (the default root) or any node inside it; a root
  outside it is a 404, exactly like a code that does not exist;
- town-scoped users evaluate any node (default: the town);
- department users evaluate the cases of their own department only (the cases they see through
  ``accounts.access.visible_to``), over any part of the grid;
- users with no data scope (residents, security and audit administrators) are refused (403).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.core.api import ApiError

from . import evaluation

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DAYS = 3 * 366  # a longer period is almost certainly a typo, and costly to compute

PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="开始日期（含），默认本月 1 日"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="结束日期（不含），默认明天"),
    OpenApiParameter("root", str, description="评价此网格编码的子树（默认：本人范围或全镇）"),
]


def _date_param(request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError("invalid_parameter", f"参数 {name} 应为日期 YYYY-MM-DD：{raw}。") from None


def evaluation_for(request) -> evaluation.EvaluationResult:
    """Parse the parameters and compute the evaluation within the caller's scope."""
    today = timezone.localdate()
    start = _date_param(request, "start", today.replace(day=1))
    end = _date_param(request, "end", today + timedelta(days=1))
    if end <= start:
        raise ApiError("invalid_parameter", "结束日期应晚于开始日期。")
    if (end - start).days > MAX_DAYS:
        raise ApiError("invalid_parameter", "评价期间不能超过三年。")
    try:
        return evaluation.evaluate_for(request.user, start, end, request.query_params.get("root"))
    except evaluation.EvaluationDenied as denied:
        raise ApiError(denied.code, denied.message, status_code=denied.status) from None


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors are always JSON, whatever the client accepts (the XLSX view answers success with a
    file of its own)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class EvaluationView(APIView):
    """综合评价 (GB/T 30428.4): area, department, grid-worker and operations-centre tables."""

    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="evaluation",
        parameters=PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        description=(
            "按区域、部门、网格员和城运中心岗位的评价指标、综合得分和 A–E 等级。比率为 0–1 的"
            "小数，分母为零时为 null；综合得分 0–100。"
        ),
        tags=["cases"],
    )
    def get(self, request):
        return Response(evaluation_for(request).to_dict())


class EvaluationExportView(APIView):
    """The same evaluation as an XLSX workbook."""

    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="evaluation_export",
        parameters=PARAMETERS,
        responses={
            (200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX 工作簿")
        },
        description="综合评价导出为 Excel：区域、部门、网格员、城运中心四张表和说明。",
        tags=["cases"],
    )
    def get(self, request):
        result = evaluation_for(request)
        body = evaluation.evaluation_xlsx(result)
        name = f"evaluation-{result.root_code or 'all'}-{result.start:%Y%m%d}-{result.end:%Y%m%d}"
        response = HttpResponse(body, content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
