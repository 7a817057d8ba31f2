"""Pages of the reports: the phone drill-down (分级明细), the cases behind a figure, XLSX exports,
and the big screen (一屏观天下) with its JSON feed.

These pages serve aggregates and lists read through ``queries`` (which applies the user's scope
to every roll-up, case and node), not one model's rows, so the scoped generic views do not fit;
the capability ``reports.view`` is checked here.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from towngrid.accounts.access import has_capability
from towngrid.cases.models import Source
from towngrid.cases.views import period_choices

from . import queries
from .queries import FIGURE_LABELS, PRESETS, ReportError
from .tables import Table, tables_of, xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 30
# The half-year report's pages (towngrid/reports/halfyear/urls.py, the programs engineer's):
# the first of these names that exists gets a button on the drill-down.
HALFYEAR_URL_NAMES = ["reports:halfyear", "reports:halfyear-index", "reports:half-year"]


def _denied(request, message: str, status: int = 403):
    return render(request, "reports/error.html", {"message": message}, status=status)


def _guard(request):
    if not has_capability(request.user, "reports.view"):
        return _denied(request, _("您没有查看报表的权限。"))
    return None


def _url(link) -> str | None:
    if not link:
        return None
    view, params = link
    name = "reports:index" if view == "drilldown" else "reports:cases"
    return f"{reverse(name)}?{urlencode(params)}"


def _halfyear_url() -> str | None:
    for name in HALFYEAR_URL_NAMES:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def _render_table(table: Table) -> dict:
    def row(r):
        return {
            "label": r.label,
            "url": _url(r.link),
            "cells": [{"value": c.value, "kind": c.kind, "url": _url(c.link)} for c in r.cells],
        }

    return {
        "key": table.key,
        "title": table.title,
        "columns": table.columns,
        "rows": [row(r) for r in table.rows],
        "total": row(table.total) if table.total else None,
    }


def _params(request):
    """The period form sends ``period`` and the dates together: a named period wins when it is
    chosen and the dates were left as the page showed them (``shown``)."""
    params = request.GET
    if (
        params.get("period")
        and params.get("start")
        and params.get("shown") == (f"{params.get('start')}/{params.get('end')}")
    ):
        params = params.copy()
        params.pop("start")
        params.pop("end", None)
    return params


def _drilldown(request):
    params = _params(request)
    node = queries.node_for(request.user, params.get("node"))
    period = queries.parse_period(params, request.user, node)
    filt = queries.parse_filter(params)
    return queries.drilldown(request.user, node.code, period, filt)


def _query(result, **extra) -> str:
    params = {"node": result["node"]["code"], **result["period"].as_params()}
    params.update(result["filter"].as_params())
    params.update(extra)
    return urlencode(params)


@login_required
def index(request):
    """分级明细: a node's figures, its children, by source and class, the other apps' sections;
    every figure a link one level down, and at the micro-grid to the cases themselves."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        result = _drilldown(request)
    except ReportError as exc:
        return _denied(request, exc.message, exc.status)
    period = result["period"]
    node = result["node"]
    base = {"node": node["code"], **result["filter"].as_params()}
    presets = [
        {
            "label": _(label),
            "url": "?" + urlencode({**base, "period": key}),
            "active": request.GET.get("period") == key,
        }
        for key, label in PRESETS.items()
    ]
    ctx = {
        "result": result,
        "node": node,
        "period": period,
        "filter": result["filter"],
        "filter_label": result["filter"].label(),
        "unfiltered_url": "?" + urlencode({"node": node["code"], **period.as_params()}),
        "path": [
            {**p, "url": "?" + urlencode({"node": p["code"], **period.as_params()})}
            for p in result["path"]
        ],
        "tables": [_render_table(t) for t in tables_of(result)],
        "kpis": [
            {
                "label": _(FIGURE_LABELS[f]),
                "value": result["totals"][f],
                "url": _url(("cases", {**base, **period.as_params(), "measure": f})),
            }
            for f in ("reported", "closed", "overdue", "open")
        ],
        "totals": result["totals"],
        "presets": presets,
        "export_query": _query(result),
        "halfyear_url": _halfyear_url(),
        "named_periods": period_choices(),
        "period_name": request.GET.get("period", ""),
        "can_screen": True,
    }
    return render(request, "reports/index.html", ctx)


@login_required
def export(request):
    """One table of the drill-down (``table``), or all of them, as XLSX."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        result = _drilldown(request)
    except ReportError as exc:
        return _denied(request, exc.message, exc.status)
    tables = tables_of(result)
    wanted = request.GET.get("table") or ""
    if wanted:
        tables = [t for t in tables if t.key == wanted]
        if not tables:
            return _denied(request, _("没有这张表：%(t)s。") % {"t": wanted}, 400)
    period = result["period"]
    heading = f"{result['node']['name']} · {period.start:%Y-%m-%d} 至 {period.end:%Y-%m-%d}"
    if result["filter"].active:
        heading += f" · {result['filter'].label()}"
    body = xlsx(tables, heading)
    name = f"drilldown-{result['node']['code']}-{wanted or 'all'}-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    response = HttpResponse(body, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _case_list(request):
    params = request.GET
    node = queries.node_for(request.user, params.get("node"))
    period = queries.parse_period(params, request.user, node)
    filt = queries.parse_filter(params, allow_both=True)
    measure = params.get("measure") or "reported"
    now = timezone.now()
    qs = queries.figure_cases(request.user, node, period, measure, filt, now=now)
    return node, period, filt, measure, qs


@login_required
def cases(request):
    """The cases a figure counts (as many as the figure), newest first, each linked to its page."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        node, period, filt, measure, qs = _case_list(request)
    except ReportError as exc:
        return _denied(request, exc.message, exc.status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {"node": node.code, **period.as_params(), **filt.as_params(), "measure": measure}
    list_params = queries.case_list_params(node, period, measure, filt)
    ctx = {
        "node": node,
        "period": period,
        "measure": measure,
        "measure_label": _(FIGURE_LABELS.get(measure, measure)),
        "filter_label": filt.label(),
        "page": page,
        "count": page.paginator.count,
        "query": urlencode(query),
        "back_url": reverse("reports:index")
        + "?"
        + urlencode({"node": node.code, **period.as_params(), **filt.as_params()}),
        "case_list_url": (reverse("cases:list") + "?" + urlencode(list_params))
        if list_params
        else None,
        "sources": dict(Source.choices),
    }
    return render(request, "reports/cases.html", ctx)


@login_required
def cases_export(request):
    """The cases behind a figure as XLSX (at most 20,000 rows, like the cases app's export)."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        node, period, filt, measure, qs = _case_list(request)
    except ReportError as exc:
        return _denied(request, exc.message, exc.status)
    from .tables import Cell, TableRow

    table = Table(
        "cases",
        _("案件清单"),
        [
            ("category", _("小类"), "text"),
            ("status", _("状态"), "text"),
            ("source", _("来源"), "text"),
            ("grid", _("网格"), "text"),
            ("reported_at", _("上报时间"), "text"),
        ],
    )
    for c in qs[:20000]:
        table.rows.append(
            TableRow(
                c.number,
                [
                    Cell(c.category.name, "text"),
                    Cell(c.get_status_display(), "text"),
                    Cell(c.get_source_display(), "text"),
                    Cell(c.grid.name, "text"),
                    Cell(timezone.localtime(c.reported_at).strftime("%Y-%m-%d %H:%M"), "text"),
                ],
            )
        )
    heading = (
        f"{node.name} · {period.start:%Y-%m-%d} 至 {period.end:%Y-%m-%d} · "
        f"{_(FIGURE_LABELS.get(measure, measure))}"
    )
    if filt.active:
        heading += f" · {filt.label()}"
    response = HttpResponse(xlsx([table], heading), content_type=XLSX_TYPE)
    name = f"cases-{node.code}-{measure}-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


# --- the big screen -------------------------------------------------------------------------


def _screen_period(request, node):
    """The screen's period when the request names one (``period``, or ``start`` and ``end``);
    None for the default (this year, live)."""
    if not any(request.GET.get(k) for k in ("period", "start", "end")):
        return None
    return queries.parse_period(request.GET, request.user, node)


def _refresh_seconds(value: str | None) -> int:
    """How often the screen polls: 30 s, or ``?refresh=N`` (2 s to an hour)."""
    try:
        return min(max(int(value or 30), 2), 3600)
    except ValueError:
        return 30


@login_required
def screen(request):
    """一屏观天下: the full-screen dashboard of the user's scope (or ``node`` inside it)."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        node = queries.node_for(request.user, request.GET.get("node"))
        period = _screen_period(request, node)
        data = queries.screen_data(request.user, node.code, period)
    except ReportError as exc:
        return _denied(request, exc.message, exc.status)
    params = {"node": node.code, **({} if period is None else period.as_params())}
    ctx = {
        "node": node,
        "data": data,
        "geojson": queries.micro_geojson(request.user, node),
        "data_url": reverse("reports:screen-data") + "?" + urlencode(params),
        "drilldown_url": reverse("reports:index") + "?" + urlencode({"node": node.code}),
        "refresh_seconds": _refresh_seconds(request.GET.get("refresh")),
    }
    return render(request, "reports/screen.html", ctx)


@login_required
def screen_data(request):
    """The big screen's figures as JSON, polled every 30 s."""
    if not has_capability(request.user, "reports.view"):
        return JsonResponse(
            {"error": {"code": "forbidden", "message": _("您没有查看报表的权限。"), "details": {}}},
            status=403,
        )
    try:
        node = queries.node_for(request.user, request.GET.get("node"))
        data = queries.screen_data(request.user, node.code, _screen_period(request, node))
    except ReportError as exc:
        return JsonResponse(
            {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
            status=exc.status,
        )
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False, "default": str})
