"""Writes for accounts: every change goes through here and is audited.

Logins, failed logins and logouts are audited by the receivers at the bottom, which Django's
``login``, ``authenticate`` and ``logout`` signal for every entrance (the login page, the admin's
login, the API token endpoint), so none can be missed. The ``record_*`` functions may also be
called by views; within one request each event is still written once.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from towngrid.core.audit import record
from towngrid.core.context import first_time

from .models import ApiToken, Department, Role, ScopeKind, User, hash_token


class AccountActionError(ValueError):
    """A refused accounts write, with a message fit to show the user."""


def default_token_days() -> int | None:
    days = getattr(settings, "TOWNGRID_API_TOKEN_DAYS", 30)
    return int(days) if days else None


@transaction.atomic
def issue_token(user: User, *, name: str = "", days: int | None = -1) -> tuple[ApiToken, str]:
    """Issue an API token and return it with its key; the key is not stored and cannot be shown
    again. ``days`` defaults to ``TOWNGRID_API_TOKEN_DAYS`` (30); None or 0 never expires."""
    if days == -1:
        days = default_token_days()
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:8],
        key_hash=hash_token(key),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    record(user, "accounts.token_issued", token, changes={"name": name, "days": days})
    return token, key


@transaction.atomic
def revoke_token(actor: User, token: ApiToken, *, reason: str = "") -> None:
    if token.revoked:
        return
    token.revoked = True
    token.save(update_fields=["revoked"])
    record(actor, "accounts.token_revoked", token, reason=reason)


def record_login(user: User, *, via: str = "session") -> None:
    if first_time(("login", user.pk)):
        record(user, "accounts.login", user, changes={"via": via})


def record_login_failure(username: str, reason: str) -> None:
    if first_time(("login_failed", username)):
        record(
            None,
            "accounts.login_failed",
            object_type="accounts.user",
            object_repr=(username or "")[:200],
            reason=reason,
        )


def record_logout(user: User) -> None:
    if first_time(("logout", user.pk)):
        record(user, "accounts.logout", user)


@receiver(user_logged_in, dispatch_uid="towngrid.accounts.audit_login")
def _on_login(sender, request, user, **kwargs):
    record_login(user)


@receiver(user_login_failed, dispatch_uid="towngrid.accounts.audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    reason, _until = getattr(request, "auth_failure", None) or ("invalid", None)
    record_login_failure(str(credentials.get("username", "")), reason)


@receiver(user_logged_out, dispatch_uid="towngrid.accounts.audit_logout")
def _on_logout(sender, request, user, **kwargs):
    if user is not None and user.is_authenticated:
        record_logout(user)


# --- creating users ----------------------------------------------------------------------------


def _error(message: str):
    raise AccountActionError(message)


@transaction.atomic
def create_user(
    username: str,
    *,
    role: str,
    password: str,
    scope: str | None = None,
    department: str | None = None,
    display_name: str = "",
    must_change_password: bool = True,
    actor=None,
    reason: str = "",
) -> User:
    """Create a user with a role and the scope the role needs, after checking everything.

    - the role exists;
    - a grid-scoped role (``scope_kind == "grid"``) has a scope, the code of an existing grid node;
      other roles have none;
    - a department role has an existing department; other roles have none;
    - the username is free and the password passes ``AUTH_PASSWORD_VALIDATORS``.

    The password is an initial one: the user must change it after the first login unless
    ``must_change_password`` is False.
    """
    from towngrid.grids.models import GridNode

    username = (username or "").strip()
    if not username:
        _error("用户名不能为空。")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        _error(f"用户名无效：{'；'.join(exc.messages)}")
    if User.objects.filter(username__iexact=username).exists():
        _error(f"用户名 {username} 已存在。")
    role_obj = Role.objects.filter(code=role).first()
    if role_obj is None:
        known = ", ".join(Role.objects.values_list("code", flat=True))
        _error(f"未知角色：{role}。可用角色：{known}")
    scope_node = None
    if role_obj.scope_kind == ScopeKind.GRID:
        if not scope:
            _error(f"角色“{role_obj.name}”按网格授权，必须指定网格范围 (--scope)。")
        scope_node = GridNode.objects.filter(code=scope).first()
        if scope_node is None:
            _error(f"网格编码 {scope} 不存在。")
    elif scope:
        _error(f"角色“{role_obj.name}”不按网格授权，不能指定网格范围。")
    department_obj = None
    if role_obj.scope_kind == ScopeKind.DEPARTMENT:
        if not department:
            _error(f"角色“{role_obj.name}”按部门授权，必须指定部门 (--department)。")
        department_obj = Department.objects.filter(code=department).first()
        if department_obj is None:
            _error(f"部门编码 {department} 不存在。")
    elif department:
        _error(f"角色“{role_obj.name}”不按部门授权，不能指定部门。")
    user = User(
        username=username,
        display_name=display_name.strip(),
        role=role_obj,
        scope=scope_node,
        department=department_obj,
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        _error("密码不符合要求：" + "；".join(exc.messages))
    user.set_password(password)
    user.must_change_password = must_change_password
    user.save()
    record(
        actor,
        "accounts.user_created",
        user,
        changes={
            "username": username,
            "role": role_obj.code,
            "scope": scope_node.code if scope_node else None,
            "department": department_obj.code if department_obj else None,
        },
        reason=reason,
    )
    return user


# --- passwords ---------------------------------------------------------------------------------


def change_password(user: User, old_password: str, new_password: str) -> None:
    """The user changes their own password. A wrong old password counts towards the lockout
    like a failed login (committed even though the change is refused); the new one must differ
    and pass the validators."""
    from .backends import _count_failure

    if not user.check_password(old_password or ""):
        until = _count_failure(user, timezone.now())
        record(user, "accounts.password_change_failed", user, reason="wrong old password")
        if until:
            raise AccountActionError("原密码错误次数过多，账户已锁定。")
        raise AccountActionError("原密码不正确。")
    if old_password == new_password:
        raise AccountActionError("新密码不能与原密码相同。")
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise AccountActionError("密码不符合要求：" + "；".join(exc.messages)) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password", "password_changed_at", "must_change_password"])
        record(user, "accounts.password_changed", user)


@transaction.atomic
def reset_password(actor, user: User, new_password: str, *, reason: str = "") -> None:
    """An administrator sets a user's password; the user must change it at the next login."""
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise AccountActionError("密码不符合要求：" + "；".join(exc.messages)) from exc
    user.set_password(new_password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    user.save(
        update_fields=[
            "password",
            "password_changed_at",
            "must_change_password",
            "failed_logins",
            "locked_until",
        ]
    )
    record(actor, "accounts.password_reset", user, reason=reason)


@transaction.atomic
def unlock(actor, user: User, *, reason: str = "") -> None:
    """End a lockout after failed logins."""
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    user.failed_logins, user.locked_until = 0, None
    record(actor, "accounts.unlocked", user, reason=reason)
