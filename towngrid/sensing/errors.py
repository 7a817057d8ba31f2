"""The one error the sensing actions raise: a stable code, a Chinese message, an HTTP status."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "invalid": 400,
    "outside_town": 400,
    "too_large": 413,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "already_cleared": 409,
    "already_acknowledged": 409,
    "already_replayed": 409,
}


class SensingError(Exception):
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
