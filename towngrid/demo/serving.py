"""The waitress server behind ``towngrid demo`` and ``towngrid serve``.

waitress is a pure-Python production WSGI server (docs/decisions.md, 11); static files are served
by WhiteNoise's middleware from the app folders (WHITENOISE_USE_FINDERS), so no collectstatic
step is needed for either command.
"""

import argparse
import os


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("TOWNGRID_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TOWNGRID_PORT", "8000")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TOWNGRID_THREADS", "8")))


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def browse_url(host: str, port: int) -> str:
    """The URL to open: a wildcard address is not one a browser can go to."""
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def allow_any_host() -> None:
    """For the demo on a LAN (``--host 0.0.0.0``): accept whatever host name visitors use.
    Never called in production, where TOWNGRID_ALLOWED_HOSTS decides."""
    from django.conf import settings

    if "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "*"]


def serve(*, host: str, port: int, threads: int = 8) -> None:
    """Serve the Django application until interrupted."""
    from django.core.wsgi import get_wsgi_application
    from waitress import serve as waitress_serve

    application = get_wsgi_application()
    # ident: no server version in the response headers (MLPS: disclose nothing not needed).
    waitress_serve(application, host=host, port=port, threads=threads, ident="towngrid")
