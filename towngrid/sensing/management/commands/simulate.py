"""``towngrid simulate sensors``: replay a realistic day of the town's sensors (simulate.py)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from towngrid.sensing import simulate
from towngrid.sensing.mqtt import DEFAULT_PREFIX, BrokerUrlError


def _day(text: str) -> date:
    if text in ("", "today"):
        return datetime.now(tz=simulate.BEIJING).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"日期格式无效：{text}（应为 YYYY-MM-DD 或 today）") from None


def _minute(text: str) -> float:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise CommandError(f"时间格式无效：{text}（应为 HH:MM）") from None
    if not 0 <= value < simulate.DAY_MINUTES:
        raise CommandError(f"时间超出一天的范围：{text}")
    return value


class Command(BaseCommand):
    help = (
        "模拟：sensors（回放示范镇一天的物联感知数据：暴雨、泵站、水质、燃气、电梯、AI 摄像头）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True, metavar="{sensors}")
        p = sub.add_parser("sensors", help="回放一天的设备上报")
        p.add_argument(
            "--to",
            choices=["mqtt", "http", "db", "stdout"],
            default="mqtt",
            help="发往 MQTT 代理、HTTP 上报接口、直接写库，或打印（默认 mqtt）",
        )
        p.add_argument("--date", default="today", help="回放哪一天（YYYY-MM-DD，默认今天）")
        pace = p.add_mutually_exclusive_group()
        pace.add_argument(
            "--speed", type=float, help="按实际时间的 N 倍回放（如 60：一天 24 分钟）"
        )
        pace.add_argument("--instant", action="store_true", help="立即全部发送（默认）")
        p.add_argument(
            "--live",
            action="store_true",
            help="与 --speed 同用：每条数据以发送时刻为观测时间，让演示“活”起来",
        )
        p.add_argument("--start", default="00:00", help="从一天中的这个时刻开始（HH:MM）")
        p.add_argument(
            "--url",
            help="MQTT 代理地址（默认 MQTT_URL）或 HTTP 服务地址（默认 http://127.0.0.1:8000）",
        )
        p.add_argument("--topic-prefix", default=DEFAULT_PREFIX, help="MQTT 主题前缀")
        p.add_argument("--devices", default="", help="只回放编码以此开头的设备（默认示范镇设备）")
        p.add_argument("--seed", type=int, default=2023, help="随机种子（默认 2023）")
        p.add_argument(
            "--secrets",
            help="HTTP 上报用的设备密钥文件（JSON：{设备编码: 密钥}；默认示范镇设备的演示密钥）",
        )
        p.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["sub"])(options)

    def _sensors(self, options) -> None:
        day = _day(options["date"])
        start = _minute(options["start"])
        speed = options.get("speed")
        if speed is not None and speed <= 0:
            raise CommandError("--speed 必须大于 0")
        if options["live"] and speed is None:
            raise CommandError("--live 需要与 --speed 一起使用")
        devices = simulate.devices_from_db(options["devices"])
        if not devices:
            raise CommandError(
                "没有可模拟的设备：请先建立示范镇（towngrid demo --build-only）或登记设备。"
            )
        readings = simulate.plan_day(devices, day, seed=options["seed"])
        sink = self._sink(options)
        self.stderr.write(
            f"回放 {day:%Y-%m-%d}：{len(devices)} 台设备，{len(readings)} 条数据 → {options['to']}"
            + (f"，{speed:g} 倍速" if speed else "，立即发送")
        )
        bar = tqdm(
            total=sum(1 for r in readings if r.minute >= start),
            unit="条",
            disable=options["no_progress"] or options["to"] == "stdout",
            file=sys.stderr,
        )
        try:
            result = simulate.replay(
                readings, day, sink, speed=speed, live=options["live"], start_minute=start,
                progress=bar.update,
            )  # fmt: skip
        except simulate.SimulationError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            sink.close()
            raise CommandError("已中断。") from None
        finally:
            bar.close()
        summary = {"sent": result.sent, "held_back": result.held_back, "by_type": result.by_type}
        totals = getattr(sink, "totals", None)
        if totals:
            summary.update(totals)
        if result.held_back:
            self.stderr.write(
                f"{result.held_back} 条数据的时间晚于现在，未发送（接收端拒收未来时间）。"
            )
        self.stderr.write("完成：" + json.dumps(summary, ensure_ascii=False))

    def _sink(self, options) -> simulate.Sink:
        to = options["to"]
        if to == "db":
            return simulate.DbSink()
        if to == "stdout":
            return simulate.ListSink(
                write=lambda m: self.stdout.write(json.dumps(m.body, ensure_ascii=False))
            )
        if to == "mqtt":
            url = options.get("url") or getattr(settings, "MQTT_URL", "")
            if not url:
                raise CommandError(
                    "需要一个 MQTT 代理：请设置 MQTT_URL 或使用 --url（如 mqtt://127.0.0.1:1883），"
                    "或改用 --to http / --to db。"
                )
            try:
                return simulate.MqttSink(url, options["topic_prefix"])
            except (BrokerUrlError, simulate.SimulationError) as exc:
                raise CommandError(str(exc)) from None
        from towngrid.sensing.demo import demo_secret

        secret_of = demo_secret
        if options.get("secrets"):
            try:
                with open(options["secrets"], encoding="utf-8") as f:
                    secrets = json.load(f)
            except (OSError, ValueError) as exc:
                raise CommandError(f"无法读取密钥文件 {options['secrets']}：{exc}") from None
            if not isinstance(secrets, dict):
                raise CommandError("密钥文件必须是 JSON 对象：{设备编码: 密钥}")

            def secret_of(code: str) -> str:
                return str(secrets.get(code, ""))

        return simulate.HttpSink(options.get("url") or "http://127.0.0.1:8000", secret_of)
