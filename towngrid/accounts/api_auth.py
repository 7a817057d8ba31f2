"""``Authorization: Token <key>`` against tokens stored only as SHA-256 hashes.

A token stops working when it is revoked, when it expires, when its user is deactivated, and, for
demo accounts, when the server runs in production mode.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from .access import password_change_allowed_path, password_change_required
from .backends import demo_refused
from .models import ApiToken, hash_token


class HashedTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            refuse_until_password_changed(result[0], request.path)
        return result

    def authenticate_credentials(self, key):
        token = (
            ApiToken.objects.select_related("user", "user__role", "user__scope")
            .filter(key_hash=hash_token(key))
            .first()
        )
        now = timezone.now()
        if token is None or token.revoked:
            raise exceptions.AuthenticationFailed("令牌无效或已吊销。", code="token_invalid")
        if token.expires_at and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("令牌已过期。", code="token_expired")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("用户已停用。", code="user_inactive")
        if demo_refused(user):
            raise exceptions.AuthenticationFailed(
                "生产模式下不允许使用演示账户。", code="demo_refused"
            )
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (user, token)


PASSWORD_MESSAGES = {
    "must_change": "请先修改初始密码。",
    "expired": "密码已过期，请先修改密码。",
}


def refuse_until_password_changed(user, path: str) -> None:
    """A user whose password must be changed first may only reach the password endpoints."""
    reason = password_change_required(user)
    if reason and not password_change_allowed_path(path):
        raise exceptions.PermissionDenied(
            PASSWORD_MESSAGES.get(reason, PASSWORD_MESSAGES["expired"]),
            code="password_change_required",
        )
