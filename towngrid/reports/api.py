"""The reports over the API (``/api/v1/reports/…``).

``GET reports/drilldown/?node=CODE&start=YYYY-MM-DD&end=YYYY-MM-DD`` (or ``period=2023H1`` /
``month`` / …; optional ``source`` or ``category``): a node's figures, its children's and its
breakdowns, as tables. ``…/drilldown/export.xlsx?…&table=children``: the same as XLSX.
``GET reports/cases/?node=…&measure=closed&…``: the cases a figure counts (paginated).
``GET reports/screen/?node=…``: the big screen's data.

These views serve aggregates computed in ``queries``, which applies the caller's grid scope to
every roll-up, case and node (a node outside it is a 404, alike to one that does not exist), so
the ``ScopedViewSetMixin`` has no queryset to narrow; ``reports.view`` is required.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import has_capability
from towngrid.core.api import ApiError

from . import queries
from .queries import ReportError
from .tables import tables_of, xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PAGE = 500

PARAMETERS = [
    OpenApiParameter("node", str, description="网格编码（默认：本人范围的顶层，镇级角色为全镇）"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="开始日期（含）"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="结束日期（含）"),
    OpenApiParameter(
        "period",
        str,
        description="期间：today/week/month/quarter/half/year，或 2023H1、2023Q2、2023-05、2023",
    ),
    OpenApiParameter("source", str, description="只看一个来源（如 grid_worker）"),
    OpenApiParameter("category", str, description="只看一个大类（E01）或小类（E0102）"),
]


def _check(request) -> None:
    if not has_capability(request.user, "reports.view"):
        raise ApiError("forbidden", "您没有查看报表的权限。", status_code=403)


def _api_error(exc: ReportError) -> ApiError:
    return ApiError(exc.code, exc.message, status_code=exc.status, details=exc.details)


def drilldown_for(request, *, sections: bool = True) -> dict:
    _check(request)
    params = request.query_params
    try:
        node = queries.node_for(request.user, params.get("node"))
        period = queries.parse_period(params, request.user, node)
        filt = queries.parse_filter(params)
        return queries.drilldown(request.user, node.code, period, filt, sections=sections)
    except ReportError as exc:
        raise _api_error(exc) from None


def _figures(fig: dict) -> dict:
    return {k: fig[k] for k in (*queries.FIGURES, "due", "closure_rate", "on_time_rate")}


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors are JSON whatever the client accepts (the XLSX view answers success itself)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DrilldownView(APIView):
    """分级明细 of one grid node for a period."""

    @extend_schema(
        operation_id="reports_drilldown",
        parameters=PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        description=(
            "节点及其下级的案件数字（上报、立案、结案、按期结案、超期、挂账、在办，结案率、按期结案率），"
            "按来源、按大类的分布，以及其他模块的数字（综合评价、巡查、三色、告警、基础信息）。"
            "下级之和等于本级。"
        ),
        tags=["reports"],
    )
    def get(self, request):
        result = drilldown_for(request)
        period = result["period"]
        return Response(
            {
                "node": result["node"],
                "path": result["path"],
                "period": {"start": period.start, "end": period.end, "label": period.label},
                "filter": result["filter"].as_params(),
                "leaf": result["leaf"],
                "totals": _figures(result["totals"]),
                "children": [
                    {"code": r.code, "name": r.name, "level": r.level, **_figures(r.figures)}
                    for r in result["children"]
                ],
                "by_source": [
                    {"source": r.code, "label": r.name, **_figures(r.figures)}
                    for r in result["by_source"]
                ],
                "by_category": [
                    {"category": r.code, "name": r.name, **_figures(r.figures)}
                    for r in result["by_category"]
                ],
                "sections": result["sections"],
            }
        )


class DrilldownExportView(APIView):
    """The drill-down's tables as XLSX (``table`` picks one: children, totals, by_source,
    by_category, evaluation, patrol, colours, alarms, registry)."""

    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="reports_drilldown_export",
        parameters=[*PARAMETERS, OpenApiParameter("table", str, description="只导出一张表")],
        responses={(200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX")},
        tags=["reports"],
    )
    def get(self, request):
        result = drilldown_for(request)
        tables = tables_of(result)
        wanted = request.query_params.get("table") or ""
        if wanted:
            tables = [t for t in tables if t.key == wanted]
            if not tables:
                raise ApiError(
                    "invalid_parameter", f"没有这张表：{wanted}。", details={"field": "table"}
                )
        period = result["period"]
        heading = f"{result['node']['name']} · {period.start:%Y-%m-%d} 至 {period.end:%Y-%m-%d}"
        response = HttpResponse(xlsx(tables, heading), content_type=XLSX_TYPE)
        name = f"drilldown-{result['node']['code']}-{wanted or 'all'}"
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response


class FigureCasesView(APIView):
    """The cases one figure counts: ``measure`` (reported, opened, closed, closed_on_time,
    overdue, parked, open) of ``node`` in the period, with ``source`` / ``category``."""

    @extend_schema(
        operation_id="reports_cases",
        parameters=[
            *PARAMETERS,
            OpenApiParameter("measure", str, description="指标，默认 reported"),
            OpenApiParameter("limit", int, description="每页条数（默认 50，最多 500）"),
            OpenApiParameter("offset", int, description="跳过条数"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["reports"],
    )
    def get(self, request):
        _check(request)
        params = request.query_params
        try:
            node = queries.node_for(request.user, params.get("node"))
            period = queries.parse_period(params, request.user, node)
            filt = queries.parse_filter(params, allow_both=True)
            measure = params.get("measure") or "reported"
            qs = queries.figure_cases(request.user, node, period, measure, filt)
        except ReportError as exc:
            raise _api_error(exc) from None
        try:
            limit = min(int(params.get("limit") or 50), MAX_PAGE)
            offset = max(int(params.get("offset") or 0), 0)
        except ValueError:
            raise ApiError("invalid_parameter", "limit 和 offset 应为整数。") from None
        rows = qs[offset : offset + limit]
        return Response(
            {
                "count": qs.count(),
                "node": {"code": node.code, "name": node.name, "level": node.level},
                "measure": measure,
                "results": [
                    {
                        "number": c.number,
                        "category": c.category.full_code,
                        "category_name": c.category.name,
                        "status": c.status,
                        "source": c.source,
                        "grid_code": c.grid_code,
                        "grid_name": c.grid.name,
                        "reported_at": timezone.localtime(c.reported_at).isoformat(),
                    }
                    for c in rows
                ],
            }
        )


class ScreenView(APIView):
    """一屏观天下: KPIs, trends, top categories and places, open cases per micro-grid, the
    latest cases, alarms and programme progress of the caller's scope (or ``node``)."""

    @extend_schema(
        operation_id="reports_screen",
        parameters=PARAMETERS[:4],
        responses={200: OpenApiTypes.OBJECT},
        tags=["reports"],
    )
    def get(self, request):
        _check(request)
        params = request.query_params
        try:
            node = queries.node_for(request.user, params.get("node"))
            period = None
            if any(params.get(k) for k in ("period", "start", "end")):
                period = queries.parse_period(params, request.user, node)
            return Response(queries.screen_data(request.user, node.code, period))
        except ReportError as exc:
            raise _api_error(exc) from None
