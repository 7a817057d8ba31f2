"""``towngrid report``: generated documents.

    towngrid report half-year --period 2023H1 --format pdf [-o report.pdf]

writes the half-year work report (主要指标, 重点任务, 实事项目推进情况, 案件与综合评价, charts) as
DOCX, PDF or XLSX, with a progress bar. A period or format it cannot read is refused before any
work, with the reason.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.reports.halfyear.generator import (
    FORMATS,
    FormatError,
    PeriodError,
    check_format,
    file_name,
    generate,
)
from towngrid.reports.halfyear.period import parse_period


class TqdmProgress:
    """The job-progress interface (set_total / advance / say) over a tqdm bar."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=0, unit="步", disable=not enabled, leave=False)

    def set_total(self, total: int) -> None:
        self.bar.reset(total=total)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def say(self, message: str) -> None:
        self.bar.set_description_str(message)

    def close(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = "Generate a report document: `report half-year --period 2023H1 --format pdf`."

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
        half = kinds.add_parser("half-year", help="the half-year work report (半年工作报告)")
        half.add_argument(
            "--period", required=True, help="the half-year: YYYYH1 or YYYYH2, e.g. 2023H1"
        )
        half.add_argument(
            "--format",
            dest="fmt",
            default="docx",
            help=f"output format: {', '.join(FORMATS)} (default docx)",
        )
        half.add_argument(
            "-o", "--output", help="file to write (default halfyear-<period>.<format> here)"
        )
        half.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        if options["kind"] != "half-year":  # pragma: no cover - argparse refuses others
            raise CommandError(f"unknown report: {options['kind']}")
        try:
            fmt = check_format(options["fmt"])
            period = parse_period(options["period"])
        except (PeriodError, FormatError) as exc:
            raise CommandError(str(exc)) from exc
        output = Path(options["output"] or file_name(period, fmt))
        if output.is_dir():
            output = output / file_name(period, fmt)
        if not output.parent.exists():
            raise CommandError(f"输出目录不存在：{output.parent}")
        show = not options["no_progress"] and options["verbosity"] > 0
        progress = TqdmProgress(show)
        try:
            result = generate(period.code, fmt, progress)
        finally:
            progress.close()
        output.write_bytes(result.data)
        document = result.document
        self.stdout.write(
            self.style.SUCCESS(
                f"{output} ({len(result.data) / 1024:.0f} KB): {document.title}, "
                f"{len(document.projects)} 实事项目, {len(document.key_figures)} 关键指标."
            )
        )
