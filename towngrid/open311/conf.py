"""The Open311 app's configuration keys (registered when the app is ready, so the admin and
``config.get`` know them before any Open311 view has been imported)."""

from typing import Any

from django.core.exceptions import ValidationError

from towngrid.core import config


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("不能为空。")
    return value.strip()


config.register(
    "open311.jurisdiction_id",
    "beicai.pudong.sh.cn",
    "Open311 jurisdiction_id",
    _nonempty,
    "客户端传入的 jurisdiction_id 必须与此一致。",
)
config.register(
    "open311.ip_rate_per_minute",
    120,
    "Open311 每个客户端地址每分钟请求上限",
    config.positive_int(1, 100_000),
)
config.register(
    "open311.report_per_ip_per_hour",
    10,
    "居民上报页每个客户端地址每小时提交上限",
    config.positive_int(1, 100_000),
)
