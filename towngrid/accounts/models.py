import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A functional department (职能部门) that handles cases, runs projects and owns devices."""

    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100, unique=True)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("在岗"), default=True)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self) -> str:
        return self.name


class ScopeKind(models.TextChoices):
    TOWN = "town", _("全镇")
    GRID = "grid", _("所辖网格")
    DEPARTMENT = "department", _("本部门")
    NONE = "none", _("无")


class Role(models.Model):
    """A role is data: its scope kind and its capabilities are edited in the admin."""

    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    scope_kind = models.CharField(_("数据范围"), max_length=20, choices=ScopeKind.choices)
    capabilities = models.JSONField(_("权限"), default=list, blank=True)
    description = models.TextField(_("说明"), blank=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("角色")
        verbose_name_plural = _("角色")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    role = models.ForeignKey(
        Role,
        verbose_name=_("角色"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    scope = models.ForeignKey(
        "grids.GridNode",
        verbose_name=_("网格范围"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("用户可见此网格及其下级的全部数据。"),
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    is_demo = models.BooleanField(_("演示账户"), default=False)
    failed_logins = models.PositiveSmallIntegerField(_("登录失败次数"), default=0)
    locked_until = models.DateTimeField(_("锁定至"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)
    must_change_password = models.BooleanField(
        _("须修改密码"),
        default=False,
        help_text=_("下次登录后必须先修改密码（管理员设置的初始密码或重置的密码）。"),
    )
    # Second factor (accounts/totp.py): the sealed TOTP secret, when it was confirmed, and the
    # last step accepted (a code works once).
    totp_secret = models.CharField(max_length=200, blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(_("双因素认证启用时间"), null=True, blank=True)
    totp_last_step = models.BigIntegerField(default=-1, editable=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def set_password(self, raw_password):
        super().set_password(raw_password)
        if raw_password is not None:
            # Starts the password's age (TOWNGRID_PASSWORD_MAX_AGE_DAYS) and, when the user sets
            # it, ends a pending "must change"; an administrator's reset sets the flag again.
            self.password_changed_at = timezone.now()
            self.must_change_password = False

    def can(self, capability: str) -> bool:
        from .access import has_capability

        return has_capability(self, capability)


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. Only its SHA-256 is stored; the key is shown once, when it is issued."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100, blank=True)
    prefix = models.CharField(_("前缀"), max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)
