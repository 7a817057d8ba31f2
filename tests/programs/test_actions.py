"""Actions of the programs app: progress with photos (EXIF stripped), readings, milestones,
links; who may do what; bad input refused with nothing written."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from towngrid.core.models import AuditEvent
from towngrid.programs import actions, queries
from towngrid.programs.actions import ProgramError
from towngrid.programs.models import (
    PipelineStage,
    ProgressEntry,
    ProgressPhoto,
    Project,
    Target,
)


def project(number: int) -> Project:
    return Project.objects.get(year=2023, number=number)


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position and a camera model."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "SecretPhone 12"  # Model
    gps = {1: "N", 2: (31.0, 11.0, 24.0), 3: "E", 4: (121.0, 32.0, 24.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


# ---- rates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actual, target, text",
    [
        (11.68, 30, "39%"),
        (1035, 1800, "58%"),  # 57.5 rounds half up
        (52, 55, "95%"),
        (499, 500, "99.8%"),  # never "100%" for an unfinished task
        (1, 2000, "0.1%"),  # never "0%" for a started one
        (1, 10**6, "0.1%"),
        (9999, 10000, "99.9%"),
        (0, 10, "0%"),
        (10, 10, "100%"),
        (12, 10, "120%"),
        (5, None, "—"),
        (5, 0, "—"),
    ],
)
def test_rate_text(actual, target, text):
    assert queries.rate_text(queries.rate(actual, target)) == text


@given(st.integers(0, 10**6), st.integers(1, 10**6))
@settings(max_examples=200, deadline=None)
def test_rate_text_never_claims_done_or_nothing_wrongly(actual, target):
    text = queries.rate_text(queries.rate(actual, target))
    assert (text == "100%") == (actual == target)
    assert (text == "0%") == (actual == 0)
    if actual < target:
        assert not text.startswith("100")


# ---- progress ---------------------------------------------------------------------------------


def test_progress_updates_the_project_and_strips_exif(demo_town, demo_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    handler = demo_user("dept_handler")  # 城市运行管理中心: the lead of project 10
    p10 = project(10)
    entry = actions.add_progress(
        p10,
        text="御桥、五星、南新三村封闭化基建项目全面完工。",
        percent="80",
        reported_on=date(2023, 7, 31),
        photos=[jpeg_with_gps()],
        actor=handler,
    )
    p10.refresh_from_db()
    assert (p10.percent, p10.status, p10.progress_on) == (80, "in_progress", date(2023, 7, 31))
    assert p10.progress_text.startswith("御桥、五星、南新三村")
    photo = entry.photos.get()
    stored = Image.open(photo.file.open("rb"))
    assert not stored.getexif(), "the stored photo keeps EXIF"
    assert b"SecretPhone" not in photo.file.open("rb").read()
    assert AuditEvent.objects.filter(action="programs.add_progress", object_id=str(p10.pk)).exists()
    # A backdated entry joins the log but does not replace the newer figures.
    actions.add_progress(
        p10, text="补录。", percent=50, reported_on=date(2023, 5, 1), actor=handler
    )
    p10.refresh_from_db()
    assert p10.percent == 80 and p10.progress.count() == 3
    # The report for 2023H1 still shows June's text.
    assert queries.progress_as_of(p10, date(2023, 6, 30)).percent == 60


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"text": "", "percent": 10}, "text"),
        ({"text": "x", "percent": 101}, "percent"),
        ({"text": "x", "percent": "十"}, "percent"),
        ({"text": "x", "percent": 10, "reported_on": "2023-13-01"}, "reported_on"),
        ({"text": "x", "percent": 90, "status": "completed"}, "percent"),
        ({"text": "x", "percent": 10, "status": "bogus"}, "status"),
        ({"text": "x" * 4001, "percent": 10}, "text"),
    ],
)
def test_bad_progress_is_refused_and_nothing_written(demo_town, fields, field):
    p3 = project(3)
    before = (ProgressEntry.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ProgramError) as info:
        actions.add_progress(p3, **fields)
    assert info.value.code == "invalid" and info.value.field == field
    assert (ProgressEntry.objects.count(), AuditEvent.objects.count()) == before
    p3.refresh_from_db()
    assert p3.percent == 95


def test_future_date_and_not_a_photo_are_refused(demo_town, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    p3 = project(3)
    tomorrow = actions.today() + timedelta(days=1)
    with pytest.raises(ProgramError, match="不能晚于今天"):
        actions.add_progress(p3, text="x", percent=10, reported_on=tomorrow)
    with pytest.raises(ProgramError) as info:
        actions.add_progress(p3, text="x", percent=10, photos=[b"not an image at all"])
    assert info.value.field == "photos"
    assert not ProgressPhoto.objects.exists()
    assert not any(tmp_path.rglob("*.jpg"))


# ---- who may change what ----------------------------------------------------------------------


def test_department_handlers_edit_only_their_departments_projects(
    demo_town, demo_user, user_factory
):
    handler = demo_user("dept_handler")  # 城市运行管理中心
    assert queries.can_edit_project(handler, project(10))
    assert not queries.can_edit_project(handler, project(3))
    with pytest.raises(ProgramError) as info:
        actions.add_progress(project(3), text="x", percent=10, actor=handler)
    assert info.value.code == "forbidden"
    # A cooperating department may report too (project 7: 规建办, 党政办 cooperate).
    planner = user_factory(role="dept_handler", department="planning-environment")
    assert queries.can_edit_project(planner, project(7))
    assert queries.can_edit_project(planner, project(3))
    assert not queries.can_edit_project(planner, project(10))
    # Town roles with programs.edit edit everything; leaders (view only) and grid roles nothing.
    assert queries.can_edit_project(demo_user("sysadmin"), project(1))
    for role in ("town_leader", "area_staff", "community_staff", "resident"):
        assert not queries.can_edit_project(demo_user(role), project(10)), role
    # A department user without a department edits nothing.
    assert not queries.can_edit_project(user_factory(role="dept_handler"), project(10))


def test_target_and_stage_readings(demo_town, demo_user, user_factory):
    service = user_factory(role="dept_handler", department="service-center")
    jobs = Target.objects.get(year=2023, code="job-placement")
    actions.record_target(jobs, value="1500", as_of="2023-09-30", note="三季度", actor=service)
    jobs.refresh_from_db()
    assert (jobs.actual, jobs.as_of) == (1500, date(2023, 9, 30))
    assert queries.target_row(jobs)["rate_text"] == "83%"
    assert queries.target_row(jobs, date(2023, 6, 30))["actual"] == 1035
    with pytest.raises(ProgramError, match="2023 年内"):
        actions.record_target(jobs, value="1", as_of="2022-12-31", actor=service)
    with pytest.raises(ProgramError, match="不小于 0"):
        actions.record_target(jobs, value="-3", actor=service)
    with pytest.raises(ProgramError, match="应为数字"):
        actions.record_target(jobs, value="很多", actor=service)
    tax = Target.objects.get(year=2023, code="tax-revenue")  # 经济发展办公室's
    with pytest.raises(ProgramError) as info:
        actions.record_target(tax, value="12", as_of="2023-07-31", actor=service)
    assert info.value.code == "forbidden"

    housing = user_factory(role="dept_handler", department="housing")
    signed = PipelineStage.objects.get(pipeline__code="elevator-retrofit", name="签约")
    actions.record_stage(signed, value="55", as_of="2023-10-31", actor=housing)
    assert queries.stage_row(signed)["rate_text"] == "100%"
    with pytest.raises(ProgramError):
        actions.record_stage(signed, value="56", as_of="2023-11-30", actor=service)


def test_milestones_and_links(demo_town, demo_user):
    handler = demo_user("dept_handler")
    p10 = project(10)
    milestone = p10.milestones.get(name__startswith="御桥、五星、南新")
    actions.set_milestone(milestone, actual_on="2023-07-25", note="全面完工", actor=handler)
    milestone.refresh_from_db()
    assert milestone.actual_on == date(2023, 7, 25) and not milestone.is_late()
    with pytest.raises(ProgramError, match="格式"):
        actions.set_milestone(milestone, actual_on="25/07/2023", actor=handler)
    with pytest.raises(ProgramError) as info:
        actions.set_milestone(project(3).milestones.first(), actual_on="2023-07-01", actor=handler)
    assert info.value.code == "forbidden"
    with pytest.raises(ProgramError, match="已经关联"):
        actions.link(p10, grid=p10.links.filter(kind="place").first().grid)
