"""一网统管 cases, after GB/T 30428 and CJ/T 315.

A problem found by anyone or anything becomes a ``Case`` that moves through the workflow in
``workflow.py`` (上报 → 受理 → 核实 → 立案 → 派遣 → 处置 → 处理反馈 → 核查 → 结案, with 返工, 回退,
延期, 挂账, reopen). Every transition is an action in ``actions.py`` that writes a ``CaseEvent``;
the case's timeline is rebuilt from its events. Categories and their time limits are data.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models
from django.utils.translation import gettext_lazy as _


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


class CategoryClass(models.Model):
    """A top class (大类), e.g. 事件 01 市容环境 or 部件 01 公用设施; two-digit code per kind."""

    kind = models.CharField(_("类别"), max_length=12, choices=CategoryKind.choices)
    code = models.CharField(_("大类编码"), max_length=2)
    name = models.CharField(_("名称"), max_length=50)
    is_local = models.BooleanField(_("本地扩展"), default=False)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("案件大类")
        verbose_name_plural = _("案件大类")
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="unique_class_code")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code} {self.name}"


class Category(models.Model):
    """A subclass (小类): what a case is about, who handles it by default, and its time limits.

    ``full_code`` is ``<kind letter><class code><subclass code>``, e.g. ``E0102`` for 事件 · 市容环境
    · 暴露垃圾, ``C0105`` for 部件 · 公用设施 · 窨井盖.
    """

    major = models.ForeignKey(
        CategoryClass, verbose_name=_("大类"), on_delete=models.PROTECT, related_name="subclasses"
    )
    code = models.CharField(_("小类编码"), max_length=2)
    full_code = models.CharField(_("完整编码"), max_length=8, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    keywords = models.CharField(
        _("检索词"), max_length=200, blank=True, help_text=_("同义词与拼音首字母，用空格分隔。")
    )
    description = models.TextField(_("说明"), blank=True)
    default_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("默认处置部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requires_after_photo = models.BooleanField(_("结案须有处置后照片"), default=True)
    closing_conditions = models.TextField(_("结案条件"), blank=True)
    is_public = models.BooleanField(
        _("居民可上报"), default=True, help_text=_("在居民上报页面和 Open311 中公开。")
    )
    is_local = models.BooleanField(_("本地扩展"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["full_code"]
        verbose_name = _("案件小类")
        verbose_name_plural = _("案件小类")
        constraints = [
            models.UniqueConstraint(fields=["major", "code"], name="unique_subclass_code")
        ]

    def __str__(self) -> str:
        return f"{self.full_code} {self.name}"


class Step(models.TextChoices):
    """The workflow steps that carry a time limit (CJ/T 315)."""

    ACCEPT = "accept", _("受理")
    VERIFY = "verify", _("核实")
    OPEN = "open", _("立案")
    DISPATCH = "dispatch", _("派遣")
    HANDLE = "handle", _("处置")
    RECHECK = "recheck", _("核查")
    CLOSE = "close", _("结案")


class LimitUnit(models.TextChoices):
    WORK_HOURS = "work_hours", _("工作时")
    WORK_DAYS = "work_days", _("工作日")
    HOURS = "hours", _("自然小时")
    DAYS = "days", _("自然日")


class TimeLimit(models.Model):
    """How long one step of one subclass may take. A row with no category is the town default
    for that step."""

    category = models.ForeignKey(
        Category,
        verbose_name=_("小类"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="time_limits",
    )
    step = models.CharField(_("环节"), max_length=12, choices=Step.choices)
    amount = models.DecimalField(_("时限"), max_digits=6, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=12, choices=LimitUnit.choices)

    class Meta:
        ordering = ["category__full_code", "step"]
        verbose_name = _("处置时限")
        verbose_name_plural = _("处置时限")
        constraints = [
            models.UniqueConstraint(fields=["category", "step"], name="unique_limit_per_step"),
            models.UniqueConstraint(
                fields=["step"], condition=models.Q(category=None), name="unique_default_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category or '默认'} · {self.get_step_display()} · {self.amount} {self.get_unit_display()}"


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员上报")
    RESIDENT = "resident", _("居民上报")
    HOTLINE = "hotline", _("12345 热线转派")
    SENSOR = "sensor", _("物联感知告警")
    AI_CAMERA = "ai_camera", _("AI 视频发现")
    CODE_SCAN = "code_scan", _("扫码上报")
    OPEN311 = "open311", _("Open311")
    OPERATIONS = "operations", _("城运中心登记")


class Status(models.TextChoices):
    REPORTED = "reported", _("待受理")
    VERIFYING = "verifying", _("待核实")
    VERIFIED = "verified", _("待立案")
    OPENED = "opened", _("待派遣")
    DISPATCHED = "dispatched", _("待处置")
    HANDLED = "handled", _("待核查")
    RECHECKED = "rechecked", _("待结案")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予立案")
    PARKED = "parked", _("挂账")
    MERGED = "merged", _("已合并")


OPEN_STATUSES = frozenset(
    {
        Status.REPORTED,
        Status.VERIFYING,
        Status.VERIFIED,
        Status.OPENED,
        Status.DISPATCHED,
        Status.HANDLED,
        Status.RECHECKED,
    }
)


class CaseQuerySet(models.QuerySet):
    def open(self) -> "CaseQuerySet":
        return self.filter(status__in=OPEN_STATUSES)


class Case(models.Model):
    number = models.CharField(_("案件编号"), max_length=20, unique=True)
    category = models.ForeignKey(
        Category, verbose_name=_("小类"), on_delete=models.PROTECT, related_name="cases"
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    source_ref = models.CharField(
        _("来源编号"), max_length=64, blank=True, help_text=_("12345 工单号、告警编号等。")
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=Status.choices, default=Status.REPORTED, db_index=True
    )
    description = models.TextField(_("问题描述"), max_length=4000)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    lng = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))
    # The most specific grid node containing the point (楼组 where there is one, else 微网格);
    # grid_code repeats its code so the scope filter and roll-ups need no join.
    grid = models.ForeignKey(
        "grids.GridNode", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="cases"
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("处置部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上报人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_cases",
    )
    is_valid_report = models.BooleanField(_("有效上报"), null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("合并至"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )

    # The current step's deadline (working calendar) and when that step began.
    step = models.CharField(_("当前环节"), max_length=12, choices=Step.choices, blank=True)
    step_started_at = models.DateTimeField(_("环节开始"), null=True, blank=True)
    step_deadline = models.DateTimeField(_("环节时限"), null=True, blank=True, db_index=True)
    # The handling deadline promised to the reporter (Open311 expected_datetime).
    handle_deadline = models.DateTimeField(_("处置时限"), null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    reported_at = models.DateTimeField(_("上报时间"), db_index=True)
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    opened_at = models.DateTimeField(_("立案时间"), null=True, blank=True, db_index=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    handled_at = models.DateTimeField(_("处置反馈时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True, db_index=True)
    closed_on_time = models.BooleanField(_("按期结案"), null=True, blank=True)
    handled_on_time = models.BooleanField(_("按期处置"), null=True, blank=True)
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    sendback_count = models.PositiveSmallIntegerField(_("回退次数"), default=0)
    # Pending requests awaiting the shift lead: "extension" or "park".
    pending_request = models.CharField(_("待审批申请"), max_length=12, blank=True)
    # What the case is about when it names a registry object (a house scanned at its door, a
    # component, a device): any model, so cases need not know the registry.
    subject_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("关联对象类型"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    subject_id = models.PositiveBigIntegerField(_("关联对象"), null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")

    # Optimistic concurrency: every transition updates "WHERE version = seen version".
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    scope_field = "grid_code"
    department_field = "department"

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes = [
            models.Index(fields=["status", "step_deadline"]),
            models.Index(fields=["department", "status"]),
            models.Index(fields=["category", "reported_at"]),
            models.Index(fields=["subject_type", "subject_id"]),
            # The live "open and overdue" count of every drill-down (reports.queries.open_overdue)
            # reads a few open cases under a grid prefix: a small index of the open ones only,
            # instead of every case of the prefix (bench/drilldown.py: 45 → 1 ms per community).
            models.Index(
                fields=["grid_code"],
                name="case_open_grid_code",
                condition=models.Q(status__in=sorted(OPEN_STATUSES)),
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.category.name}"


class CaseEvent(models.Model):
    """One thing that happened to a case. The timeline is these rows in order."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("动作"), max_length=20)
    from_status = models.CharField(_("原状态"), max_length=12, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("操作人名称"), max_length=150, blank=True)
    at = models.DateTimeField(_("时间"), db_index=True)
    note = models.TextField(_("说明"), blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deadline = models.DateTimeField(_("新环节时限"), null=True, blank=True)
    on_time = models.BooleanField(_("按时"), null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    scope_field = "case__grid_code"
    department_field = "case__department"

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("案件事件")
        verbose_name_plural = _("案件事件")
        indexes = [models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class CaseReporter(models.Model):
    """Everyone who reported the problem: the first reporter and those whose duplicate reports
    were merged into it. Each is told of progress."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reporters")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    merged_from = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_at = models.DateTimeField(_("上报时间"))

    scope_field = "case__grid_code"
    department_field = "case__department"

    class Meta:
        ordering = ["reported_at", "id"]
        verbose_name = _("上报人")
        verbose_name_plural = _("上报人")

    def __str__(self) -> str:
        return f"{self.case_id} · {self.get_source_display()}"


class AttachmentKind(models.TextChoices):
    BEFORE = "before", _("处置前")
    AFTER = "after", _("处置后")
    OTHER = "other", _("其他")


class Attachment(models.Model):
    """A photo or file on a case, checked by its bytes. ``public_file`` is the EXIF-free copy
    that anything public shows."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    kind = models.CharField(_("类型"), max_length=8, choices=AttachmentKind.choices)
    file = models.FileField(_("文件"), upload_to="cases/%Y/%m/")
    public_file = models.FileField(_("公开文件"), upload_to="cases/public/%Y/%m/", blank=True)
    thumbnail = models.FileField(_("缩略图"), upload_to="cases/thumbs/%Y/%m/", blank=True)
    content_type = models.CharField(_("内容类型"), max_length=50)
    size = models.PositiveIntegerField(_("大小"))
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    exif_lng = models.FloatField(_("照片经度"), null=True, blank=True)
    exif_lat = models.FloatField(_("照片纬度"), null=True, blank=True)
    taken_at = models.DateTimeField(_("拍摄时间"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    scope_field = "case__grid_code"
    department_field = "case__department"

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file.name}"


class CaseSequence(models.Model):
    """The last case number issued per year (BC2023-000123). ``actions.report`` increments it
    with one conditional UPDATE inside the report's transaction, so numbers are unique and
    gap-free under concurrency on both databases without a MAX() scan."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    last = models.PositiveIntegerField(_("已用序号"), default=0)

    class Meta:
        verbose_name = _("案件编号序列")
        verbose_name_plural = _("案件编号序列")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
