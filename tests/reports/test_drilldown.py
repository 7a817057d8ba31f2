"""分级明细 on the demo town: at every level the children add up to the parent, every figure
equals the number of cases it lists, and the breakdowns add up too."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from towngrid.cases.models import OPEN_STATUSES, Case
from towngrid.grids.models import GridNode
from towngrid.reports import queries
from towngrid.reports.queries import FIGURES, Filter, Period
from towngrid.reports.rollups import COUNTER_Q, day_bounds

H1 = Period(date(2023, 1, 1), date(2023, 6, 30))
PERIODS = [
    H1,
    Period(date(2023, 3, 1), date(2023, 3, 31)),
    Period(date(2023, 2, 14), date(2023, 2, 14)),
]
NOW = timezone.now()


def naive(code: str, period: Period, filt: Filter | None = None) -> dict[str, int]:
    """The node's figures straight from the cases (the definition the roll-ups must meet)."""
    filt = filt or Filter()
    lo, hi = day_bounds(period.start, period.end)
    qs = Case.objects.filter(
        filt.case_q(), grid_code__startswith=code, reported_at__gte=lo, reported_at__lt=hi
    )
    agg = {f"n_{k}": Count("pk", filter=q) for k, q in COUNTER_Q.items()}
    agg["n_open_overdue"] = Count("pk", filter=Q(status__in=OPEN_STATUSES, step_deadline__lt=NOW))
    row = qs.aggregate(**agg)
    out = {k: row[f"n_{k}"] for k in COUNTER_Q}
    out["overdue"] = out["closed_late"] + row["n_open_overdue"]
    return {f: out[f] for f in FIGURES}


def figures(fig: dict) -> dict[str, int]:
    return {f: fig[f] for f in FIGURES}


@pytest.mark.parametrize("period", PERIODS, ids=["H1", "March", "one-day"])
def test_every_level_adds_up_to_its_parent(report_town, demo_user, period):
    leader = demo_user("town_leader")
    nodes = GridNode.objects.filter(code__startswith=report_town.town.code, level__lte=3)
    checked = 0
    for node in nodes:
        result = queries.drilldown(leader, node.code, period, now=NOW, sections=False)
        totals = figures(result["totals"])
        assert totals == naive(node.code, period), node.code
        summed = dict.fromkeys(FIGURES, 0)
        for row in result["children"]:
            assert row.code is not None, f"unassigned cases under {node.code}"
            for f in FIGURES:
                summed[f] += row.figures[f]
        assert summed == totals, node.code
        for rows in (result["by_source"], result["by_category"]):
            summed = dict.fromkeys(FIGURES, 0)
            for row in rows:
                for f in FIGURES:
                    summed[f] += row.figures[f]
            assert summed == totals, node.code
        checked += 1
    assert checked > 30
    if period == H1:
        assert figures(queries.drilldown(leader, None, period, now=NOW)["totals"])["reported"] > 300


def test_micro_grids_add_up_and_each_figure_lists_its_cases(report_town, demo_user):
    leader = demo_user("town_leader")
    community = report_town.community
    result = queries.drilldown(leader, community.code, H1, now=NOW, sections=False)
    assert result["children"] and all(r.level == 4 for r in result["children"])
    busy = [r for r in result["children"] if r.figures["reported"]]
    assert busy
    for row in busy:
        micro = GridNode.objects.get(code=row.code)
        leaf = queries.drilldown(leader, row.code, H1, now=NOW, sections=False)
        assert leaf["leaf"] and not leaf["children"]
        assert figures(leaf["totals"]) == figures(row.figures) == naive(row.code, H1)
        for measure in FIGURES:
            listed = queries.figure_cases(leader, micro, H1, measure, now=NOW).count()
            assert listed == row.figures[measure], (row.code, measure)


def test_filtered_drilldown_adds_up(report_town, demo_user):
    leader = demo_user("town_leader")
    town = report_town.town
    source = queries.drilldown(leader, town.code, H1, now=NOW, sections=False)["by_source"][0]
    major = queries.drilldown(leader, town.code, H1, now=NOW, sections=False)["by_category"][0]
    for filt in (Filter(source=source.code), Filter(category=major.code)):
        for node in GridNode.objects.filter(code__startswith=town.code, level__lte=3)[:15]:
            result = queries.drilldown(leader, node.code, H1, filt, now=NOW, sections=False)
            assert figures(result["totals"]) == naive(node.code, H1, filt)
            summed = dict.fromkeys(FIGURES, 0)
            for row in result["children"]:
                for f in FIGURES:
                    summed[f] += row.figures[f]
            assert summed == figures(result["totals"])
        top = queries.drilldown(leader, town.code, H1, filt, now=NOW, sections=False)
        assert top["totals"]["reported"] == (source if filt.source else major).figures["reported"]


def test_rates_follow_the_evaluation_definitions(report_town, demo_user):
    fig = queries.drilldown(demo_user("town_leader"), None, H1, now=NOW, sections=False)["totals"]
    due = fig["opened"] - fig["parked"]
    assert fig["due"] == due > 0
    assert fig["closure_rate"] == pytest.approx(fig["closed"] / due)
    assert fig["on_time_rate"] == pytest.approx(fig["closed_on_time"] / due)


def test_empty_period_has_no_rates(report_town, demo_user):
    fig = queries.drilldown(
        demo_user("town_leader"), None, Period(date(2022, 1, 1), date(2022, 1, 31)), sections=False
    )["totals"]
    assert fig["reported"] == 0 and fig["closure_rate"] is None and fig["on_time_rate"] is None


def test_case_outside_every_child_shows_as_unassigned(report_town, demo_user):
    """A case whose micro-grid code exists under no child (the grid was re-drawn) still adds up."""
    from towngrid.reports.actions import rebuild_rollups

    case = next(c for c in report_town.cases if c.status == "closed")
    town = report_town.town
    Case.objects.filter(pk=case.pk).update(grid_code=town.code + "9" + "99" + "999")
    rebuild_rollups()
    result = queries.drilldown(demo_user("town_leader"), town.code, H1, now=NOW, sections=False)
    unassigned = [r for r in result["children"] if r.code is None]
    assert len(unassigned) == 1 and unassigned[0].figures["reported"] == 1
    summed = sum(r.figures["reported"] for r in result["children"])
    assert summed == result["totals"]["reported"]


@pytest.mark.parametrize(
    "start, end",
    [
        ((2023, 1, 1), (2023, 6, 30)),  # whole months only
        ((2023, 1, 10), (2023, 3, 31)),  # a ragged start
        ((2023, 2, 1), (2023, 4, 17)),  # a ragged end
        ((2023, 1, 31), (2023, 3, 1)),  # both, one whole month between
        ((2023, 2, 3), (2023, 2, 20)),  # inside one month
        ((2022, 12, 15), (2023, 1, 15)),  # across a year
    ],
)
def test_month_and_day_rows_make_up_any_period(report_town, demo_user, start, end):
    period = Period(date(*start), date(*end))
    leader = demo_user("town_leader")
    for node in (report_town.town, report_town.area, report_town.community):
        result = queries.drilldown(leader, node.code, period, now=NOW, sections=False)
        assert figures(result["totals"]) == naive(node.code, period), (node.code, start, end)
