import ipaddress
from urllib.parse import urlencode

from django.conf import settings

from .context import begin_request, end_request, reset_client_ip, set_client_ip


def _ip(value: str | None) -> str | None:
    """A valid IP address or None: the audit column is an IP field, so junk must not reach it."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _trusted(ip: str | None, networks) -> bool:
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in net for net in networks)


def trusted_proxy_networks():
    raw = getattr(settings, "TOWNGRID_TRUSTED_PROXIES", None) or []
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    return [ipaddress.ip_network(p.strip(), strict=False) for p in raw]


def client_ip_of(request) -> str | None:
    """The client's address for the audit trail.

    ``X-Forwarded-For`` is believed only when the direct peer is a trusted proxy
    (``TOWNGRID_TRUSTED_PROXIES``, addresses or CIDRs); then the right-most address that is not
    itself a trusted proxy is the client. Without a configured proxy the header is ignored, so a
    client cannot write a forged address into the audit trail (see docs/deployment.md).
    """
    peer = _ip(request.META.get("REMOTE_ADDR"))
    networks = trusted_proxy_networks()
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [_ip(h) for h in forwarded.split(",")] if forwarded else []
    for hop in reversed(hops):
        if hop is None:
            break  # a malformed entry: stop believing the chain here
        if not _trusted(hop, networks):
            return hop
    return peer


def password_gate(request):
    """A response that sends a signed-in user whose password must be changed first (initial
    password, or older than ``TOWNGRID_PASSWORD_MAX_AGE_DAYS``) to change it; None to go on.

    Pages redirect to ``accounts:password_change`` (when the UI provides it); the JSON API
    answers 403 ``password_change_required`` except on the password and profile endpoints.
    Token-authenticated API calls get the same answer from ``HashedTokenAuthentication``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from django.http import JsonResponse
    from django.shortcuts import redirect

    from towngrid.accounts.access import (
        password_change_allowed_path,
        password_change_page,
        password_change_required,
    )
    from towngrid.accounts.api_auth import PASSWORD_MESSAGES

    reason = password_change_required(user)
    if not reason or password_change_allowed_path(request.path):
        return None
    if request.path.startswith("/api/"):
        message = PASSWORD_MESSAGES.get(reason, PASSWORD_MESSAGES["expired"])
        body = {"error": {"code": "password_change_required", "message": message}}
        return JsonResponse(body, status=403, json_dumps_params={"ensure_ascii": False})
    page = password_change_page()
    if page is None:
        return None  # no page to send them to yet: the API endpoint is the way
    return redirect(f"{page}?{urlencode({'next': request.get_full_path()})}")


class RequestContextMiddleware:
    """Makes the client address available to ``core.audit.record`` for the whole request, and
    holds a signed-in user whose password must be changed at the change page (it runs after
    AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ip_token = set_client_ip(client_ip_of(request))
        seen_token = begin_request()
        try:
            gate = password_gate(request)
            if gate is not None:
                return gate
            return self.get_response(request)
        finally:
            end_request(seen_token)
            reset_client_ip(ip_token)
