"""``towngrid colours recompute|expire-overrides|install-rules``: the colour engine from the
command line, acting as the system.

``recompute`` re-evaluates every object of a kind (after the rules changed, or to fill in the
colours of imported objects), with a progress bar; ``expire-overrides`` is the sweep a scheduler
runs every few minutes: overrides past their expiry and findings aged out of their window.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.codes import colours
from towngrid.codes.rules_default import install_default_colour_rules


class _Bar:
    """The ``core.jobs.JobProgress`` interface over a tqdm bar."""

    def __init__(self, desc: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="个", file=sys.stderr, disable=not enabled)

    def set_total(self, total: int) -> None:
        self.bar.total = total
        self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = "三色管理：重新评定颜色、处理到期的人工调整、安装默认规则。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="sub", required=True, metavar="{recompute,expire-overrides,install-rules}"
        )
        again = sub.add_parser("recompute", help="按当前规则重新评定颜色（只写入有变化的）")
        again.add_argument(
            "--kind",
            action="append",
            help="对象类型（house、enterprise、shop…，可重复）；默认为所有启用规则的类型",
        )
        again.add_argument("--grid", default="", help="只评定此网格编码（含下级）内的对象")
        again.add_argument("--json", action="store_true", help="输出 JSON")
        again.add_argument("--no-progress", action="store_true", help="不显示进度条")

        sweep = sub.add_parser("expire-overrides", help="结束到期的人工调整，复评到期的巡查发现")
        sweep.add_argument("--json", action="store_true", help="输出 JSON")

        sub.add_parser("install-rules", help="为尚无规则集的对象类型安装默认三色规则")

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["sub"].replace("-", "_"))(options)

    def _recompute(self, options) -> None:
        kinds = options.get("kind") or [
            k for k in colours.known_kinds() if colours.rule_set_for(k) is not None
        ]
        results = {}
        for kind in kinds:
            if kind not in colours.known_kinds():
                raise CommandError(
                    f"未知的对象类型：{kind}，可用：{'、'.join(colours.known_kinds())}"
                )
            if colours.rule_set_for(kind) is None:
                raise CommandError(f"对象类型 {kind} 没有启用的三色规则。")
            bar = _Bar(f"评定 {kind}", not options["no_progress"] and not options["json"])
            try:
                results[kind] = colours.recompute_kind(bar, kind=kind, grid=options["grid"])
            finally:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False))
            return
        for kind, r in results.items():
            c = r["colours"]
            self.stdout.write(
                f"{kind}：评定 {r['evaluated']} 个，新增 {r['created']}，颜色变化 {r['changed']}"
                f"（绿 {c['green']} · 黄 {c['yellow']} · 红 {c['red']}）"
            )

    def _expire_overrides(self, options) -> None:
        result = colours.sweep()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write(f"复评 {result['evaluated']} 个，颜色变化 {result['changed']} 个。")

    def _install_rules(self, options) -> None:
        added = install_default_colour_rules()
        self.stdout.write(f"已安装 {added} 个默认规则集。")
