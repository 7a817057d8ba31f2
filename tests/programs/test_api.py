"""The programs API: reads for programs.view, writes by the action's rules, structured errors."""

from __future__ import annotations

import pytest

from towngrid.programs.models import PipelineStage, Project, Target

API = "/api/v1/programs"


def project(number: int) -> Project:
    return Project.objects.get(year=2023, number=number)


def test_lists_and_details(login_as):
    client = login_as("town_leader")
    projects = client.get(f"{API}/projects/").json()
    assert [p["number"] for p in projects] == list(range(1, 11))
    assert [p["budget"] for p in projects][:3] == [400, 200, 29354]
    assert projects[8]["budget"] == 371.6
    detail = client.get(f"{API}/projects/{projects[9]['id']}/").json()
    assert detail["implementer"].startswith("城市运行管理中心(")
    assert detail["milestones"] and detail["progress"][0]["percent"] == 60
    assert {p["name"] for p in detail["links"]["places"]} >= {"联勤村", "五星村"}
    targets = {t["code"]: t for t in client.get(f"{API}/targets/?year=2023").json()}
    assert targets["tax-revenue"]["rate_text"] == "39%"
    assert targets["tax-revenue"]["rate"] == pytest.approx(11.68 / 30)
    pipelines = client.get(f"{API}/pipelines/").json()
    assert [s["rate_text"] for s in pipelines[0]["stages"]] == ["95%", "74%", "63%"]
    summary = client.get(f"{API}/summary/").json()
    assert summary["year"] == 2023 and summary["totals"]["projects"] == 10
    assert client.get(f"{API}/projects/?year=1990").json() == []
    bad = client.get(f"{API}/projects/?year=abc")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_reading_needs_programs_view(login_as, client):
    assert client.get(f"{API}/projects/").status_code in (401, 403)
    worker = login_as("grid_worker")
    response = worker.get(f"{API}/summary/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_progress_by_the_department(login_as):
    client = login_as("dept_handler")
    p10, p3 = project(10), project(3)
    ok = client.post(
        f"{API}/projects/{p10.pk}/progress/",
        {"text": "三村封闭化基建完工。", "percent": 75, "reported_on": "2023-07-28"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["percent"] == 75 and ok.json()["can_edit"] is True
    bad = client.post(
        f"{API}/projects/{p10.pk}/progress/", {"text": "x", "percent": 300}, format="multipart"
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "code": "invalid",
        "message": "完成进度应为 0 到 100 之间的整数。",
        "details": {"field": "percent"},
    }
    refused = client.post(
        f"{API}/projects/{p3.pk}/progress/",
        {"text": "x", "percent": 5},
        content_type="application/json",
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    milestone = p10.milestones.first()
    done = client.post(
        f"{API}/projects/{p10.pk}/milestones/{milestone.pk}/",
        {"actual_on": "2023-06-28"},
        content_type="application/json",
    )
    assert done.status_code == 200
    missing = client.post(
        f"{API}/projects/{p3.pk}/milestones/{milestone.pk}/",
        {"actual_on": "2023-06-28"},
        content_type="application/json",
    )
    assert missing.status_code == 404


def test_readings(login_as, user_factory, client):
    client.force_login(user_factory(role="dept_handler", department="housing"))
    stage = PipelineStage.objects.get(pipeline__code="elevator-retrofit", name="开工")
    ok = client.post(
        f"{API}/stages/{stage.pk}/readings/",
        {"value": "39", "as_of": "2023-12-31"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    assert ok.json()["stages"][1]["rate_text"] == "100%"
    tax = Target.objects.get(year=2023, code="tax-revenue")
    refused = client.post(
        f"{API}/targets/{tax.pk}/readings/", {"value": "20"}, content_type="application/json"
    )
    assert refused.status_code == 403
    sysadmin = login_as("sysadmin")
    wrong_year = sysadmin.post(
        f"{API}/targets/{tax.pk}/readings/",
        {"value": "20", "as_of": "2024-01-31"},
        content_type="application/json",
    )
    assert wrong_year.status_code == 400
    assert wrong_year.json()["error"]["details"] == {"field": "as_of"}
