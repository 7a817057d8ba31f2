"""Periods (inclusive days in Asia/Shanghai, presets, named periods), the pages' links and the
XLSX exports of every table and of the cases behind a figure."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from towngrid.cases.models import Case
from towngrid.reports import queries
from towngrid.reports.actions import rebuild_rollups
from towngrid.reports.queries import FIGURES, Period

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def edge_cases(report_town):
    """Three cases in one micro-grid: 2023-04-30 23:59:59, 2023-05-01 00:00 and 2023-05-31
    23:59:59 local time (all other cases moved out of that micro-grid's May)."""
    micro = report_town.micro_grid
    Case.objects.filter(grid_code__startswith=micro.code).delete()
    template = next(c for c in report_town.cases if c.status == "closed")
    made = []
    for i, at in enumerate(
        [
            datetime(2023, 4, 30, 23, 59, 59, tzinfo=SH),
            datetime(2023, 5, 1, 0, 0, tzinfo=SH),
            datetime(2023, 5, 31, 23, 59, 59, tzinfo=SH),
        ]
    ):
        template.pk = None
        template.number = f"EDGE-{i}"
        template.grid = micro
        template.grid_code = micro.code
        template.reported_at = at
        template.save()
        made.append(template.number)
    rebuild_rollups()
    return micro


def reported(user, micro, period) -> int:
    return queries.drilldown(user, micro.code, period, sections=False)["totals"]["reported"]


def test_period_days_are_inclusive_local_days(edge_cases, demo_user):
    leader = demo_user("town_leader")
    assert reported(leader, edge_cases, Period(date(2023, 5, 1), date(2023, 5, 31))) == 2
    assert reported(leader, edge_cases, Period(date(2023, 4, 30), date(2023, 4, 30))) == 1
    assert reported(leader, edge_cases, Period(date(2023, 4, 1), date(2023, 5, 1))) == 2
    assert reported(leader, edge_cases, Period(date(2023, 6, 1), date(2023, 6, 30))) == 0
    named = queries.parse_period({"period": "2023-05"}, leader)
    assert (named.start, named.end) == (date(2023, 5, 1), date(2023, 5, 31))
    assert reported(leader, edge_cases, named) == 2
    quarter = queries.parse_period({"period": "2023Q2"}, leader)
    assert (quarter.start, quarter.end) == (date(2023, 4, 1), date(2023, 6, 30))


def test_default_and_presets_follow_the_last_day_with_cases(report_town, demo_user):
    from django.db.models import Max
    from django.utils import timezone

    leader = demo_user("town_leader")
    latest = Case.objects.aggregate(last=Max("reported_at"))["last"].astimezone(SH).date()
    last = queries.reference_day(leader)
    assert last == min(latest, timezone.localdate())
    default = queries.parse_period({}, leader)
    assert default.start == date(last.year, 1 if last.month <= 6 else 7, 1) <= last <= default.end
    month = queries.parse_period({"period": "month"}, leader)
    assert (month.start, month.end) == (last.replace(day=1), last)
    week = queries.parse_period({"period": "week"}, leader)
    assert week.end == last and week.start.weekday() == 0 and last - week.start < timedelta(days=7)
    # An archive (nothing reported lately): "this month" is the month of the last case.
    Case.objects.filter(reported_at__gte=datetime(2023, 7, 1, tzinfo=SH)).delete()
    rebuild_rollups()
    last = queries.reference_day(leader)
    assert date(2023, 6, 1) <= last <= date(2023, 6, 30)
    month = queries.parse_period({"period": "month"}, leader)
    assert (month.start, month.end) == (date(2023, 6, 1), last)


def test_named_period_from_the_form(report_town, login_as):
    client = login_as("town_leader")
    shown = "2026-07-01/2026-12-31"
    page = client.get(f"/reports/?period=2023Q2&start=2026-07-01&end=2026-12-31&shown={shown}")
    assert (page.context["period"].start, page.context["period"].end) == (
        date(2023, 4, 1),
        date(2023, 6, 30),
    )
    page = client.get(f"/reports/?period=2023Q2&start=2023-05-01&end=2023-05-02&shown={shown}")
    assert page.context["period"].start == date(2023, 5, 1)


def test_page_links_go_one_level_down_then_to_the_cases(report_town, login_as):
    client = login_as("town_leader")
    page = client.get("/reports/?start=2023-01-01&end=2023-06-30")
    assert page.status_code == 200
    tables = {t["key"]: t for t in page.context["tables"]}
    children = tables["children"]
    first = next(r for r in children["rows"] if r["cells"][0]["value"])
    # An area's figures link to the area's own drill-down (one level down) …
    link = urlparse(first["cells"][0]["url"])
    assert link.path == "/reports/" and link.query == urlparse(first["url"]).query
    # … and so do a community's, down to a micro-grid, whose figures list the cases.
    page = client.get(first["url"])
    community = next(r for r in page.context["tables"][0]["rows"] if r["cells"][0]["value"])
    assert urlparse(community["cells"][0]["url"]).path == "/reports/"
    page = client.get(community["url"])
    micro_rows = [r for r in page.context["tables"][0]["rows"] if r["cells"][0]["value"]]
    row = micro_rows[0]
    closed = row["cells"][FIGURES.index("closed")]
    cell = closed if closed["value"] else row["cells"][0]
    # The micro-grid's own page: no children, every total a link to the cases.
    leaf = client.get(row["url"])
    assert leaf.context["tables"][0]["key"] == "totals"
    assert urlparse(leaf.context["tables"][0]["total"]["cells"][0]["url"]).path == "/reports/cases/"
    cases_url = cell["url"]
    assert urlparse(cases_url).path == "/reports/cases/"
    listing = client.get(cases_url)
    assert listing.status_code == 200 and listing.context["count"] == cell["value"]
    assert f'data-testid="figure-count">{cell["value"]}<' in listing.content.decode()


def test_export_of_one_table_matches_the_page(report_town, login_as):
    client = login_as("town_leader")
    page = client.get("/reports/?start=2023-01-01&end=2023-06-30")
    children = next(t for t in page.context["tables"] if t["key"] == "children")
    response = client.get(
        "/reports/export.xlsx?node=310115125&start=2023-01-01&end=2023-06-30&table=children"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    assert len(wb.sheetnames) == 1
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    assert "2023-01-01" in rows[0][0]
    assert rows[1][0] == "名称" and rows[1][1] == "上报"
    body = rows[2 : 2 + len(children["rows"])]
    assert [r[0] for r in body] == [r["label"] for r in children["rows"]]
    assert [r[1] for r in body] == [r["cells"][0]["value"] for r in children["rows"]]
    total = rows[2 + len(children["rows"])]
    assert total[1] == children["total"]["cells"][0]["value"] == sum(r[1] for r in body)
    assert ws.cell(row=3, column=len(FIGURES) + 2).number_format == "0.0%"


def test_export_all_tables_and_the_cases(report_town, login_as):
    client = login_as("town_leader")
    response = client.get("/reports/export.xlsx?start=2023-01-01&end=2023-06-30")
    wb = load_workbook(io.BytesIO(response.content))
    assert {"下级网格", "按来源", "按大类"} <= set(wb.sheetnames)
    assert client.get("/reports/export.xlsx?table=nonsense").status_code == 400
    town = report_town.town
    fig = queries.drilldown(
        client.user, town.code, Period(date(2023, 1, 1), date(2023, 6, 30)), sections=False
    )
    response = client.get(
        "/reports/cases/export.xlsx?measure=overdue&start=2023-01-01&end=2023-06-30"
    )
    ws = load_workbook(io.BytesIO(response.content)).active
    numbers = [r[0] for r in ws.iter_rows(min_row=3, values_only=True)]
    assert len(numbers) == fig["totals"]["overdue"] > 0
    api = client.get(
        "/api/v1/reports/drilldown/export.xlsx?table=by_source&start=2023-01-01&end=2023-06-30"
    )
    assert api.status_code == 200 and load_workbook(io.BytesIO(api.content)).sheetnames == [
        "按来源"
    ]
