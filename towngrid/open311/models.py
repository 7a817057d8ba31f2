"""Open311 GeoReport v2 client keys.

A key identifies an Open311 client (an app, a partner's system) that may post requests. Only
its SHA-256 is stored, like ``accounts.ApiToken``: the key is shown once, when it is issued.
"""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("每分钟请求上限"), default=30, help_text=_("超过后返回 429，直到下一分钟。")
    )
    active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Open311 密钥")
        verbose_name_plural = _("Open311 密钥")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)


class Datatype(models.TextChoices):
    """The GeoReport v2 attribute datatypes."""

    STRING = "string", _("单行文字")
    NUMBER = "number", _("数字")
    DATETIME = "datetime", _("日期时间")
    TEXT = "text", _("多行文字")
    SINGLEVALUELIST = "singlevaluelist", _("单选")
    MULTIVALUELIST = "multivaluelist", _("多选")


LIST_DATATYPES = {Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST}
DEFAULT_STOP_MESSAGE = "情况紧急，请勿通过网上上报，请立即拨打 110 / 119 / 燃气抢修 962777。"


def _value_keys(values) -> list[str]:
    return [str(v.get("key")) for v in values or [] if isinstance(v, dict)]


class ServiceAttribute(models.Model):
    """An extra question of a service (a public case subclass): the GeoReport v2 ``attributes``
    of ``services/{code}``, answered as ``attribute[code]`` when a request is posted.

    ``stops_submission_on`` lists answers that stop the report (FixMyStreet's "dangerous? phone
    now"): a request with such an answer is refused with ``stop_message`` and nothing is stored.
    """

    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("案件小类"),
        on_delete=models.CASCADE,
        related_name="open311_attributes",
    )
    code = models.SlugField(_("编码"), max_length=50, help_text=_("提交时为 attribute[编码]。"))
    variable = models.BooleanField(
        _("需要回答"), default=True, help_text=_("不勾选时只是给上报人的说明，不收集回答。")
    )
    datatype = models.CharField(_("类型"), max_length=16, choices=Datatype.choices)
    required = models.BooleanField(_("必答"), default=False)
    datatype_description = models.CharField(_("填写说明"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=1)
    description = models.CharField(_("问题"), max_length=300)
    values = models.JSONField(
        _("选项"),
        default=list,
        blank=True,
        help_text=_(
            '单选、多选的选项，如 [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]。'
        ),
    )
    stops_submission_on = models.JSONField(
        _("停止上报的选项"),
        default=list,
        blank=True,
        help_text=_('选中这些选项（key）时拒绝上报并提示拨打电话，如 ["yes"]。'),
    )
    stop_message = models.CharField(
        _("停止提示"),
        max_length=300,
        blank=True,
        help_text=_("为空时：情况紧急，请勿通过网上上报，请立即拨打 110 / 119 / 燃气抢修 962777。"),
    )

    class Meta:
        ordering = ["category", "order", "id"]
        verbose_name = _("Open311 附加问题")
        verbose_name_plural = _("Open311 附加问题")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "code"], name="unique_open311_attribute_code"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"

    @property
    def is_list(self) -> bool:
        return self.datatype in LIST_DATATYPES

    def value_keys(self) -> list[str]:
        return _value_keys(self.values)

    def stop_text(self) -> str:
        return self.stop_message or DEFAULT_STOP_MESSAGE

    def clean(self) -> None:
        errors = {}
        values = self.values if isinstance(self.values, list) else None
        if values is None or any(
            not isinstance(v, dict)
            or set(v) != {"key", "name"}
            or not str(v["key"]).strip()
            or not str(v["name"]).strip()
            for v in values
        ):
            errors["values"] = _('选项须为 [{"key": …, "name": …}, …] 列表。')
        elif self.datatype in LIST_DATATYPES and not values:
            errors["values"] = _("单选、多选须至少有一个选项。")
        elif len(set(self.value_keys())) != len(values):
            errors["values"] = _("选项的 key 不能重复。")
        stops = self.stops_submission_on
        if not isinstance(stops, list) or any(not isinstance(s, str) for s in stops):
            errors["stops_submission_on"] = _("须为选项 key 的列表。")
        elif stops and self.datatype not in LIST_DATATYPES:
            errors["stops_submission_on"] = _("只有单选、多选可以停止上报。")
        elif values is not None and set(stops) - set(self.value_keys()):
            errors["stops_submission_on"] = _("停止上报的选项须是已有选项的 key。")
        if errors:
            raise ValidationError(errors)
