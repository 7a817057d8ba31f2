"""Who sees which figures: a community user drills only within its subtree (pages and API),
roles without reports.view are refused, bad parameters get clear errors."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pytest

from towngrid.reports import queries
from towngrid.reports.queries import Period, ReportError

H1 = {"start": "2023-01-01", "end": "2023-06-30"}


def api(client, path: str, **params):
    return client.get(f"/api/v1/reports/{path}?{urlencode(params)}", HTTP_ACCEPT="application/json")


def test_community_user_starts_at_its_community_and_stays_inside(report_town, login_as):
    client = login_as("community_staff")
    community = report_town.community
    body = api(client, "drilldown/", **H1).json()
    assert body["node"]["code"] == community.code
    assert [p["code"] for p in body["path"]] == [community.code]
    assert all(c["code"].startswith(community.code) for c in body["children"])
    micro = body["children"][0]["code"]
    assert api(client, "drilldown/", node=micro, **H1).status_code == 200
    # The town, the area and a neighbouring community are "not found".
    neighbour = (
        type(community)
        .objects.filter(level=3, parent=community.parent)
        .exclude(pk=community.pk)
        .first()
    )
    for code in (report_town.town.code, report_town.area.code, neighbour.code):
        response = api(client, "drilldown/", node=code, **H1)
        assert response.status_code == 404, code
        assert response.json()["error"]["code"] == "not_found"
        assert client.get(f"/reports/?node={code}").status_code == 404
        assert api(client, "cases/", node=code, **H1).status_code == 404
        assert client.get(f"/reports/export.xlsx?node={code}").status_code == 404


def test_community_figures_equal_the_town_view_of_the_community(report_town, login_as, demo_user):
    community = report_town.community
    mine = api(login_as("community_staff"), "drilldown/", **H1).json()
    town_view = queries.drilldown(
        demo_user("town_leader"),
        community.code,
        Period(date(2023, 1, 1), date(2023, 6, 30)),
        sections=False,
    )
    assert mine["totals"]["reported"] == town_view["totals"]["reported"] > 0
    assert [c["reported"] for c in mine["children"]] == [
        r.figures["reported"] for r in town_view["children"]
    ]


def test_community_screen_shows_only_its_subtree(report_town, login_as):
    client = login_as("community_staff")
    community = report_town.community
    data = client.get("/reports/screen/data/").json()
    assert data["node"]["code"] == community.code
    assert all(code.startswith(community.code) for code in data["open_by_micro"])
    assert all(p["code"].startswith(community.code) for p in data["top_places"])
    page = client.get("/reports/screen/")
    assert page.status_code == 200
    body = page.content.decode()
    from towngrid.grids.models import GridNode

    outside = GridNode.objects.filter(code__startswith=report_town.town.code, level__gte=3).exclude(
        code__startswith=community.code
    )
    assert not [code for code in outside.values_list("code", flat=True) if code in body]
    geo = page.context["geojson"]
    assert geo["features"] and all(
        f["properties"]["code"].startswith(community.code) for f in geo["features"]
    )


def test_scope_is_applied_in_queries_too(report_town, demo_user):
    with pytest.raises(ReportError) as err:
        queries.drilldown(demo_user("community_staff"), report_town.town.code, sections=False)
    assert err.value.status == 404


@pytest.mark.parametrize("role", ["grid_worker", "dept_handler", "resident", "security_admin"])
def test_roles_without_reports_are_refused(report_town, login_as, role):
    client = login_as(role)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/screen/").status_code == 403
    assert client.get("/reports/screen/data/").status_code == 403
    response = api(client, "drilldown/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_anonymous_is_sent_to_login(client, report_town):
    assert client.get("/reports/").status_code == 302
    assert api(client, "drilldown/").status_code in (401, 403)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "2023-13-01", "end": "2023-06-30"}, "start"),
        ({"start": "2023-06-30", "end": "2023-01-01"}, "end"),
        ({"start": "2023-01-01"}, "start"),
        ({"start": "2018-01-01", "end": "2023-01-01"}, "end"),
        ({"period": "someday"}, "period"),
        ({"source": "pigeon"}, "source"),
        ({"category": "X99"}, "category"),
        ({"source": "resident", "category": "E01"}, "category"),
    ],
)
def test_bad_parameters_are_clear_errors(report_town, login_as, params, field):
    client = login_as("town_leader")
    response = api(client, "drilldown/", **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and error["details"]["field"] == field
    assert error["message"]
    page = client.get("/reports/?" + urlencode(params))
    assert page.status_code == 400 and error["message"] in page.content.decode()


def test_unknown_node_is_not_found(report_town, login_as):
    response = api(login_as("town_leader"), "drilldown/", node="310115125999")
    assert response.status_code == 404


def test_grid_leader_drills_its_micro_grid_to_the_cases(report_town, login_as):
    client = login_as("grid_leader")
    body = api(client, "drilldown/", **H1).json()
    assert body["node"]["level"] == 4 and body["leaf"] and body["children"] == []
    listed = api(client, "cases/", measure="reported", limit=500, **H1).json()
    assert listed["count"] == body["totals"]["reported"]
    assert all(r["grid_code"].startswith(body["node"]["code"]) for r in listed["results"])
