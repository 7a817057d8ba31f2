from .context import reset_client_ip, set_client_ip


def client_ip_of(request) -> str | None:
    # Behind the reverse proxy the real address is the first X-Forwarded-For entry; the proxy is
    # configured to overwrite, not append, so a client cannot forge it (see docs/deployment.md).
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_client_ip(client_ip_of(request))
        try:
            return self.get_response(request)
        finally:
            reset_client_ip(token)
