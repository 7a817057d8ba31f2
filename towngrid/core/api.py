"""API conventions shared by every app: structured errors and the scoped base viewset.

Every error body is ``{"error": {"code": "...", "message": "...", "details": ...}}`` so that a
client can branch on ``code`` and show ``message`` (Chinese by default, per Accept-Language).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

INVALID_MESSAGE = "输入有误，请检查标出的字段。"


class ApiError(APIException):
    """An error with a stable machine code, raised by views for domain failures."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, *, status_code: int = 400, details=None):
        self.code = code
        self.message = str(message)
        self.status_code = status_code
        self.details = details
        super().__init__(detail=self.message, code=code)


def error_body(code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": str(message)}
    if details is not None:
        body["details"] = details
    return {"error": body}


def exception_handler(exc, context):
    if isinstance(exc, ApiError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        # An action refused the input (model validation): a 400 like any other bad input.
        details = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        message = exc.messages[0] if len(exc.messages) == 1 else INVALID_MESSAGE
        return Response(error_body("invalid", message, details), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        code = getattr(detail, "code", code)
        body = error_body(code, str(detail))
    elif isinstance(data, list) and len(data) == 1:
        body = error_body(getattr(data[0], "code", "invalid"), str(data[0]))
    else:
        body = error_body("invalid", INVALID_MESSAGE, data)
    if getattr(exc, "wait", None) is not None:
        body["error"]["details"] = {"wait_seconds": exc.wait}
    response.data = body
    return response


class ScopedViewSetMixin:
    """Base for every API view over a scoped model: the queryset is limited to the user's grid
    scope here, once, so no endpoint can forget it. An object outside the scope is a 404, exactly
    like one that does not exist (no existence oracle). The system check ``towngrid.E001`` refuses
    a view over a scoped model that does not inherit this first."""

    def get_queryset(self):
        from towngrid.accounts.access import visible_to

        return visible_to(self.request.user, super().get_queryset())
