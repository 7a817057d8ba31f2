"""API conventions shared by every app: structured errors.

Every error body is ``{"error": {"code": "...", "message": "...", "details": ...}}`` so that a
client can branch on ``code`` and show ``message`` (Chinese by default, per Accept-Language).
"""

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(APIException):
    """An error with a stable machine code, raised by views for domain failures."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, *, status_code: int = 400, details=None):
        self.code = code
        self.message = str(message)
        self.status_code = status_code
        self.details = details
        super().__init__(detail=self.message, code=code)


def exception_handler(exc, context):
    if isinstance(exc, ApiError):
        body = {"code": exc.code, "message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
        return Response({"error": body}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        code = getattr(detail, "code", code)
        body = {"code": code, "message": str(detail)}
    else:
        body = {"code": "invalid", "message": "输入有误，请检查标出的字段。", "details": data}
    response.data = {"error": body}
    return response


class ScopedViewSetMixin:
    """Base for every API view over a scoped model: the queryset is limited to the user's grid
    scope here, once, so no endpoint can forget it."""

    def get_queryset(self):
        from towngrid.accounts.access import visible_to

        return visible_to(self.request.user, super().get_queryset())
