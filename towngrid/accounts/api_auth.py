from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken, hash_token


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>`` against tokens stored as SHA-256 hashes."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = (
            ApiToken.objects.select_related("user", "user__role", "user__scope")
            .filter(key_hash=hash_token(key), revoked=False)
            .first()
        )
        now = timezone.now()
        if token is None or (token.expires_at and token.expires_at <= now):
            raise exceptions.AuthenticationFailed("令牌无效或已过期。")
        user = token.user
        if not user.is_active or (user.is_demo and settings.PRODUCTION):
            raise exceptions.AuthenticationFailed("用户已停用。")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (user, token)
