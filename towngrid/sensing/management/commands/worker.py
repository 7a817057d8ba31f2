"""``towngrid worker mqtt``: the MQTT ingestion worker (towngrid/sensing/mqtt.py).

Runs until SIGTERM or Ctrl-C, then commits and acknowledges what it already received and leaves
its session at the broker, so messages published meanwhile wait for the next start.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.sensing.mqtt import (
    DEFAULT_PREFIX,
    DEFAULT_SESSION_EXPIRY,
    BrokerUrlError,
    MqttWorker,
    parse_broker_url,
)


def default_client_id() -> str:
    """Fixed per host unless configured: a restarted worker resumes the same broker session."""
    configured = getattr(settings, "MQTT_CLIENT_ID", "")
    return configured or f"towngrid-ingest-{socket.gethostname()}"


class Command(BaseCommand):
    help = "后台工作进程：mqtt（订阅设备上报，写入观测数据并触发告警规则）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True, metavar="{mqtt}")
        mqtt = sub.add_parser("mqtt", help="订阅 MQTT 代理上的设备主题（QoS 1、持久会话）")
        mqtt.add_argument(
            "--url", help="MQTT 代理地址，如 mqtt://127.0.0.1:1883（默认取 MQTT_URL）"
        )
        mqtt.add_argument(
            "--client-id",
            help="固定的客户端标识：重启后沿用同一会话（默认 MQTT_CLIENT_ID 或 towngrid-ingest-主机名）",
        )
        mqtt.add_argument("--batch-size", type=int, default=500, help="每批最多条数（默认 500）")
        mqtt.add_argument(
            "--batch-ms", type=int, default=200, help="凑批最长等待毫秒数（默认 200）"
        )
        mqtt.add_argument(
            "--topic-prefix",
            default=getattr(settings, "MQTT_TOPIC_PREFIX", "") or DEFAULT_PREFIX,
            help=f"主题前缀（默认 {DEFAULT_PREFIX}：订阅 {DEFAULT_PREFIX}/devices/+/up 与 {DEFAULT_PREFIX}/fiware/+）",
        )
        mqtt.add_argument(
            "--session-expiry",
            type=int,
            default=DEFAULT_SESSION_EXPIRY,
            help="代理为离线的工作进程保留会话的秒数（默认 7 天）",
        )
        mqtt.add_argument(
            "--sweep-every",
            type=float,
            default=60.0,
            help="每隔多少秒巡检一次离线设备和过期事件告警（默认 60；0 为不巡检）",
        )
        mqtt.add_argument(
            "--report-every", type=float, default=10.0, help="每隔多少秒输出一次速率（默认 10）"
        )

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["sub"])(options)

    def _say(self, text: str) -> None:
        self.stdout.write(f"[{datetime.now():%H:%M:%S}] {text}")
        self.stdout.flush()

    def _mqtt(self, options) -> None:
        url = options.get("url") or getattr(settings, "MQTT_URL", "")
        if not url:
            raise CommandError(
                "需要一个 MQTT 代理：请设置环境变量 MQTT_URL（如 mqtt://127.0.0.1:1883）"
                "或使用 --url。没有代理时，设备可通过 HTTP 接口上报。"
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size 至少为 1")
        if options["batch_ms"] < 0:
            raise CommandError("--batch-ms 不能为负数")
        try:
            parse_broker_url(url)
        except BrokerUrlError as exc:
            raise CommandError(str(exc)) from None
        worker = MqttWorker(
            url=url,
            client_id=options.get("client_id") or default_client_id(),
            batch_size=options["batch_size"],
            batch_ms=options["batch_ms"],
            prefix=options["topic_prefix"],
            session_expiry=options["session_expiry"],
            report_every=options["report_every"],
            sweep_every=options["sweep_every"],
            say=self._say,
        )

        def stop(signum, frame) -> None:
            self._say("收到停止信号，提交已收到的消息后退出…")
            worker.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        stats = worker.run()
        self._say("已停止：" + json.dumps(stats.as_dict()))
        sys.stdout.flush()
