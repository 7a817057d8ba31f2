"""The one error the codes actions raise: a stable machine code, a Chinese message for people,
and the HTTP status the API answers with (like ``cases.errors.CaseError``)."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "invalid": 400,
    "reason_required": 400,
    "no_position": 400,
    "not_coded": 400,
    "revoked": 410,
    "conflict": 409,
    "forbidden": 403,
    "not_found": 404,
}


class CodeError(Exception):
    def __init__(self, code: str, message: str, *, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def __str__(self) -> str:
        return self.message
