"""The half-year report page: only town roles with reports.generate; the job generates the file
with progress, and only its creator downloads it."""

from __future__ import annotations

import io

from django.test import Client
from django.urls import reverse

from towngrid.core.models import Job

PAGE = "reports:halfyear"
START = "reports:halfyear-generate"


def test_only_reports_generate_opens_the_page(login_as, user_factory):
    for role in ("grid_worker", "area_staff", "dept_handler", "ops_dispatcher", "resident"):
        client = login_as(role)
        assert client.get(reverse(PAGE)).status_code == 403, role
        refused = client.post(reverse(START), {"period": "2023H1", "format": "pdf"})
        assert refused.status_code == 403, role
    assert not Job.objects.exists()
    page = login_as("town_leader").get(reverse(PAGE))
    assert page.status_code == 200
    assert 'value="2023H1" selected' in page.content.decode()


def test_a_grid_role_given_the_capability_is_still_refused(user_factory, demo_town):
    from towngrid.accounts.models import Role

    role = Role.objects.create(
        code="area_reporter",
        name="片区报表员",
        scope_kind="grid",
        capabilities=["reports.generate"],
    )
    user = user_factory(role=role.code, scope=demo_town.area)
    client = Client()
    client.force_login(user)
    response = client.get(reverse(PAGE))
    assert response.status_code == 403


def test_generating_runs_a_job_and_offers_the_file(login_as):
    from docx import Document

    client = login_as("town_leader")
    response = client.post(reverse(START), {"period": "2023H1", "format": "docx"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == "done", job.error
    assert job.kind == "reports.halfyear" and job.file_name == "halfyear-2023H1.docx"
    assert job.percent == 100 and job.result["实事项目"] == 10
    page = client.get(response["Location"]).content.decode()
    assert reverse("jobs:download", args=[job.pk]) in page
    download = client.get(reverse("jobs:download", args=[job.pk]))
    document = Document(io.BytesIO(b"".join(download.streaming_content)))
    assert any(t.rows[0].cells[0].text == "序号" for t in document.tables)
    # The file is its creator's: another town user does not get it.
    other = login_as("ops_shift_lead")
    assert other.get(reverse("jobs:download", args=[job.pk])).status_code == 404


def test_bad_period_or_format_is_refused_on_the_page(login_as):
    client = login_as("town_leader")
    bad = client.post(reverse(START), {"period": "2023H9", "format": "pdf"})
    assert bad.status_code == 400
    assert "报告期“2023H9”无法识别" in bad.content.decode()
    bad = client.post(reverse(START), {"period": "2023H1", "format": "ppt"})
    assert bad.status_code == 400 and "不支持的格式" in bad.content.decode()
    assert not Job.objects.exists()


def test_the_period_selector_reaches_back_to_the_data(login_as):
    from towngrid.programs import actions
    from towngrid.programs.models import Project

    client = login_as("town_leader")
    # A progress entry made today moves the default to the current half-year, but the
    # demo's 2023 stays selectable.
    actions.add_progress(Project.objects.get(year=2023, number=10), text="今日进展。", percent=70)
    page = client.get(reverse(PAGE)).content.decode()
    assert 'value="2023H1"' in page and 'value="2023H2"' in page
