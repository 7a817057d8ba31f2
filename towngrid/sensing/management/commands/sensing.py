"""``towngrid sensing devices|rules|check-silent|replay <id>|install``: the sensing CLI."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "物联感知：设备列表、规则列表、离线检查、死信重放、安装设备类型与规则。"

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        devices = sub.add_parser("devices", help="设备列表（类型、状态、最后上报）")
        devices.add_argument("--type", default="", help="设备类型编码")
        devices.add_argument("--state", default="", help="online / offline / unknown")
        devices.add_argument("--grid", default="", help="网格编码前缀")
        rules = sub.add_parser("rules", help="规则列表（含单设备覆盖）")
        rules.add_argument("--type", default="", help="设备类型编码")
        silent = sub.add_parser("check-silent", help="离线检查与事件告警到期清除（每分钟运行）")
        silent.add_argument(
            "--loop", type=int, default=0, help="每隔多少秒重复一次（0：只运行一次）"
        )
        replay = sub.add_parser("replay", help="重放死信")
        replay.add_argument("ids", nargs="+", type=int, help="死信编号")
        sub.add_parser("install", help="安装或更新设备类型、默认规则与转案件策略")
        letters = sub.add_parser("dead-letters", help="最近的死信")
        letters.add_argument("--limit", type=int, default=20)

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["what"].replace("-", "_"))(options)

    def _devices(self, options) -> None:
        from django.utils.timezone import localtime

        from towngrid.sensing import queries
        from towngrid.sensing.models import Device

        qs = queries.filter_devices(
            Device.objects.select_related("device_type"),
            {"type": options["type"], "state": options["state"], "grid": options["grid"]},
        )
        for d in qs.order_by("code"):
            seen = f"{localtime(d.last_seen_at):%Y-%m-%d %H:%M}" if d.last_seen_at else "—"
            battery = f"{d.battery:.0f}%" if d.battery is not None else ""
            self.stdout.write(
                f"{d.code:<14} {d.device_type.name:<8} {d.get_state_display():<4} {seen:<16} "
                f"{battery:>5} {d.grid_code} {d.name}"
            )
        counts = queries.device_state_counts(qs)
        for code, c in sorted(counts.items()):
            self.stdout.write(f"{code}: 共 {c['total']}，在线 {c['online']}，离线 {c['offline']}")

    def _rules(self, options) -> None:
        from towngrid.sensing.models import Rule

        qs = Rule.objects.select_related("device_type", "device").order_by(
            "device_type__code", "device__code", "code"
        )
        if options["type"]:
            qs = qs.filter(device_type__code=options["type"])
        for r in qs:
            target = r.device.code if r.device_id else r.device_type.code
            value = r.text_value or ("" if r.threshold is None else r.threshold)
            cond = f"{r.metric} {r.get_operator_display()} {value}".strip()
            extra = []
            if r.clear_threshold is not None:
                extra.append(f"回差 {r.clear_threshold}")
            if r.duration_minutes:
                extra.append(f"持续 {r.duration_minutes} 分钟")
            if r.repeat_count > 1:
                extra.append(f"连续 {r.repeat_count} 次")
            if r.auto_clear_minutes:
                extra.append(f"{r.auto_clear_minutes} 分钟无重复自动清除")
            state = "" if r.is_active else "（停用）"
            self.stdout.write(
                f"{target:<18} {r.code:<20} {cond:<28} {r.get_severity_display():<3} "
                f"→ {r.alarm_type} {'，'.join(extra)}{state}"
            )

    def _check_silent(self, options) -> None:
        import time

        from towngrid.sensing.actions import check_silent_devices

        while True:
            result = check_silent_devices()
            self.stdout.write(
                f"离线 {result['offline']} 台，到期清除事件告警 {result['expired']} 条。"
            )
            if not options["loop"]:
                return
            time.sleep(options["loop"])

    def _replay(self, options) -> None:
        from towngrid.sensing.actions import replay_dead_letter
        from towngrid.sensing.errors import SensingError
        from towngrid.sensing.models import DeadLetter

        failed = False
        for pk in options["ids"]:
            dl = DeadLetter.objects.filter(pk=pk).first()
            if dl is None:
                self.stderr.write(f"#{pk}: 死信不存在。")
                failed = True
                continue
            try:
                result = replay_dead_letter(dl, actor=None)
            except SensingError as exc:
                self.stderr.write(f"#{pk}: {exc.message}")
                failed = True
                continue
            if result.stored or result.duplicates:
                self.stdout.write(
                    f"#{pk}: 已入库 {result.stored} 条，重复 {result.duplicates} 条。"
                )
            else:
                failed = True
                reasons = "；".join(
                    f"{r['field'] or '报文'}：{r['message']}" for r in result.reasons
                )
                self.stderr.write(f"#{pk}: 仍无效：{reasons}")
        if failed:
            raise CommandError("部分死信未能重放。")

    def _install(self, options) -> None:
        from towngrid.sensing.catalogue import install

        counts = install()
        self.stdout.write(
            f"设备类型 {counts['device_types']} 个，规则 {counts['rules']} 条，策略 {counts['policies']} 条。"
        )

    def _dead_letters(self, options) -> None:
        from django.utils.timezone import localtime

        from towngrid.sensing.models import DeadLetter

        for dl in DeadLetter.objects.order_by("-received_at", "-id")[: options["limit"]]:
            first = dl.reasons[0] if dl.reasons else {}
            mark = "已重放" if dl.replayed_at else ""
            self.stdout.write(
                f"#{dl.pk} {localtime(dl.received_at):%Y-%m-%d %H:%M:%S} {dl.transport} {dl.device_code or '—'} "
                f"{first.get('field') or '报文'}：{first.get('message', '')} {mark}"
            )
