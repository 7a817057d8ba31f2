"""The registry's Excel pages: templates, upload → dry-run report → commit (both as background
jobs with a progress bar), and exports of any filtered list.

Thin: the work is in ``excel`` (import) and ``exports`` (export). Import pages need
``registry.import``; an upload's rows are checked against the uploader's grid scope. A batch is
its uploader's alone (like a job), so another user's batch is a 404. Exports need
``registry.view`` and hold exactly the rows the list shows (scope, then the list's filters);
plain personal values need ``personal.reveal`` and a reason, and are audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from towngrid.accounts.access import has_capability
from towngrid.core.jobs import is_stale

from . import excel, exports
from .io_models import ImportBatch, ImportStatus

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS_SHOWN = 500


def _forbidden(request, message: str) -> HttpResponse:
    return render(request, "registry/io/forbidden.html", {"message": message}, status=403)


def _type_or_404(name: str) -> str:
    try:
        return exports.type_key(name)
    except excel.ImportError_:
        raise Http404(_("未知的登记类型。")) from None


def visible_batches(user):
    qs = ImportBatch.objects.select_related("check_job", "commit_job")
    return qs if user.is_superuser else qs.filter(created_by=user)


@login_required
def index(request):
    """Templates, the upload form and the user's own recent batches."""
    if not has_capability(request.user, "registry.import"):
        return _forbidden(request, _("您没有导入导出实有信息的权限。"))
    types = [{"key": k, "label": t.label, "slug": exports.SLUG_OF_KEY[k]}
             for k, t in excel.TYPES.items()]  # fmt: skip
    return render(
        request,
        "registry/io/index.html",
        {
            "types": types,
            "batches": visible_batches(request.user)[:20],
            "selected": request.GET.get("type", ""),
            "max_mb": excel.MAX_UPLOAD_BYTES // 1024 // 1024,
        },
    )


@login_required
def template(request, type_key: str):
    if not has_capability(request.user, "registry.import"):
        return _forbidden(request, _("您没有导入导出实有信息的权限。"))
    key = _type_or_404(type_key)
    response = HttpResponse(excel.template_bytes(key), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="registry-{key}-template.xlsx"'
    return response


@login_required
@require_POST
def upload(request):
    if not has_capability(request.user, "registry.import"):
        return _forbidden(request, _("您没有导入导出实有信息的权限。"))
    upload_file = request.FILES.get("file")
    if upload_file is None:
        messages.error(request, _("请选择要上传的 Excel 文件。"))
        return redirect("registry:io")
    try:
        batch = excel.start_batch(
            actor=request.user, type_key=request.POST.get("type", ""), upload=upload_file
        )
    except excel.ImportError_ as exc:
        messages.error(request, exc.message)
        return redirect("registry:io")
    return redirect("registry:io_batch", pk=batch.pk)


@login_required
def batch_detail(request, pk: int):
    """The batch: the running job's progress bar, then the dry-run report (every rejected row
    with its reason) or the commit button, then the result."""
    if not has_capability(request.user, "registry.import"):
        return _forbidden(request, _("您没有导入导出实有信息的权限。"))
    batch = get_object_or_404(visible_batches(request.user), pk=pk)
    job = batch.commit_job or batch.check_job
    running = job is not None and not job.finished and not is_stale(job)
    report = batch.report or {}
    errors = report.get("errors", [])
    return render(
        request,
        "registry/io/batch.html",
        {
            "batch": batch,
            "rtype": excel.TYPES.get(batch.type_key),
            "job": job,
            "running": running,
            "stale": job is not None and is_stale(job),
            "report": report,
            "errors": errors[:ERRORS_SHOWN],
            "errors_hidden": max(0, len(errors) - ERRORS_SHOWN),
            "error_labels": excel.ERROR_LABELS,
            "error_counts": [
                {"code": code, "label": excel.ERROR_LABELS.get(code, code), "count": n}
                for code, n in sorted(report.get("error_counts", {}).items())
            ],
            "can_commit": batch.status == ImportStatus.CHECKED,
            "job_has_file": bool(job and job.file_name),
        },
    )


@login_required
@require_POST
def batch_commit(request, pk: int):
    if not has_capability(request.user, "registry.import"):
        return _forbidden(request, _("您没有导入导出实有信息的权限。"))
    batch = get_object_or_404(visible_batches(request.user), pk=pk)
    try:
        excel.commit_batch(batch, actor=request.user)
    except excel.ImportError_ as exc:
        messages.error(request, exc.message)
    return redirect("registry:io_batch", pk=batch.pk)


@login_required
def export(request, type_key: str):
    """The filtered list (the list page's query string) as a workbook, streamed. ``reveal=1``
    with ``reason`` gives plain personal values to a permitted user (audited)."""
    if not has_capability(request.user, "registry.view"):
        return _forbidden(request, _("您没有查看实有信息的权限。"))
    key = _type_or_404(type_key)
    reveal = request.GET.get("reveal") in {"1", "true", "on"}
    try:
        handle, _count, _revealed = exports.export(
            key,
            request.GET,
            actor=request.user,
            reveal=reveal,
            reason=request.GET.get("reason", ""),
        )
    except exports.ExportError as exc:
        messages.error(request, exc.message)
        back = reverse(f"registry:{exports.SLUG_OF_KEY[key]}")
        return redirect(back + (f"?{request.GET.urlencode()}" if request.GET else ""))
    return FileResponse(
        handle, as_attachment=True, filename=exports.file_name(key), content_type=XLSX
    )


@login_required
def export_form(request, type_key: str):
    """Ask for the reason before an export with plain personal values (phone-friendly form)."""
    if not has_capability(request.user, "registry.view"):
        return _forbidden(request, _("您没有查看实有信息的权限。"))
    key = _type_or_404(type_key)
    params = request.GET.copy()
    params.pop("reveal", None)
    params.pop("reason", None)
    return render(
        request,
        "registry/io/export.html",
        {
            "key": key,
            "rtype": excel.TYPES[key],
            "params": [(k, v) for k, values in params.lists() for v in values],
            "query": params.urlencode(),
            "can_reveal": has_capability(request.user, "personal.reveal"),
            "list_url": reverse(f"registry:{exports.SLUG_OF_KEY[key]}"),
        },
    )
