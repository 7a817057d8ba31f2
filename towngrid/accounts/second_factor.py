"""The second login step: a TOTP code (accounts/totp.py) after the password.

Who is asked: every user who has enrolled an authenticator, and — when
``TOWNGRID_REQUIRE_2FA`` is on (the default in production) — every administrator (superusers,
staff, and the system, security and audit administrator roles), who enrols at the first login.

Between the two steps the session holds only the pending user's id, the time and the
destination; it is not logged in. The pending step expires after ``PENDING_SECONDS``; wrong codes
count towards the account lockout like wrong passwords, and after ``MAX_TRIES`` the login starts
over.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login
from django.utils import timezone

from towngrid.core.audit import record

from . import totp
from .backends import _count_failure
from .models import User

SESSION_KEY = "towngrid_2fa"
PENDING_SECONDS = 300
MAX_TRIES = 5
ADMIN_ROLES = {"sysadmin", "security_admin", "audit_admin"}


class SecondFactorError(Exception):
    def __init__(self, message: str, *, start_over: bool = False):
        super().__init__(message)
        self.start_over = start_over


def is_administrator(user: User) -> bool:
    return bool(
        user.is_superuser or user.is_staff or (user.role_id and user.role.code in ADMIN_ROLES)
    )


def required(user: User) -> bool:
    return settings.TOWNGRID_REQUIRE_2FA and is_administrator(user)


def needed(user: User) -> bool:
    return bool(user.totp_confirmed_at) or required(user)


def begin(request, user: User, next_url: str) -> None:
    request.session[SESSION_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
        "at": time.time(),
        "next": next_url,
        "tries": 0,
    }


def pending(request) -> tuple[User, dict] | None:
    state = request.session.get(SESSION_KEY)
    if not state or time.time() - state.get("at", 0) > PENDING_SECONDS:
        request.session.pop(SESSION_KEY, None)
        return None
    user = User.objects.select_related("role").filter(pk=state["user"], is_active=True).first()
    if user is None:
        request.session.pop(SESSION_KEY, None)
        return None
    return user, state


def enrolment_secret(request, state: dict) -> str:
    """The secret offered at enrolment, kept (sealed) in the pending state until confirmed."""
    if "secret" not in state:
        state["secret"] = totp.seal(totp.new_secret())
        request.session[SESSION_KEY] = state
    return totp.unseal(state["secret"])


def qr_svg(secret: str, account: str) -> str:
    import segno

    return segno.make(totp.provisioning_uri(secret, account), error="m").svg_inline(
        scale=4, dark="#111", light="#fff"
    )


def complete(request, user: User, state: dict, code: str) -> str:
    """Check the code; log the session in. Returns where to go next."""
    now = timezone.now()
    enrolling = not user.totp_confirmed_at
    secret = enrolment_secret(request, state) if enrolling else totp.unseal(user.totp_secret)
    step = totp.matching_step(secret, code, after=user.totp_last_step)
    if step < 0:
        state["tries"] = state.get("tries", 0) + 1
        request.session[SESSION_KEY] = state
        until = _count_failure(user, now)
        record(None, "accounts.second_factor_failed", user, reason="wrong or reused code")
        if until or state["tries"] >= MAX_TRIES:
            request.session.pop(SESSION_KEY, None)
            raise SecondFactorError("验证码错误次数过多，请重新登录。", start_over=True)
        raise SecondFactorError("验证码不正确或已使用，请输入验证器中当前显示的 6 位数字。")
    # The conditional update makes a code usable once even under parallel submissions.
    fields = {"totp_last_step": step, "failed_logins": 0, "locked_until": None}
    if enrolling:
        fields.update(totp_secret=totp.seal(secret), totp_confirmed_at=now)
    if not User.objects.filter(pk=user.pk, totp_last_step__lt=step).update(**fields):
        raise SecondFactorError("验证码已使用，请等待下一个验证码。")
    if enrolling:
        record(user, "accounts.second_factor_enrolled", user)
    request.session.pop(SESSION_KEY, None)
    login(request, user, backend=state["backend"])
    return state.get("next") or ""


def reset(user: User, *, actor, reason: str) -> None:
    """Remove a user's authenticator (a lost phone); the next login enrols again."""
    User.objects.filter(pk=user.pk).update(
        totp_secret="", totp_confirmed_at=None, totp_last_step=-1
    )
    record(actor, "accounts.second_factor_reset", user, reason=reason)


def check_token_request(user: User, code: str | None) -> str | None:
    """For the API's token endpoint: None if the code is right (or none is needed), else an error
    code: ``second_factor_required`` or ``second_factor_enrolment_required``."""
    if not needed(user):
        return None
    if not user.totp_confirmed_at:
        return "second_factor_enrolment_required"
    step = totp.matching_step(totp.unseal(user.totp_secret), code or "", after=user.totp_last_step)
    if step < 0 or not User.objects.filter(pk=user.pk, totp_last_step__lt=step).update(
        totp_last_step=step
    ):
        _count_failure(user, timezone.now())
        return "second_factor_required"
    return None
