"""``towngrid codes plates|issue|revoke|reissue|coverage``: door plates and codes from the
command line. The CLI acts as the system (no user), through ``codes.actions`` like every other
caller."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from towngrid.codes import actions, conf, objects, patrols, plates, queries
from towngrid.codes.errors import CodeError


def _date(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"日期格式无效：{text}（应为 YYYY-MM-DD）") from None


class Command(BaseCommand):
    help = "门牌码：打印门牌、生成、作废与重发，巡查覆盖率。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="sub", required=True, metavar="{plates,issue,revoke,reissue,coverage}"
        )
        p = sub.add_parser("plates", help="生成楼组或网格的门牌码打印稿（PDF 或 SVG）")
        p.add_argument("--group", required=True, help="楼组或网格编码")
        p.add_argument("-o", "--output", required=True, help="输出文件，.pdf 或 .svg")
        p.add_argument("--building", default="", help="仅此楼栋：地址开头，如 莲园路120弄3号")
        p.add_argument(
            "--base-url", default="", help="二维码网址前缀（默认取配置 codes.public_url）"
        )
        p.add_argument("--no-progress", action="store_true", help="不显示进度条")

        i = sub.add_parser("issue", help="为尚无门牌码的对象批量生成")
        i.add_argument("--grid", default="", help="仅此网格编码（含下级）")

        for name, text in (("revoke", "作废门牌码"), ("reissue", "作废并重新生成门牌码")):
            r = sub.add_parser(name, help=text)
            r.add_argument("token", help="门牌码码值")
            r.add_argument("--reason", required=True, help="原因")

        c = sub.add_parser("coverage", help="巡查覆盖率")
        c.add_argument("--grid", required=True, help="网格编码（含下级）")
        c.add_argument("--start", help="开始日期 YYYY-MM-DD（默认 30 天前）")
        c.add_argument("--end", help="结束日期 YYYY-MM-DD（默认今天）")
        c.add_argument("--json", action="store_true", help="输出 JSON")

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, "_" + options["sub"])(options)
        except CodeError as exc:
            raise CommandError(exc.message) from None

    def _plates(self, options) -> None:
        out = Path(options["output"])
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in {"pdf", "svg"}:
            raise CommandError("输出文件应以 .pdf 或 .svg 结尾。")
        base = (options["base_url"] or conf.public_url()).rstrip("/")
        bar = None
        state = {"bar": None}

        def on_total(total: int) -> None:
            if not options["no_progress"]:
                from tqdm import tqdm

                state["bar"] = tqdm(total=total, desc="门牌", unit="张", file=sys.stderr)

        def advance(n: int = 1) -> None:
            if state["bar"] is not None:
                state["bar"].update(n)

        try:
            data, _, count = plates.make_sheet(
                options["group"],
                fmt,
                base,
                progress=advance,
                on_total=on_total,
                building=options["building"],
            )
        finally:
            bar = state["bar"]
            if bar is not None:
                bar.close()
        out.write_bytes(data)
        self.stdout.write(f"已生成 {count} 张门牌：{out}")

    def _issue(self, options) -> None:
        total = 0
        for model in objects.coded_models():
            qs = model._default_manager.all()
            if options["grid"]:
                qs = qs.filter(grid_code__startswith=options["grid"])
            total += actions.issue_many(qs.iterator(chunk_size=2000))
        self.stdout.write(f"已生成门牌码 {total} 个。")

    def _code(self, token: str):
        try:
            return queries.code_for_token(token)
        except CodeError as exc:
            if exc.code == "revoked":
                raise CommandError("该门牌码已经作废。") from None
            raise

    def _revoke(self, options) -> None:
        code = actions.revoke(self._code(options["token"]), reason=options["reason"])
        self.stdout.write(f"已作废第 {code.serial} 版门牌码。")

    def _reissue(self, options) -> None:
        obj = queries.subject_of(self._code(options["token"]))
        code = actions.reissue(obj, reason=options["reason"])
        self.stdout.write(f"已生成第 {code.serial} 版门牌码：{code.token}")

    def _coverage(self, options) -> None:
        end = _date(options.get("end"), timezone.localdate())
        start = _date(options.get("start"), end - timedelta(days=29))
        if start > end:
            raise CommandError("开始日期不能晚于结束日期。")
        total = patrols.patrol_coverage(options["grid"], start, end)
        if options["json"]:
            self.stdout.write(json.dumps(total, ensure_ascii=False))
            return
        self.stdout.write(
            f"{start} 至 {end}：应巡 {total['due']}，按期 {total['done']}，"
            f"超期 {total['overdue']}，覆盖率 {total['rate']:.1%}"
        )
