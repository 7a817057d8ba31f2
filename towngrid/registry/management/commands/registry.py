"""``towngrid registry template|import|export``: the registry's Excel import and export.

    towngrid registry template house -o houses.xlsx
    towngrid registry import house houses.xlsx --dry-run      # check only, report every error
    towngrid registry import house houses.xlsx                # all or nothing
    towngrid registry export residents --grid 310115125601 --filter tags=over_60 -o old.xlsx
    towngrid registry export residents -o r.xlsx --reveal --reason "民政核对"   # audited

The CLI acts as the system (no user) unless ``--user`` names one: then the user's grid scope,
capabilities (registry.import, personal.reveal) and audit identity apply. An import that rejects
any row exits with status 1 and writes nothing; an unreadable workbook exits with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.registry import excel, exports


class TqdmProgress:
    """The ``core.jobs.JobProgress`` interface over a tqdm bar."""

    def __init__(self, enabled: bool, desc: str):
        from tqdm import tqdm

        self.bar = tqdm(total=0, desc=desc, unit="行", disable=not enabled, file=sys.stderr)

    def set_total(self, total: int) -> None:
        self.bar.reset(total=total)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def say(self, message: str) -> None:
        self.bar.set_postfix_str(message)

    def close(self) -> None:
        self.bar.close()


TYPE_HELP = "、".join(f"{k}（{t.label}）" for k, t in excel.TYPES.items())


class Command(BaseCommand):
    help = "实有信息 Excel 导入导出：模板、试导入、导入、导出。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True, metavar="{template,import,export}")
        template = sub.add_parser("template", help="生成某类对象的导入模板")
        template.add_argument("type", help=f"类型：{TYPE_HELP}")
        template.add_argument(
            "-o", "--output", help="输出文件（默认 registry-<类型>-template.xlsx）"
        )

        load = sub.add_parser("import", help="导入工作簿：有任何一行被拒绝则不写入")
        load.add_argument("type", help=f"类型：{TYPE_HELP}")
        load.add_argument("file", help="Excel 工作簿（.xlsx）")
        load.add_argument("--dry-run", action="store_true", help="只校验，不写入（试导入）")
        load.add_argument("--user", help="以该用户身份导入（按其网格范围和权限）")
        load.add_argument("--report", help="把错误报告另存为 Excel 文件")
        load.add_argument("--json", action="store_true", help="以 JSON 输出报告")
        load.add_argument("--no-progress", action="store_true", help="不显示进度条")

        out = sub.add_parser("export", help="导出筛选后的清单（个人信息默认脱敏）")
        out.add_argument("type", help=f"类型：{TYPE_HELP}（也可用 houses、residents 等）")
        out.add_argument("-o", "--output", required=True, help="输出文件（.xlsx）")
        out.add_argument("--grid", help="网格编码前缀")
        out.add_argument("--q", help="关键字（姓名、地址、编码；身份证号、电话精确匹配）")
        out.add_argument(
            "--filter", action="append", default=[], metavar="名称=值",
            help="清单筛选条件，如 use=rented、tags=over_60、member=true，可重复",
        )  # fmt: skip
        out.add_argument("--user", help="以该用户身份导出（按其网格范围和权限）")
        out.add_argument(
            "--reveal", action="store_true", help="导出个人信息原文（须填写 --reason）"
        )
        out.add_argument("--reason", default="", help="导出原文的事由（记入审计）")
        out.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["sub"])(options)

    def _user(self, username: str | None):
        if not username:
            return None
        from towngrid.accounts.models import User

        try:
            return User.objects.select_related("role", "scope", "department").get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"用户不存在：{username}") from None

    def _template(self, options) -> None:
        try:
            key = exports.type_key(options["type"])
        except excel.ImportError_ as exc:
            raise CommandError(exc.message) from None
        path = Path(options.get("output") or f"registry-{key}-template.xlsx")
        path.write_bytes(excel.template_bytes(key))
        self.stdout.write(f"已生成{excel.TYPES[key].label}导入模板：{path}")

    def _import(self, options) -> None:
        from towngrid.accounts.access import has_capability

        actor = self._user(options.get("user"))
        if actor is not None and not has_capability(actor, "registry.import"):
            raise CommandError(f"用户 {actor.username} 没有导入实有信息的权限。")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}", returncode=2)
        progress = TqdmProgress(
            not options["no_progress"], "导入" if not options["dry_run"] else "试导入"
        )
        try:
            key = exports.type_key(options["type"])
            report = excel.run_import(
                key, path, actor=actor, dry_run=options["dry_run"], progress=progress,
                file_name=path.name,
            )  # fmt: skip
        except excel.ImportError_ as exc:
            raise CommandError(exc.message, returncode=2) from None
        finally:
            progress.close()
        if options.get("report") and report.errors:
            Path(options["report"]).write_bytes(excel.error_report_bytes(report))
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
        else:
            self._print_report(report)
        if report.errors:
            raise CommandError(
                f"有 {report.rejected_rows} 行被拒绝（{len(report.errors)} 处错误），未写入任何数据。",
                returncode=1,
            )

    def _print_report(self, report: excel.ImportReport) -> None:
        label = excel.TYPES[report.type].label
        for warning in report.warnings:
            self.stdout.write(f"提示：{warning}")
        for e in report.errors:
            where = f"第 {e.row} 行" if e.row else "整批"
            column = f"【{e.column}】" if e.column else ""
            value = f"“{e.value}”" if e.value else ""
            self.stdout.write(f"{where} {column}{value} {e.reason}（{e.code}）")
        if report.errors:
            self.stdout.write(
                f"{label}：共 {report.total} 行，通过 {report.valid} 行，拒绝 {report.rejected_rows} 行。"
            )
        elif report.committed:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{label}：已导入 {report.created} 条（{report.seconds:.1f} 秒）。"
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{label}：共 {report.total} 行，全部通过校验（试导入，未写入）。"
                )
            )

    def _export(self, options) -> None:
        actor = self._user(options.get("user"))
        params: dict[str, str] = {}
        for item in options["filter"]:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"筛选条件应为 名称=值：{item}")
            params[name.strip()] = value.strip()
        if options.get("grid"):
            params["grid"] = options["grid"]
        if options.get("q"):
            params["q"] = options["q"]
        progress = TqdmProgress(not options["no_progress"], "导出")
        try:
            handle, count, revealed = exports.export(
                options["type"], params, actor=actor, reveal=options["reveal"],
                reason=options["reason"], progress=progress,
            )  # fmt: skip
        except exports.ExportError as exc:
            raise CommandError(exc.message) from None
        except excel.ImportError_ as exc:
            raise CommandError(exc.message) from None
        finally:
            progress.close()
        with handle, open(options["output"], "wb") as out:
            while chunk := handle.read(1 << 20):
                out.write(chunk)
        note = (
            f"，其中 {revealed} 项个人信息为原文（已记入审计）"
            if options["reveal"]
            else "（个人信息已脱敏）"
        )
        self.stdout.write(f"已导出 {count} 条到 {options['output']}{note}。")
