from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, views
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from towngrid.core.api import ApiError

from . import actions
from .backends import DEMO_REFUSED, LOCKED
from .serializers import MeSerializer, TokenRequestSerializer, TokenResponseSerializer


class LoginRateThrottle(AnonRateThrottle):
    rate = "30/min"


class ObtainTokenView(views.APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            reason, until = getattr(request, "auth_failure", (None, None))
            actions.record_login_failure(data.validated_data["username"], reason or "invalid")
            if reason == LOCKED:
                raise ApiError("account_locked", "登录失败次数过多，账户已锁定。", status_code=403,
                               details={"locked_until": until.isoformat() if until else None})
            if reason == DEMO_REFUSED:
                raise ApiError("demo_refused", "生产模式下不允许使用演示账户。", status_code=403)
            raise ApiError("invalid_credentials", "用户名或密码不正确。", status_code=400)
        token, key = actions.issue_token(user, name="api")
        return Response({"token": key, "expires_at": token.expires_at})


class MeView(views.APIView):
    """The signed-in user's profile, role, grid scope and capabilities."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
