"""The half-year report page (/reports/half-year/): choose the period and the format, generate
the document as a background job with a progress bar, download the file.

Generating needs ``reports.generate`` and a town-wide role: the report is the town government's
and covers every grid and department, so a grid- or department-scoped user (should a town give
one that capability) would see figures outside the scope. The job belongs to its creator
(towngrid.core.jobs): nobody else sees its progress or downloads its file.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind

from .generator import FORMATS, FormatError, check_format, run_job
from .period import Period, PeriodError, parse_period

JOB_KIND = "reports.halfyear"
FORMAT_LABELS = {"docx": "Word (DOCX)", "pdf": "PDF", "xlsx": "Excel (XLSX)"}


def can_generate(user) -> bool:
    return has_capability(user, "reports.generate") and scope_kind_of(user) == ScopeKind.TOWN


def _require(request: HttpRequest) -> None:
    if not has_capability(request.user, "reports.generate"):
        raise PermissionDenied(_("您的角色无权生成工作报告。"))
    if scope_kind_of(request.user) != ScopeKind.TOWN:
        raise PermissionDenied(_("半年工作报告覆盖全镇，仅全镇范围的角色可以生成。"))


def latest_reported_period(today=None) -> Period:
    """The half-year of the latest figure entered (progress, target or stage reading), so the
    page opens on the period the data describes; the current half-year without data."""
    from towngrid.programs.models import ProgressEntry, StageReading, TargetReading

    days = [
        ProgressEntry.objects.aggregate(d=Max("reported_on"))["d"],
        TargetReading.objects.aggregate(d=Max("as_of"))["d"],
        StageReading.objects.aggregate(d=Max("as_of"))["d"],
    ]
    days = [d for d in days if d]
    day = max(days) if days else (today or timezone.localdate())
    return Period(day.year, 1 if day.month <= 6 else 2)


def period_choices(today=None) -> list[Period]:
    """Every half-year from the first year with data (projects, targets, pipelines or cases; at
    most ten years back) to the current one, newest first."""
    from towngrid.cases.models import Case
    from towngrid.programs.queries import years

    today = today or timezone.localdate()
    first_case = Case.objects.aggregate(d=Min("reported_at"))["d"]
    known = [*years(), today.year] + ([timezone.localtime(first_case).year] if first_case else [])
    first = max(min(known), today.year - 10)
    out, year, half = [], today.year, 1 if today.month <= 6 else 2
    while year >= first:
        out.append(Period(year, half))
        year, half = (year, 1) if half == 2 else (year - 1, 2)
    return out


def _page(request: HttpRequest, *, period: str, fmt: str, error: str = "", status: int = 200):
    from towngrid.core.jobs import is_stale, job_file
    from towngrid.core.views_jobs import visible_jobs

    job = None
    raw = (request.GET.get("job") or "").strip()
    if raw.isdigit():
        job = visible_jobs(request.user).filter(pk=int(raw), kind=JOB_KIND).first()
    recent = visible_jobs(request.user).filter(kind=JOB_KIND).order_by("-created_at")[:5]
    context = {
        "periods": period_choices(),
        "period": period,
        "formats": [(f, FORMAT_LABELS[f]) for f in FORMATS],
        "fmt": fmt,
        "error": error,
        "job": job,
        "stale": is_stale(job) if job else False,
        "has_file": bool(job and job_file(job)),
        "recent": recent,
    }
    return render(request, "reports/halfyear/index.html", context, status=status)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require(request)
    period = request.GET.get("period") or latest_reported_period().code
    return _page(request, period=period, fmt=request.GET.get("format") or "docx")


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """POST: check the period and the format, then start the generation job."""
    _require(request)
    if request.method != "POST":
        return redirect("reports:halfyear")
    from towngrid.core.jobs import start_job

    raw_period = request.POST.get("period", "")
    raw_format = request.POST.get("format", "")
    try:
        fmt = check_format(raw_format)
        period = parse_period(raw_period)
    except (PeriodError, FormatError) as exc:
        return _page(request, period=raw_period, fmt=raw_format, error=str(exc), status=400)
    job = start_job(
        kind=JOB_KIND,
        title=_("%(period)s工作报告（%(format)s）")
        % {"period": period.label, "format": fmt.upper()},
        actor=request.user,
        func=run_job,
        kwargs={"period": period.code, "fmt": fmt},
    )
    url = reverse("reports:halfyear")
    return redirect(f"{url}?period={period.code}&format={fmt}&job={job.pk}")
