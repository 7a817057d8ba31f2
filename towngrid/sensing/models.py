"""物联感知: devices, their observations, threshold rules, alarms and the policies that turn
alarms into cases (see docs/sensing.md).

Every message from every transport goes through ``actions.ingest``: it validates, stores the
observation once (idempotent by ``(device, message_id)``), keeps the latest value, runs the
device's rules with their per-device state (``RuleState``), raises, refreshes or clears alarms
(ThingsBoard's lifecycle: at most one active alarm per device and type) and applies the
``CasePolicy`` of the alarm's type. What cannot be stored lands in ``DeadLetter`` with reasons.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Protocol(models.TextChoices):
    MQTT = "mqtt", "MQTT"
    HTTP = "http", "HTTP"
    FIWARE = "fiware", "FIWARE NGSI"


class Transport(models.TextChoices):
    HTTP = "http", "HTTP"
    MQTT = "mqtt", "MQTT"
    FIWARE = "fiware", "FIWARE"
    INTERNAL = "internal", _("内部")


class DeviceState(models.TextChoices):
    UNKNOWN = "unknown", _("未知")
    ONLINE = "online", _("在线")
    OFFLINE = "offline", _("离线")


class Severity(models.TextChoices):
    """ThingsBoard's alarm severities, most severe first."""

    CRITICAL = "critical", _("紧急")
    MAJOR = "major", _("重要")
    MINOR = "minor", _("次要")
    WARNING = "warning", _("警告")
    INDETERMINATE = "indeterminate", _("不确定")


# Operators whose clear side is "below": the value must fall to clear_threshold or lower.
RISING_OPERATORS = frozenset({"gt", "ge", "rate_gt"})
FALLING_OPERATORS = frozenset({"lt", "le", "rate_lt"})

# Higher is more severe; used to compare severities and to pick the worst firing rule.
SEVERITY_RANK = {
    Severity.INDETERMINATE: 0,
    Severity.WARNING: 1,
    Severity.MINOR: 2,
    Severity.MAJOR: 3,
    Severity.CRITICAL: 4,
}


class AlarmStatus(models.TextChoices):
    ACTIVE_UNACK = "active_unack", _("未确认")
    ACTIVE_ACK = "active_ack", _("已确认")
    CLEARED_UNACK = "cleared_unack", _("已清除未确认")
    CLEARED_ACK = "cleared_ack", _("已清除")


ACTIVE_STATUSES = (AlarmStatus.ACTIVE_UNACK, AlarmStatus.ACTIVE_ACK)


class Operator(models.TextChoices):
    GT = "gt", ">"
    GE = "ge", "≥"
    LT = "lt", "<"
    LE = "le", "≤"
    EQ = "eq", "="
    NE = "ne", "≠"
    # Rate of change per minute against the device's previous reading of the metric.
    RATE_GT = "rate_gt", _("上升速率 >")
    RATE_LT = "rate_lt", _("下降速率 <")
    # Text and event conditions: the metric equals ``text_value`` / the metric is present and
    # true (an event flag such as an e-bike entering an elevator).
    IS = "is", _("等于文本")
    TRUE = "true", _("为真/发生")


class DeviceType(models.Model):
    """A kind of device and what it measures. Data, editable by the system administrator."""

    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    # metric code → {"name": "前池水位", "unit": "m", "kind": "number|bool|text"}
    metrics = models.JSONField(_("指标"), default=dict, blank=True)
    silence_minutes = models.PositiveIntegerField(
        _("离线判定（分钟）"), default=30, help_text=_("超过这么久未上报即产生离线告警。")
    )
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("设备类型")
        verbose_name_plural = _("设备类型")

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    code = models.CharField(_("设备编码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    device_type = models.ForeignKey(
        DeviceType, verbose_name=_("设备类型"), on_delete=models.PROTECT, related_name="devices"
    )
    model = models.CharField(_("型号"), max_length=100, blank=True)
    grid = models.ForeignKey(
        "grids.GridNode", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="+"
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    lng = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    # The registry component this device is (a camera, a pump station, an elevator).
    component = models.ForeignKey(
        "registry.Component",
        verbose_name=_("关联部件"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sensing_devices",
    )
    protocol = models.CharField(
        _("接入协议"), max_length=10, choices=Protocol.choices, default=Protocol.MQTT
    )
    owner_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("权属部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Keyed SHA-256 of the device's random ingestion secret (actions.hash_secret).
    secret_hash = models.CharField(_("接入密钥摘要"), max_length=64, blank=True)
    secret_rotated_at = models.DateTimeField(_("密钥更新时间"), null=True, blank=True)
    state = models.CharField(
        _("状态"), max_length=10, choices=DeviceState.choices, default=DeviceState.UNKNOWN
    )
    last_seen_at = models.DateTimeField(_("最后上报"), null=True, blank=True, db_index=True)
    battery = models.FloatField(_("电量 (%)"), null=True, blank=True)
    # Per-device settings: {"silence_minutes": 60, "pumps": 3, ...}. Rule overrides are Rule
    # rows with ``device`` set.
    settings = models.JSONField(_("设备参数"), default=dict, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_field = "grid_code"
    department_field = "owner_department"

    class Meta:
        ordering = ["code"]
        verbose_name = _("感知设备")
        verbose_name_plural = _("感知设备")
        indexes = [models.Index(fields=["device_type", "state"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Observation(models.Model):
    """One reading at its own time, identified by (device, message id, time): a redelivery is
    an exact copy and is stored once, while a device that reuses its message ids (a counter
    reset by a reboot) loses no reading. On PostgreSQL the table is range-partitioned by month on
    ``observed_at`` (migration 0002), whose unique keys must hold the time anyway: see
    docs/sensing.md."""

    # No index of its own: the unique key (device, observed_at, message_id) serves every lookup
    # by device.
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="observations", db_index=False
    )
    observed_at = models.DateTimeField(_("观测时间"))
    received_at = models.DateTimeField(_("接收时间"))
    message_id = models.CharField(_("消息编号"), max_length=100)
    values = models.JSONField(_("数值"), default=dict)

    scope_field = "device__grid_code"
    department_field = "device__owner_department"

    class Meta:
        ordering = ["device", "observed_at"]
        verbose_name = _("观测数据")
        verbose_name_plural = _("观测数据")
        # One index: the identity, ordered to serve every lookup of a device's readings by
        # time as well (a second index would double the cost of every insert).
        constraints = [
            models.UniqueConstraint(
                fields=["device", "observed_at", "message_id"], name="sensing_obs_unique_msg"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.observed_at:%Y-%m-%d %H:%M:%S}"


class LatestValue(models.Model):
    """The newest reading of each device (by its own time), for fast pages."""

    device = models.OneToOneField(
        Device, on_delete=models.CASCADE, related_name="latest", primary_key=True
    )
    observed_at = models.DateTimeField(_("观测时间"))
    values = models.JSONField(_("数值"), default=dict)
    # Counts the writes of this device's ingest state (sensing/state.py): a process that kept
    # the state in memory checks it to know nobody else wrote meanwhile.
    version = models.PositiveIntegerField(default=0, editable=False)

    scope_field = "device__grid_code"
    department_field = "device__owner_department"

    class Meta:
        verbose_name = _("最新数据")
        verbose_name_plural = _("最新数据")

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.observed_at:%Y-%m-%d %H:%M:%S}"


class DeadLetter(models.Model):
    """A message that could not be stored, with the reasons; the admin inspects and replays."""

    received_at = models.DateTimeField(_("接收时间"), db_index=True)
    transport = models.CharField(_("通道"), max_length=10, choices=Transport.choices)
    topic = models.CharField(_("主题"), max_length=200, blank=True)
    payload = models.TextField(_("原始报文"))
    # [{"field": "values.ph", "message": "pH 必须在 0–14 之间"}]
    reasons = models.JSONField(_("原因"), default=list)
    device_code = models.CharField(_("设备编码"), max_length=64, blank=True, db_index=True)
    replayed_at = models.DateTimeField(_("重放时间"), null=True, blank=True)
    replay_result = models.JSONField(_("重放结果"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("死信")
        verbose_name_plural = _("死信")

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.transport} {self.device_code}"


class Rule(models.Model):
    """A threshold rule for a device type; a row with ``device`` set and the same ``code``
    replaces the type's rule for that one device.

    Fires when the condition holds ``repeat_count`` readings in a row AND has held for at least
    ``duration_minutes``; once fired it stays active until the clear condition holds (hysteresis:
    for ``gt``/``ge`` the value must fall to ``clear_threshold`` or below, for ``lt``/``le`` rise to
    it or above); without a clear threshold the rule clears when the condition stops holding.
    Rules sharing an ``alarm_type`` raise one alarm with the worst severity that fires.
    """

    device_type = models.ForeignKey(
        DeviceType, verbose_name=_("设备类型"), on_delete=models.CASCADE, related_name="rules"
    )
    device = models.ForeignKey(
        Device,
        verbose_name=_("单设备覆盖"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rule_overrides",
    )
    code = models.SlugField(_("编码"), max_length=60)
    name = models.CharField(_("名称"), max_length=100)
    metric = models.CharField(_("指标"), max_length=40)
    operator = models.CharField(_("条件"), max_length=10, choices=Operator.choices)
    threshold = models.FloatField(_("阈值"), null=True, blank=True)
    text_value = models.CharField(_("文本值"), max_length=60, blank=True)
    clear_threshold = models.FloatField(_("清除阈值（回差）"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("持续（分钟）"), default=0)
    repeat_count = models.PositiveIntegerField(_("连续次数"), default=1)
    # Event rules (AI camera, e-bike) have nothing to clear them: they clear after this long
    # without a repeat (check_silent_devices sweeps).
    auto_clear_minutes = models.PositiveIntegerField(
        _("无重复自动清除（分钟）"), null=True, blank=True
    )
    severity = models.CharField(_("级别"), max_length=14, choices=Severity.choices)
    alarm_type = models.SlugField(_("告警类型"), max_length=60)
    alarm_name = models.CharField(_("告警名称"), max_length=100, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["device_type", "device", "code"]
        verbose_name = _("告警规则")
        verbose_name_plural = _("告警规则")
        constraints = [
            models.UniqueConstraint(
                fields=["device_type", "code"],
                condition=Q(device=None),
                name="sensing_rule_unique_type_code",
            ),
            models.UniqueConstraint(fields=["device", "code"], name="sensing_rule_unique_override"),
        ]

    def __str__(self) -> str:
        target = self.device.code if self.device_id else self.device_type.name
        return f"{target} · {self.name}"


class RuleState(models.Model):
    """Per-device memory of one rule: loaded once per batch, written back in bulk."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="rule_states")
    rule_code = models.SlugField(max_length=60)
    consecutive = models.PositiveIntegerField(default=0)
    since = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=False)
    last_value = models.FloatField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("规则状态")
        verbose_name_plural = _("规则状态")
        constraints = [
            models.UniqueConstraint(fields=["device", "rule_code"], name="sensing_rulestate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.rule_code}"


class Alarm(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="alarms")
    alarm_type = models.SlugField(_("告警类型"), max_length=60)
    name = models.CharField(_("告警名称"), max_length=100, blank=True)
    severity = models.CharField(_("级别"), max_length=14, choices=Severity.choices)
    status = models.CharField(
        _("状态"),
        max_length=14,
        choices=AlarmStatus.choices,
        default=AlarmStatus.ACTIVE_UNACK,
        db_index=True,
    )
    started_at = models.DateTimeField(_("开始时间"))
    last_seen_at = models.DateTimeField(_("最近一次"))
    count = models.PositiveIntegerField(_("次数"), default=1)
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    cleared_at = models.DateTimeField(_("清除时间"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("清除人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    details = models.JSONField(_("详情"), default=dict, blank=True)
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("案件"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    grid = models.ForeignKey(
        "grids.GridNode", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="+"
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    version = models.PositiveIntegerField(default=0)

    scope_field = "grid_code"
    department_field = "device__owner_department"

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = _("告警")
        verbose_name_plural = _("告警")
        indexes = [
            models.Index(fields=["status", "severity"]),
            models.Index(fields=["device", "alarm_type", "started_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "alarm_type"],
                condition=Q(status__in=["active_unack", "active_ack"]),
                name="sensing_alarm_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or self.alarm_type} · {self.device_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class CasePolicy(models.Model):
    """When an alarm of ``alarm_type`` becomes a case (data)."""

    alarm_type = models.SlugField(_("告警类型"), max_length=60, db_index=True)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    min_severity = models.CharField(
        _("最低级别"), max_length=14, choices=Severity.choices, default=Severity.WARNING
    )
    min_confidence = models.FloatField(_("最低置信度"), null=True, blank=True)
    category = models.ForeignKey(
        "cases.Category", verbose_name=_("案件小类"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("处置部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    join_window_minutes = models.PositiveIntegerField(
        _("合并窗口（分钟）"),
        default=60,
        help_text=_("同一设备在窗口内的重复告警并入已开的案件。"),
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["alarm_type"]
        verbose_name = _("告警转案件策略")
        verbose_name_plural = _("告警转案件策略")

    def __str__(self) -> str:
        return f"{self.alarm_type} → {self.category}"
