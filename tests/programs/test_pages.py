"""Pages of the programs app: the list, a project, targets, pipelines; forms and permissions."""

from __future__ import annotations

from django.urls import reverse

from towngrid.programs.models import ProgressEntry, Project, Target


def project(number: int) -> Project:
    return Project.objects.get(year=2023, number=number)


def test_index_lists_projects_targets_and_pipelines(login_as):
    client = login_as("town_leader")
    response = client.get(reverse("programs:index"))
    assert response.status_code == 200
    body = response.content.decode()
    for name in [
        "居民小区电子信息屏更新建设项目",
        "城中村物业化管理",
        "推荐就业",
        "既有多层住宅加装电梯",
    ]:
        assert name in body
    assert 'data-testid="project-3"' in body and "95%" in body
    assert "39%" in body and "58%" in body and "99.8%" in body
    assert reverse("reports:halfyear") in body  # the leader may generate the report


def test_roles_without_programs_view_are_refused(login_as):
    for role in ("grid_worker", "resident", "security_admin"):
        client = login_as(role)
        assert client.get(reverse("programs:index")).status_code == 403, role
        url = reverse("programs:project", args=[project(1).pk])
        assert client.get(url).status_code == 403, role


def test_project_page_shows_the_form_only_to_its_department(login_as):
    p10, p3 = project(10), project(3)
    client = login_as("dept_handler")
    page = client.get(reverse("programs:project", args=[p10.pk])).content.decode()
    assert 'data-testid="progress-form"' in page
    assert "城市运行管理中心(莲溪物业、联勤村、一六村、卫行村、御桥村、南新村、五星村)" in page
    assert "1660 万元" in page
    page = client.get(reverse("programs:project", args=[p3.pk])).content.decode()
    assert 'data-testid="progress-form"' not in page
    refused = client.post(
        reverse("programs:add-progress", args=[p3.pk]), {"text": "x", "percent": "99"}
    )
    assert refused.status_code == 403
    assert not ProgressEntry.objects.filter(project=p3, text="x").exists()


def test_adding_progress_through_the_form(login_as):
    p10 = project(10)
    client = login_as("dept_handler")
    url = reverse("programs:add-progress", args=[p10.pk])
    bad = client.post(url, {"text": "御桥村完工", "percent": "150"})
    assert bad.status_code == 400
    assert "完成进度应为 0 到 100 之间的整数" in bad.content.decode()
    assert "御桥村完工" in bad.content.decode()  # what was typed is kept
    ok = client.post(url, {"text": "御桥村封闭化基建完工。", "percent": "70"}, follow=True)
    assert ok.status_code == 200
    p10.refresh_from_db()
    assert p10.percent == 70
    assert "御桥村封闭化基建完工。" in ok.content.decode()


def test_linked_places_show_codes_only_inside_the_scope(login_as, demo_town):
    p10 = project(10)
    community = login_as("community_staff")  # 联勤村
    page = community.get(reverse("programs:project", args=[p10.pk])).content.decode()
    assert reverse("grids:detail", args=[demo_town.community.code]) in page
    others = p10.links.filter(kind="place").exclude(grid=demo_town.community)
    for link in others:
        assert link.grid.name in page and link.grid.code not in page


def test_targets_page_and_recording(login_as, user_factory, client):
    client.force_login(user_factory(role="dept_handler", department="service-center"))
    page = client.get(reverse("programs:targets") + "?year=2023").content.decode()
    assert "市就业困难人员就业" in page and "69%" in page
    jobs = Target.objects.get(year=2023, code="job-placement")
    tax = Target.objects.get(year=2023, code="tax-revenue")
    assert reverse("programs:record-target", args=[jobs.pk]) in page
    assert reverse("programs:record-target", args=[tax.pk]) not in page
    url = reverse("programs:record-target", args=[jobs.pk])
    bad = client.post(url, {"value": "abc", "as_of": "2023-09-30"})
    assert bad.status_code == 400 and "累计完成应为数字" in bad.content.decode()
    client.post(url, {"value": "1600", "as_of": "2023-09-30"})
    jobs.refresh_from_db()
    assert jobs.actual == 1600
    assert (
        client.post(reverse("programs:record-target", args=[tax.pk]), {"value": "1"}).status_code
        == 403
    )


def test_pipelines_page(login_as):
    page = login_as("town_leader").get(reverse("programs:pipelines")).content.decode()
    for text in ["签约", "开工", "竣工", "95%", "74%", "63%", "杨莲路敬老院", "306", "283"]:
        assert text in page
