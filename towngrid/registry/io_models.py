"""Models of the registry's Excel import (owned with excel.py); imported by models.py.

An ``ImportBatch`` is one uploaded workbook on its way through the page: checked (a dry run, as
a background job), then committed (a second job, all or nothing). It belongs to the user who
uploaded it, like the jobs, so it has no grid scope of its own: the rows it writes are checked
against the uploader's scope, row by row, by the importer.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ImportBatch", "ImportStatus"]


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("校验中")
    CHECKED = "checked", _("校验通过")
    REJECTED = "rejected", _("有错误")
    IMPORTING = "importing", _("导入中")
    DONE = "done", _("已导入")
    FAILED = "failed", _("失败")


class ImportBatch(models.Model):
    type_key = models.CharField(_("类型"), max_length=20)
    file_name = models.CharField(_("文件名"), max_length=200)
    # The upload under <data dir>/registry-imports/ (a name we chose, never the user's).
    stored_name = models.CharField(max_length=80, editable=False)
    status = models.CharField(
        _("状态"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.CHECKING
    )
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    rejected_rows = models.PositiveIntegerField(_("拒绝行数"), default=0)
    created_rows = models.PositiveIntegerField(_("导入条数"), default=0)
    # The last report: counts, warnings and every error (row, column, masked value, reason).
    report = models.JSONField(_("报告"), default=dict, blank=True)
    check_job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    commit_job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"
