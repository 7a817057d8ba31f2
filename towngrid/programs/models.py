"""Models of the programs app: 实事项目 (practical projects) with milestones, a progress log and
links to cases and places; annual targets (年度目标) with their readings; pipelines (推进任务, e.g.
加梯 签约/开工/竣工) with stages and district-assigned targets.

Projects, targets and pipelines are town-level objects, not located in one micro-grid: they carry
no ``scope_field``. Everyone with ``programs.view`` sees them (the town publishes them in its work
report); who may *change* them is decided in ``actions.py`` (``programs.edit`` and, for
department users, their own department). What a project links to (cases, grid nodes) is filtered
by the reader's scope where it is shown (``queries.project_links``).

Amounts of money are 万元 (ten thousand yuan), as the seed report writes them. Figures that change
over the year (a project's percentage, a target's actual, a stage's count) are kept as a history
(``ProgressEntry``, ``TargetReading``, ``StageReading``) so that a report for an earlier period
shows the figures as they stood at its end; the latest value is denormalised on the parent.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProjectStatus(models.TextChoices):
    PLANNED = "planned", _("未启动")
    IN_PROGRESS = "in_progress", _("推进中")
    COMPLETED = "completed", _("已完成")
    SUSPENDED = "suspended", _("暂缓")


class Project(models.Model):
    """One 实事项目 of a year, as listed in the town's 实事项目推进情况 table."""

    year = models.PositiveSmallIntegerField(_("年度"))
    number = models.PositiveSmallIntegerField(_("序号"))
    name = models.CharField(_("项目名称"), max_length=200)
    description = models.TextField(_("任务描述"))
    budget = models.DecimalField(_("预算金额（万元）"), max_digits=12, decimal_places=2)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("实施部门"),
        on_delete=models.PROTECT,
        related_name="led_projects",
    )
    cooperating_departments = models.ManyToManyField(
        "accounts.Department",
        verbose_name=_("配合部门"),
        blank=True,
        through="ProjectPartner",
        related_name="cooperating_projects",
    )
    # Partners that are not departments of the town (a section, a property company, villages):
    # printed in brackets after the departments, as the seed's 实施部门 column does.
    cooperating_units = models.CharField(_("配合单位（非部门）"), max_length=300, blank=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.PLANNED
    )
    percent = models.PositiveSmallIntegerField(
        _("完成进度（%）"), default=0, validators=[MaxValueValidator(100)]
    )
    progress_text = models.TextField(_("推进情况"), blank=True)
    progress_on = models.DateField(_("进展日期"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="programs_project_year_number")
        ]
        verbose_name = _("实事项目")
        verbose_name_plural = _("实事项目")

    def __str__(self) -> str:
        return f"{self.year}-{self.number} {self.name}"


class ProjectPartner(models.Model):
    """A cooperating department of a project, in the order the town lists them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="partners")
    department = models.ForeignKey(
        "accounts.Department", on_delete=models.PROTECT, related_name="+"
    )
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        ordering = ["project", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "department"], name="programs_partner_once")
        ]
        verbose_name = _("配合部门")
        verbose_name_plural = _("配合部门")

    def __str__(self) -> str:
        return str(self.department_id)


class Milestone(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("节点"), max_length=200)
    planned_on = models.DateField(_("计划日期"), null=True, blank=True)
    actual_on = models.DateField(_("实际日期"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        ordering = ["project", "order", "id"]
        verbose_name = _("里程碑")
        verbose_name_plural = _("里程碑")

    def __str__(self) -> str:
        return self.name

    def is_late(self, today: date | None = None) -> bool:
        today = today or date.today()
        if self.planned_on is None:
            return False
        if self.actual_on is not None:
            return self.actual_on > self.planned_on
        return self.planned_on < today


class ProgressEntry(models.Model):
    """One entry of a project's progress log (推进情况): text, percentage, photos."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="progress")
    reported_on = models.DateField(_("进展日期"))
    text = models.TextField(_("推进情况"))
    percent = models.PositiveSmallIntegerField(
        _("完成进度（%）"), validators=[MaxValueValidator(100)]
    )
    status = models.CharField(_("状态"), max_length=20, choices=ProjectStatus.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("填报人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reported_on", "-id"]
        verbose_name = _("项目进展")
        verbose_name_plural = _("项目进展")

    def __str__(self) -> str:
        return f"{self.project.name} {self.reported_on} {self.percent}%"


class ProgressPhoto(models.Model):
    """A photo of a progress entry. Only the re-encoded pixels are kept (no EXIF, no location):
    project photos are shown to everyone who sees the project."""

    entry = models.ForeignKey(ProgressEntry, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(_("照片"), upload_to="programs/%Y/%m/")
    thumbnail = models.FileField(_("缩略图"), upload_to="programs/thumbs/%Y/%m/")
    content_type = models.CharField(max_length=50)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry", "id"]
        verbose_name = _("进展照片")
        verbose_name_plural = _("进展照片")

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.pk}"


class LinkKind(models.TextChoices):
    CASE = "case", _("案件")
    PLACE = "place", _("地点")


class ProjectLink(models.Model):
    """A case or a place (grid node) a project relates to."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(_("类型"), max_length=10, choices=LinkKind.choices)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    grid = models.ForeignKey(
        "grids.GridNode", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="case", case__isnull=False, grid__isnull=True)
                    | models.Q(kind="place", grid__isnull=False, case__isnull=True)
                ),
                name="programs_link_one_target",
            ),
            models.UniqueConstraint(fields=["project", "case"], name="programs_link_case_once"),
            models.UniqueConstraint(fields=["project", "grid"], name="programs_link_grid_once"),
        ]
        verbose_name = _("关联")
        verbose_name_plural = _("关联")

    def __str__(self) -> str:
        return f"{self.kind}:{self.case_id or self.grid_id}"


class Target(models.Model):
    """An annual target (年度目标): a metric with a unit, the year's target and the actual to date.
    ``annual_target`` may be empty for a figure the town tracks without a target (its completion
    rate is then none, shown "—")."""

    year = models.PositiveSmallIntegerField(_("年度"))
    code = models.SlugField(_("编码"), max_length=60)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    metric = models.CharField(_("指标"), max_length=200)
    unit = models.CharField(_("单位"), max_length=20)
    annual_target = models.DecimalField(
        _("年度目标"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    target_source = models.CharField(
        _("目标来源"), max_length=100, blank=True, help_text=_("如：年初目标、新区下达")
    )
    actual = models.DecimalField(_("累计完成"), max_digits=14, decimal_places=2, default=0)
    as_of = models.DateField(_("截至日期"), null=True, blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("责任部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="targets",
    )
    key_figure = models.BooleanField(
        _("关键指标"), default=False, help_text=_("列入工作报告的关键指标。")
    )
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        ordering = ["-year", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["year", "code"], name="programs_target_year_code")
        ]
        verbose_name = _("年度目标")
        verbose_name_plural = _("年度目标")

    def __str__(self) -> str:
        return f"{self.year} {self.metric}"


class TargetReading(models.Model):
    """The actual of a target as of a date (累计值, not an increment)."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="readings")
    as_of = models.DateField(_("截至日期"))
    value = models.DecimalField(_("累计完成"), max_digits=14, decimal_places=2)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("目标完成记录")
        verbose_name_plural = _("目标完成记录")

    def __str__(self) -> str:
        return f"{self.as_of} {self.value}"


class Pipeline(models.Model):
    """A task followed through stages (推进任务), e.g. 加梯 签约 → 开工 → 竣工, each stage with the
    count reached and the count assigned (e.g. by the district, 新区下达任务)."""

    year = models.PositiveSmallIntegerField(_("年度"))
    code = models.SlugField(_("编码"), max_length=60)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("名称"), max_length=200)
    unit = models.CharField(_("单位"), max_length=20)
    target_source = models.CharField(_("任务来源"), max_length=100, blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("责任部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pipelines",
    )
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["-year", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["year", "code"], name="programs_pipeline_year_code")
        ]
        verbose_name = _("推进任务")
        verbose_name_plural = _("推进任务")

    def __str__(self) -> str:
        return f"{self.year} {self.name}"


class PipelineStage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("阶段"), max_length=100)
    actual = models.DecimalField(_("完成数"), max_digits=14, decimal_places=2, default=0)
    target = models.DecimalField(
        _("任务数"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    as_of = models.DateField(_("截至日期"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        ordering = ["pipeline", "order", "id"]
        verbose_name = _("阶段")
        verbose_name_plural = _("阶段")

    def __str__(self) -> str:
        return f"{self.pipeline.name} · {self.name}"


class StageReading(models.Model):
    stage = models.ForeignKey(PipelineStage, on_delete=models.CASCADE, related_name="readings")
    as_of = models.DateField(_("截至日期"))
    value = models.DecimalField(_("完成数"), max_digits=14, decimal_places=2)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("阶段完成记录")
        verbose_name_plural = _("阶段完成记录")

    def __str__(self) -> str:
        return f"{self.as_of} {self.value}"
