"""The request that is being served, for actions that record who did something and from where.

Actions are called from views, the API, the CLI and workers; only the first two have a request.
The middleware sets it; everything else runs with none and records no client address.
"""

from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
# Audit events already written in this request, so that an event recorded both by a signal and by
# the view that caused it (e.g. a login) is written once.
_recorded: ContextVar[set | None] = ContextVar("recorded", default=None)


def current_client_ip() -> str | None:
    return _client_ip.get()


def set_client_ip(ip: str | None):
    return _client_ip.set(ip)


def reset_client_ip(token) -> None:
    _client_ip.reset(token)


def begin_request():
    """Start a fresh per-request record of written events; returns the token for ``end_request``."""
    return _recorded.set(set())


def end_request(token) -> None:
    _recorded.reset(token)


def first_time(key) -> bool:
    """True the first time ``key`` is seen in this request; always True outside a request."""
    seen = _recorded.get()
    if seen is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True
