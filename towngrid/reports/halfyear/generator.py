"""Generate the half-year report: parse the period, build the document model, render one format.
Called by the page (as a background job, ``run_job``) and by ``towngrid report half-year``."""

from __future__ import annotations

from dataclasses import dataclass

from .document import HalfYearDocument, build_document
from .period import Period, PeriodError, parse_period
from .render import CONTENT_TYPES, FORMATS, render

__all__ = ["Generated", "FormatError", "generate", "run_job", "PeriodError", "FORMATS"]


class FormatError(ValueError):
    """An unknown output format; the message is for people (Chinese)."""


@dataclass
class Generated:
    period: Period
    fmt: str
    file_name: str
    content_type: str
    data: bytes
    document: HalfYearDocument


def check_format(fmt: str | None) -> str:
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        raise FormatError(f"不支持的格式“{fmt or ''}”：可选 {'、'.join(FORMATS)}。")
    return value


def file_name(period: Period, fmt: str) -> str:
    return f"halfyear-{period.code}.{fmt}"


def generate(period_text: str, fmt: str, progress=None) -> Generated:
    """The report for ``period_text`` (``2023H1``) as ``fmt`` (docx, pdf, xlsx). Raises
    ``PeriodError`` / ``FormatError`` before doing any work."""
    fmt = check_format(fmt)
    period = parse_period(period_text)
    # The spreadsheet holds the tables only: its charts would be drawn for nothing.
    document = build_document(period, progress, extra_steps=1, with_charts=fmt != "xlsx")
    if progress is not None:
        progress.say(f"正在生成 {fmt.upper()} 文件…")
    data = render(document, fmt)
    if progress is not None:
        progress.advance()
    return Generated(period, fmt, file_name(period, fmt), CONTENT_TYPES[fmt], data, document)


def run_job(progress, *, period: str, fmt: str) -> dict:
    """The background job of the reports page (towngrid.core.jobs): the file is the result."""
    from towngrid.core.jobs import JobError

    try:
        result = generate(period, fmt, progress)
    except (PeriodError, FormatError) as exc:
        raise JobError(str(exc)) from exc
    progress.save_file(result.file_name, result.data)
    progress.say("已生成。")
    return {
        "报告期": result.period.label,
        "格式": fmt.upper(),
        "实事项目": len(result.document.projects),
        "关键指标": len(result.document.key_figures),
        "文件大小": f"{len(result.data) / 1024:.0f} KB",
    }
