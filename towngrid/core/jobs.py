"""Long jobs started from a page, with progress the page polls.

``start_job`` records a ``Job`` and runs a function in a worker thread of the web process (the
embedded default; with ``TOWNGRID_JOBS_INLINE`` — the test suite — inline, so the function sees
the caller's transaction). The function receives a ``JobProgress`` to report through::

    def build(progress, *, period):
        progress.set_total(3)
        progress.say("正在汇总案件…"); progress.advance()
        progress.save_file("report.pdf", pdf_bytes)
        return {"pages": 12}

It fails the job by raising: ``JobError("中文原因")`` gives its message to the user as is; any
other exception is logged and reported as an internal error. Result files are kept under
``<data dir>/jobs/<id>/``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from .models import Job, JobStatus

log = logging.getLogger(__name__)

# Progress is written at most this often (seconds), so a tight loop does not flood the database.
SAVE_EVERY = 0.5
# A running job silent for this long (seconds) died with its process.
STALE_AFTER = 300


class JobError(Exception):
    """A failure to show the user as it is (Chinese)."""


class JobProgress:
    def __init__(self, job: Job):
        self.job = job
        self._saved = 0.0

    def set_total(self, total: int) -> None:
        self.job.total = max(0, int(total))
        self._save(force=True)

    def advance(self, n: int = 1) -> None:
        self.job.done += n
        self._save()

    def set_done(self, done: int) -> None:
        self.job.done = max(0, int(done))
        self._save()

    def say(self, message: str) -> None:
        self.job.message = str(message)[:300]
        self._save(force=True)

    def save_file(self, name: str, data: bytes) -> Path:
        """Keep the job's result file (one per job; a later call replaces it)."""
        safe = Path(name).name or "result"
        path = job_dir(self.job) / safe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.job.file_name = safe
        self._save(force=True)
        return path

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved < SAVE_EVERY:
            return
        self._saved = now
        Job.objects.filter(pk=self.job.pk).update(
            total=self.job.total,
            done=self.job.done,
            message=self.job.message,
            file_name=self.job.file_name,
            heartbeat_at=timezone.now(),
        )


def job_dir(job: Job) -> Path:
    return Path(settings.DATA_DIR) / "jobs" / str(job.pk)


def job_file(job: Job) -> Path | None:
    if not job.file_name:
        return None
    path = job_dir(job) / job.file_name
    return path if path.is_file() else None


def is_stale(job: Job) -> bool:
    if job.finished:
        return False
    last = job.heartbeat_at or job.started_at or job.created_at
    return (timezone.now() - last).total_seconds() > STALE_AFTER


def start_job(
    *,
    kind: str,
    title: str,
    actor,
    func: Callable[..., dict | None],
    kwargs: dict[str, Any] | None = None,
) -> Job:
    """Record the job and run ``func(progress, **kwargs)``; returns the job at once (inline: when
    it has finished)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    job = Job.objects.create(kind=kind, title=title[:200], created_by=user)
    if settings.TOWNGRID_JOBS_INLINE:
        _run(job.pk, func, kwargs or {}, inline=True)
        job.refresh_from_db()
        return job
    thread = threading.Thread(
        target=_run, args=(job.pk, func, kwargs or {}), name=f"job-{job.pk}", daemon=True
    )
    thread.start()
    return job


def _run(job_id: int, func: Callable, kwargs: dict, inline: bool = False) -> None:
    if not inline:
        close_old_connections()
    job = Job.objects.get(pk=job_id)
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now)
    job.status = JobStatus.RUNNING
    progress = JobProgress(job)
    try:
        result = func(progress, **kwargs) or {}
    except JobError as exc:
        _finish(job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:  # the user gets a message, the log the traceback
        log.exception("job %s (%s) failed", job_id, job.kind)
        _finish(job, JobStatus.FAILED, error=f"任务出错：{exc.__class__.__name__}: {exc}")
    else:
        _finish(job, JobStatus.DONE, result=result)
    finally:
        if not inline:
            connection.close()


def _finish(job: Job, status: str, *, error: str = "", result: dict | None = None) -> None:
    if status == JobStatus.DONE and job.total:
        job.done = job.total
    Job.objects.filter(pk=job.pk).update(
        status=status,
        error=error,
        result=result or {},
        done=job.done,
        total=job.total,
        message=job.message,
        file_name=job.file_name,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
