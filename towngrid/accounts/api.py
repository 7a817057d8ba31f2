from django.contrib.auth import authenticate, update_session_auth_hash
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, views
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from towngrid.core.api import ApiError

from . import actions, second_factor
from .api_auth import HashedTokenAuthentication
from .backends import DEMO_REFUSED, LOCKED
from .models import ApiToken
from .serializers import (
    MeSerializer,
    PasswordChangeSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)


class LoginRateThrottle(AnonRateThrottle):
    """Per client address, on top of the per-account lockout."""

    scope = "login"
    rate = "30/min"


class ObtainTokenView(views.APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``).

    The same lockout as the login page applies; failures and issues are audited."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = dict(data.validated_data)
        code = credentials.pop("otp", "")
        user = authenticate(request, **credentials)
        if user is None:
            # The failure itself is audited by the user_login_failed receiver.
            reason, until = getattr(request, "auth_failure", None) or (None, None)
            if reason == LOCKED:
                raise ApiError(
                    "account_locked",
                    "登录失败次数过多，账户已锁定。",
                    status_code=403,
                    details={"locked_until": until.isoformat() if until else None},
                )
            if reason == DEMO_REFUSED:
                raise ApiError("demo_refused", "生产模式下不允许使用演示账户。", status_code=403)
            raise ApiError("invalid_credentials", "用户名或密码不正确。", status_code=400)
        refused = second_factor.check_token_request(user, code)
        if refused == "second_factor_enrolment_required":
            raise ApiError(
                refused,
                "管理员须先在网页登录时绑定双因素验证器，才能申请 API 令牌。",
                status_code=403,
            )
        if refused:
            raise ApiError(refused, "请在 otp 字段提供验证器中当前的 6 位验证码。", status_code=401)
        token, key = actions.issue_token(user, name="api")
        return Response({"token": key, "expires_at": token.expires_at})


class RevokeTokenView(views.APIView):
    """Revoke the token this request is authenticated with (the API's log-out)."""

    authentication_classes = [HashedTokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        token = request.auth
        if not isinstance(token, ApiToken):
            raise ApiError("not_token_auth", "此请求未使用令牌认证。", status_code=400)
        actions.revoke_token(request.user, token, reason="revoked through the API")
        return Response(status=204)


class MeView(views.APIView):
    """The signed-in user's profile, role, grid scope and capabilities."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class ChangePasswordView(views.APIView):
    """Change one's own password (also when it has expired or must be changed first)."""

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            actions.change_password(
                request.user,
                data.validated_data["old_password"],
                data.validated_data["new_password"],
            )
        except actions.AccountActionError as exc:
            raise ApiError("password_not_changed", str(exc), status_code=400) from exc
        if not isinstance(request.auth, ApiToken):
            update_session_auth_hash(request._request, request.user)  # keep this session
        return Response(status=204)
