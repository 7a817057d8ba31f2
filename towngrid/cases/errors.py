"""The one error the case actions raise: a stable machine code, a Chinese message for people,
and the HTTP status the API answers with. Views show ``message``; the API wraps it in
``core.api.ApiError`` so clients branch on ``code``."""

from __future__ import annotations

from typing import Any

# code → HTTP status. A refused transition is a conflict with the case's current state (409),
# like a lost optimistic-concurrency race; bad input is 400; a missing capability or a case
# outside the actor's scope is 403.
HTTP_STATUS = {
    "invalid": 400,
    "reason_required": 400,
    "outside_town": 400,
    "after_photo_required": 400,
    "transition_not_allowed": 409,
    "no_pending_request": 409,
    "request_pending": 409,
    "conflict": 409,
    "forbidden": 403,
    "not_found": 404,
}


class CaseError(Exception):
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
