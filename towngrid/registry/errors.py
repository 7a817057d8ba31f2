"""The one error the registry actions raise: a stable machine code, a Chinese message for
people, optional details (per field messages for invalid input), and the HTTP status the API
answers with. Views show ``message``; the API wraps it in ``core.api.ApiError``."""

from __future__ import annotations

from typing import Any

# Bad input 400; missing capability or an object outside the actor's scope 403; a lost
# optimistic-concurrency race or a duplicate of a unique identifier 409.
HTTP_STATUS = {
    "invalid": 400,
    "reason_required": 400,
    "outside_town": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "duplicate": 409,
}


class RegistryError(Exception):
    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def __str__(self) -> str:
        return self.message

    def as_api_error(self):
        from towngrid.core.api import ApiError

        return ApiError(self.code, self.message, status_code=self.http_status, details=self.details)
