"""Models of the three-colour (三色) engine.

Configuration is data: a ``ColourRuleSet`` per object type (``colour_kind`` of a registry model:
"house", "enterprise", …) holds the patrol interval per colour and an ordered list of
``ColourRule`` rows, each a colour, a condition written as JSON and a reason template in
Chinese (see ``colours.py`` for the condition language). The engine writes one ``ColourState``
per object (its live colour, reasons and patrol dates), a ``ColourChange`` row whenever the
colour changes, and honours a ``ColourOverride`` (a person's decision with reason and expiry)
until it expires or is revoked.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Colour",
    "ColourCause",
    "ColourRuleSet",
    "ColourRule",
    "ColourOverride",
    "ColourState",
    "ColourChange",
]


class Colour(models.TextChoices):
    GREEN = "green", _("绿色")
    YELLOW = "yellow", _("黄色")
    RED = "red", _("红色")


# Severity order: the worst matching colour wins.
COLOUR_RANK = {Colour.GREEN: 0, Colour.YELLOW: 1, Colour.RED: 2}
DEFAULT_INTERVALS = {Colour.GREEN: 21, Colour.YELLOW: 14, Colour.RED: 7}


class ColourCause(models.TextChoices):
    RULE = "rule", _("规则计算")
    PATROL = "patrol", _("巡查结果")
    OVERRIDE = "override", _("人工调整")
    EXPIRY = "expiry", _("人工调整到期")
    CLEAR = "clear", _("撤销人工调整")


class ColourRuleSet(models.Model):
    """The colour rules of one object type, with its patrol interval per colour (the policy)."""

    colour_kind = models.CharField(
        _("对象类型"),
        max_length=20,
        help_text=_(
            "house 房屋、enterprise 企业、shop 商户、component 部件、underground 地下空间…"
        ),
    )
    name = models.CharField(_("名称"), max_length=80)
    description = models.TextField(_("说明"), blank=True)
    active = models.BooleanField(_("启用"), default=True)
    green_interval_days = models.PositiveSmallIntegerField(_("绿色巡查周期（天）"), default=21)
    yellow_interval_days = models.PositiveSmallIntegerField(_("黄色巡查周期（天）"), default=14)
    red_interval_days = models.PositiveSmallIntegerField(_("红色巡查周期（天）"), default=7)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["colour_kind", "id"]
        verbose_name = _("三色规则集")
        verbose_name_plural = _("三色规则集")
        constraints = [
            # One rule set decides a kind: two active ones would make the colour ambiguous.
            models.UniqueConstraint(
                fields=["colour_kind"],
                condition=models.Q(active=True),
                name="one_active_colour_rule_set_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.colour_kind}）"

    def interval_for(self, colour: str) -> int:
        return {
            Colour.GREEN: self.green_interval_days,
            Colour.YELLOW: self.yellow_interval_days,
            Colour.RED: self.red_interval_days,
        }[colour]


class ColourRule(models.Model):
    """One rule: when ``condition`` holds for an object, it is at least ``colour``, because of
    ``reason`` (a template: ``{open_cases}``, ``{recent_findings}``, ``{group_rental}``,
    ``{flags}`` and the object's own fields such as ``{name}`` are filled in)."""

    rule_set = models.ForeignKey(
        ColourRuleSet, verbose_name=_("规则集"), on_delete=models.CASCADE, related_name="rules"
    )
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    colour = models.CharField(_("颜色"), max_length=8, choices=Colour.choices)
    name = models.CharField(_("规则名称"), max_length=80)
    condition = models.JSONField(_("条件"), default=dict)
    reason = models.CharField(_("原因模板"), max_length=200)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["rule_set", "order", "id"]
        verbose_name = _("三色规则")
        verbose_name_plural = _("三色规则")

    def __str__(self) -> str:
        return f"{self.get_colour_display()} · {self.name}"


class ColourOverride(models.Model):
    """A person's decision that an object is a given colour until ``expires_at``, with reason.
    Expired or revoked overrides stay as the record of what was decided."""

    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("对象类型"), on_delete=models.CASCADE
    )
    object_id = models.PositiveBigIntegerField(_("对象"))
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    colour = models.CharField(_("颜色"), max_length=8, choices=Colour.choices)
    reason = models.TextField(_("原因"))
    expires_at = models.DateTimeField(_("到期时间"))
    created_at = models.DateTimeField(_("调整时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("调整人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by_name = models.CharField(_("调整人名称"), max_length=150, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    ended_cause = models.CharField(
        _("结束原因"), max_length=8, choices=ColourCause.choices, blank=True
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤销人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ended_reason = models.TextField(_("撤销原因"), blank=True)

    scope_field = "grid_code"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("三色人工调整")
        verbose_name_plural = _("三色人工调整")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_colour_display()} 至 {self.expires_at:%Y-%m-%d}"

    @property
    def revoked(self) -> bool:
        return self.ended_cause == ColourCause.CLEAR


class ColourState(models.Model):
    """The live colour of one object: the effective colour (an override wins while it lasts),
    what the rules say, why, and when the next patrol is due."""

    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("对象类型"), on_delete=models.CASCADE
    )
    object_id = models.PositiveBigIntegerField(_("对象"))
    colour_kind = models.CharField(_("对象类别"), max_length=20)
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    label = models.CharField(_("对象名称"), max_length=200, blank=True)
    colour = models.CharField(_("颜色"), max_length=8, choices=Colour.choices)
    rule_colour = models.CharField(_("规则颜色"), max_length=8, choices=Colour.choices)
    reasons = models.JSONField(_("原因"), default=list, blank=True)
    interval_days = models.PositiveSmallIntegerField(_("巡查周期（天）"))
    created_at = models.DateTimeField(_("首次评定"))
    computed_at = models.DateTimeField(_("评定时间"))
    since = models.DateTimeField(_("当前颜色起始"))
    last_patrol_at = models.DateTimeField(_("最近巡查"), null=True, blank=True)
    patrol_due_at = models.DateTimeField(_("下次巡查"), db_index=True)
    # Patrol findings kept for the "recent findings" conditions: [{"at", "text", "by"}].
    findings = models.JSONField(_("巡查发现"), default=list, blank=True)
    # When the colour may change by time alone (a finding ages out, an override expires): the
    # sweep (``colours.sweep``) recomputes the states whose moment has come.
    review_at = models.DateTimeField(_("复评时间"), null=True, blank=True, db_index=True)
    override = models.ForeignKey(
        ColourOverride,
        verbose_name=_("人工调整"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A hash of the computed fields: recompute_many compares it instead of reading them all.
    digest = models.CharField(max_length=32, blank=True, editable=False)

    scope_field = "grid_code"

    class Meta:
        ordering = ["grid_code", "id"]
        verbose_name = _("三色状态")
        verbose_name_plural = _("三色状态")
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"], name="one_colour_state_per_object"
            )
        ]
        indexes = [models.Index(fields=["colour_kind", "colour", "grid_code"])]

    def __str__(self) -> str:
        return f"{self.label or self.object_id} · {self.get_colour_display()}"


class ColourChange(models.Model):
    """One change of an object's colour: from, to, why, when, by what and by whom."""

    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("对象类型"), on_delete=models.CASCADE
    )
    object_id = models.PositiveBigIntegerField(_("对象"))
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    from_colour = models.CharField(_("原颜色"), max_length=8, choices=Colour.choices, blank=True)
    to_colour = models.CharField(_("新颜色"), max_length=8, choices=Colour.choices)
    reasons = models.JSONField(_("原因"), default=list, blank=True)
    at = models.DateTimeField(_("时间"), db_index=True)
    cause = models.CharField(_("触发"), max_length=8, choices=ColourCause.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("操作人名称"), max_length=150, blank=True)

    scope_field = "grid_code"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("三色变更记录")
        verbose_name_plural = _("三色变更记录")
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self) -> str:
        return f"{self.from_colour or '—'} → {self.to_colour}"
