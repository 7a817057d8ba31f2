"""Models of the codes app: object codes, check-ins and patrols here; the three-colour engine's
models in ``colour_models.py`` (imported below so Django sees one app)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .colour_models import *  # noqa: F403


class ObjectCode(models.Model):
    """The printed code (一户一码) of one registry object: a signed token in the scan URL.

    An object has at most one live code (a partial unique constraint); revoking keeps the row
    (a revoked plate scanned later says so instead of "not found") and reissuing adds a new row
    with the next ``serial``. The grid is copied from the object when the code is issued and
    kept in step by ``actions.sync_grid`` when the object moves.
    """

    content_type = models.ForeignKey(
        ContentType, verbose_name=_("对象类型"), on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("对象编号"))
    subject = GenericForeignKey("content_type", "object_id")
    token = models.CharField(_("码值"), max_length=32, unique=True)
    serial = models.PositiveIntegerField(_("版次"), default=1)
    grid = models.ForeignKey(
        "grids.GridNode", verbose_name=_("微网格"), on_delete=models.PROTECT, related_name="+"
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    group_code = models.CharField(_("楼组编码"), max_length=24, blank=True, db_index=True)
    issued_at = models.DateTimeField(_("生成时间"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("生成人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作废人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoke_reason = models.CharField(_("作废原因"), max_length=200, blank=True)

    scope_field = "grid_code"

    class Meta:
        verbose_name = _("对象码")
        verbose_name_plural = _("对象码")
        ordering = ["grid_code", "content_type_id", "object_id", "-serial"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=Q(revoked_at__isnull=True),
                name="codes_one_live_code_per_object",
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id", "serial"], name="codes_unique_serial"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token[:6]}… #{self.serial}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class CheckIn(models.Model):
    """A grid worker's check-in at an object (巡查签到): when, where the phone was, and how far
    that is from the object. A check-in farther than ``codes.checkin_radius_m`` is kept, flagged
    (the worker may have scanned a photo of the plate, or the GPS was poor)."""

    content_type = models.ForeignKey(
        ContentType, verbose_name=_("对象类型"), on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("对象编号"))
    subject = GenericForeignKey("content_type", "object_id")
    code = models.ForeignKey(
        ObjectCode,
        verbose_name=_("扫描的码"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkins",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("签到人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="checkins",
    )
    user_name = models.CharField(_("签到人姓名"), max_length=150, blank=True)
    at = models.DateTimeField(_("签到时间"), db_index=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    accuracy_m = models.FloatField(_("定位精度（米）"), null=True, blank=True)
    distance_m = models.FloatField(_("距对象（米）"), null=True, blank=True)
    flagged_far = models.BooleanField(_("距离过远"), default=False, db_index=True)
    no_position = models.BooleanField(_("无定位"), default=False)
    note = models.TextField(_("巡查记录"), blank=True)
    findings = models.JSONField(_("发现问题"), default=list, blank=True)
    grid = models.ForeignKey(
        "grids.GridNode", verbose_name=_("微网格"), on_delete=models.PROTECT, related_name="+"
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)

    scope_field = "grid_code"

    class Meta:
        verbose_name = _("巡查签到")
        verbose_name_plural = _("巡查签到")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "at"], name="codes_checkin_object"),
            models.Index(fields=["user", "at"], name="codes_checkin_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name or '—'} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def is_flagged(self) -> bool:
        return self.flagged_far or self.no_position
