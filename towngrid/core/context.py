"""The request that is being served, for actions that record who did something and from where.

Actions are called from views, the API, the CLI and workers; only the first two have a request.
The middleware sets it; everything else runs with none and records no client address.
"""

from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def current_client_ip() -> str | None:
    return _client_ip.get()


def set_client_ip(ip: str | None):
    return _client_ip.set(ip)


def reset_client_ip(token) -> None:
    _client_ip.reset(token)
