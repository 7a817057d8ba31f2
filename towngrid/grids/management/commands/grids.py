"""``towngrid grids stats|import|export|lookup``: the grid from the command line.

Writes go through grids.actions like everywhere else; the CLI acts as the system (no user).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.grids import actions, index, queries
from towngrid.grids.crs import normalize_crs
from towngrid.grids.models import GridNode, Level, Post

POST_LABELS = {p.value: str(p.label) for p in Post}


class Command(BaseCommand):
    help = "网格：统计、导入、导出、坐标查询。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="sub", required=True, metavar="{stats,import,export,lookup}"
        )

        stats = sub.add_parser("stats", help="各层级网格数与人员数")
        stats.add_argument("--root", help="只统计此编码的子树")
        stats.add_argument("--json", action="store_true", help="输出 JSON")

        imp = sub.add_parser("import", help="导入 GeoJSON（全部成功或全部不写入）")
        imp.add_argument("file", help="GeoJSON FeatureCollection 文件，- 表示标准输入")
        imp.add_argument("--dry-run", action="store_true", help="只校验，不写入")
        imp.add_argument("--reason", default="", help="写入审计日志的原因")
        imp.add_argument("--json", action="store_true", help="以 JSON 输出结果")

        exp = sub.add_parser("export", help="导出 GeoJSON")
        exp.add_argument("--level", type=int, choices=Level.values, help="只导出此层级")
        exp.add_argument("--root", help="只导出此编码的子树")
        exp.add_argument("-o", "--output", help="输出文件（默认标准输出）")

        look = sub.add_parser("lookup", help="坐标所在网格")
        look.add_argument("lat", type=float, help="纬度")
        look.add_argument("lng", type=float, help="经度")
        look.add_argument("--crs", default="wgs84", help="wgs84（默认）、cgcs2000、gcj02、bd09")
        look.add_argument("--json", action="store_true", help="输出 JSON")

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['sub']}")(options)

    # --- stats ---------------------------------------------------------------------------------

    def _stats(self, options) -> None:
        root = options.get("root")
        if root and not GridNode.objects.filter(code=root).exists():
            raise CommandError(f"没有编码为 {root} 的网格。")
        stats = queries.grid_stats(root)
        if options["json"]:
            self.stdout.write(json.dumps(stats, ensure_ascii=False, indent=2))
            return
        headers = ["层级", "节点数", *POST_LABELS.values()]
        rows = []
        for row in stats["levels"]:
            label = f"{row['level']} {row['label']}"
            staff = [row["staff"][p] or "" for p in POST_LABELS]
            rows.append([label, row["nodes"], *staff])
        rows.append(["合计（按人去重）", "", *[stats["staff"][p] for p in POST_LABELS]])
        self.stdout.write(_table(headers, rows))
        micro = next(r for r in stats["levels"] if r["level"] == Level.MICRO)
        split = "，".join(f"{k} {v}" for k, v in sorted(micro.get("by_community_kind", {}).items()))
        if split:
            self.stdout.write(f"微网格：{split}")

    # --- import --------------------------------------------------------------------------------

    def _import(self, options) -> None:
        from tqdm import tqdm

        path = options["file"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"无法读取文件 {path}：{exc}") from exc
        try:
            fc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"不是有效的 JSON：{exc}") from exc

        stages = ["读取要素", "校验", "写入", "完成"]
        bar = tqdm(total=len(stages), desc="导入网格", unit="步", file=sys.stderr, leave=False)

        def progress(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        try:
            result = actions.import_geojson(
                fc, dry_run=options["dry_run"], reason=options["reason"], progress=progress
            )
            bar.update(bar.total - bar.n)  # a dry run or a refused file stops before writing
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        elif not result.ok:
            self.stderr.write(f"发现 {len(result.errors)} 处问题，未写入任何数据：")
            for error in result.errors:
                where = "文件" if error.index is None else f"要素 #{error.index}"
                code = error.code or "-"
                self.stderr.write(f"  {where}  {code}  [{error.field}] {error.reason}")
        else:
            verb = "校验通过（试运行，未写入）" if result.dry_run else "导入完成"
            self.stdout.write(
                f"{verb}：新增 {result.created}，更新 {result.updated}，未变 {result.unchanged}。"
            )
        if not result.ok:
            sys.exit(1)

    # --- export --------------------------------------------------------------------------------

    def _export(self, options) -> None:
        qs = GridNode.objects.all()
        if options.get("root"):
            qs = qs.filter(code__startswith=options["root"])
        if options.get("level"):
            qs = qs.filter(level=options["level"])
        text = json.dumps(actions.export_geojson(qs), ensure_ascii=False)
        if options.get("output"):
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"已导出到 {options['output']}")
        else:
            self.stdout.write(text)

    # --- lookup --------------------------------------------------------------------------------

    def _lookup(self, options) -> None:
        try:
            crs = normalize_crs(options["crs"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        lat, lng = options["lat"], options["lng"]
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise CommandError("坐标超出范围：先纬度，后经度。")
        path = index.lookup(lng, lat, crs)
        if options["json"]:
            body = (
                {"path": [{"code": n.code, "name": n.name, "level": n.level} for n in path]}
                if path
                else {"error": {"code": "not_in_any_grid", "message": "该坐标不在任何网格内。"}}
            )
            self.stdout.write(json.dumps(body, ensure_ascii=False))
        elif path is None:
            self.stderr.write("该坐标不在任何网格内。")
        else:
            for node in path:
                self.stdout.write(f"{'  ' * (node.level - 1)}{node.code}  {node.name}")
        if path is None:
            sys.exit(1)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        out = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            out.append(cell + pad if i == 0 else pad + cell)
        return "  ".join(out)

    return "\n".join([line(cells[0]), *[line(r) for r in cells[1:]]])
