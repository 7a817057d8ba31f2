"""Background jobs: progress, result file, failure messages, and that a job is its creator's."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from towngrid.core.jobs import JobError, is_stale, start_job
from towngrid.core.models import Job, JobStatus

pytestmark = pytest.mark.django_db


def _count(progress, *, n: int):
    progress.set_total(n)
    for _ in range(n):
        progress.advance()
    progress.say("完成")
    progress.save_file("../../escape/out.txt", b"hello")
    return {"counted": n}


def _refuse(progress):
    progress.set_total(10)
    progress.advance(3)
    raise JobError("第 3 行身份证号校验位错误")


def _crash(progress):
    raise ValueError("boom")


def test_a_job_reports_progress_and_keeps_its_file(user_factory, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    owner = user_factory(role="community_staff")
    job = start_job(kind="test.count", title="计数", actor=owner, func=_count, kwargs={"n": 5})
    assert job.status == JobStatus.DONE
    assert (job.done, job.total, job.percent) == (5, 5, 100)
    assert job.result == {"counted": 5}
    # The file name is reduced to its last part: no writing outside the job's folder.
    assert job.file_name == "out.txt"
    assert (tmp_path / "jobs" / str(job.pk) / "out.txt").read_bytes() == b"hello"

    client = Client()
    client.force_login(owner)
    page = client.get(reverse("jobs:detail", args=[job.pk]))
    assert page.status_code == 200
    assert "计数" in page.content.decode()
    download = client.get(reverse("jobs:download", args=[job.pk]))
    assert b"".join(download.streaming_content) == b"hello"
    body = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["status"] == "done" and body["percent"] == 100
    assert body["download_url"] == reverse("jobs:download", args=[job.pk])


def test_a_failed_job_says_why(user_factory):
    owner = user_factory(role="community_staff")
    job = start_job(kind="test.refuse", title="导入", actor=owner, func=_refuse)
    assert job.status == JobStatus.FAILED
    assert job.error == "第 3 行身份证号校验位错误"
    assert (job.done, job.total) == (3, 10)
    crashed = start_job(kind="test.crash", title="崩溃", actor=owner, func=_crash)
    assert crashed.status == JobStatus.FAILED
    assert "ValueError" in crashed.error

    client = Client()
    client.force_login(owner)
    fragment = client.get(reverse("jobs:progress", args=[job.pk])).content.decode()
    assert "第 3 行身份证号校验位错误" in fragment
    assert client.get(reverse("jobs:download", args=[job.pk])).status_code == 404


def test_another_user_cannot_see_a_job(user_factory):
    owner = user_factory(role="community_staff")
    other = user_factory(role="community_staff")
    job = start_job(kind="test.count", title="计数", actor=owner, func=_count, kwargs={"n": 1})
    client = Client()
    client.force_login(other)
    assert client.get(reverse("jobs:detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("jobs:download", args=[job.pk])).status_code == 404
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert client.get("/api/v1/jobs/").json()["results"] == []
    assert Client().get(f"/api/v1/jobs/{job.pk}/").status_code in {401, 403}


def test_a_running_job_without_heartbeat_is_stale(user_factory):
    from datetime import timedelta

    from django.utils import timezone

    job = Job.objects.create(kind="x", title="x", status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    job.refresh_from_db()
    assert is_stale(job)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    job.refresh_from_db()
    assert not is_stale(job)
