"""The codes app's configuration keys (``towngrid.core.config``), registered on import; the
codes actions, pages and admin import this module."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from towngrid.core import config

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def _base_url(value: Any) -> str:
    """Empty (use the address the page was opened at) or an http(s) URL without a path."""
    if not isinstance(value, str):
        raise ValidationError("应为网址，例如 https://grid.example.gov.cn。")
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
        raise ValidationError(
            "应为 http(s):// 开头、不带路径的网址，例如 https://grid.example.gov.cn。"
        )
    return value


config.register(
    "codes.checkin_radius_m",
    100,
    "扫码签到有效距离（米）",
    config.positive_int(5, 5000),
    "签到时手机定位与对象位置的距离超过此值，签到仍然记录，但标记为“距离过远”。",
)
config.register(
    "codes.public_url",
    "",
    "门牌码网址前缀",
    _base_url,
    "印在门牌二维码里的网址前缀（如 https://grid.example.gov.cn）。为空时使用打开页面的网址。",
)


def checkin_radius_m() -> int:
    return int(config.get("codes.checkin_radius_m"))


def public_url(request=None) -> str:
    """The scheme and host printed into codes: the configured one, else the request's, else the
    embedded server's default address (CLI without configuration)."""
    configured = config.get("codes.public_url")
    if configured:
        return configured
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return DEFAULT_PUBLIC_URL
