"""A job's page, its progress fragment (polled by htmx) and its result file. Jobs belong to the
user who started them: every query filters on ``created_by`` (superusers see all), so there is
no grid scope to apply."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from .jobs import is_stale, job_file
from .models import Job


def visible_jobs(user):
    qs = Job.objects.all()
    return qs if user.is_superuser else qs.filter(created_by=user)


def _context(job: Job) -> dict:
    return {"job": job, "stale": is_stale(job), "has_file": job_file(job) is not None}


@login_required
def detail(request, pk: int):
    job = get_object_or_404(visible_jobs(request.user), pk=pk)
    return render(request, "core/job_detail.html", _context(job))


@login_required
def progress(request, pk: int):
    job = get_object_or_404(visible_jobs(request.user), pk=pk)
    return render(request, "core/_job_progress.html", _context(job))


@login_required
def download(request, pk: int):
    job = get_object_or_404(visible_jobs(request.user), pk=pk)
    path = job_file(job)
    if path is None:
        raise Http404("该任务没有可下载的文件。")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name)
