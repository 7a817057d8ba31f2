"""The half-year report as one document model, built from the data once and rendered to DOCX,
PDF and XLSX by the renderers (so the three formats cannot disagree).

Sections, in the order of the seed report's own closing pages:
1. 主要指标完成情况 — the annual targets marked as key figures, with completion rates;
2. 重点任务推进情况 — the pipelines (加梯 签约/开工/竣工, 征收签约, 养老床位 …) by stage;
3. 实事项目推进情况 — the seed's table: 序号, 项目名称, 任务描述, 预算金额, 实施部门, 推进情况;
4. 案件办理与综合评价 — cases of the period by source, the evaluation by area and department
   (towngrid.cases.evaluation, the same figures as the evaluation page).
Figures are as they stood at the end of the period (programs.queries.*_as_of), so a report for
2023H1 generated in 2024 still shows June's figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.utils import timezone

from .period import Period


@dataclass
class Table:
    title: str
    sheet: str  # the XLSX sheet name (≤ 31 characters)
    columns: list[str]
    rows: list[list[str]]
    widths: list[float] | None = None  # relative column widths
    numeric: set[int] = field(default_factory=set)  # columns aligned right


@dataclass
class Chart:
    title: str
    png: bytes


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class KeyFigure:
    label: str
    value: str
    unit: str
    target: str
    rate: float | None
    rate_text: str
    note: str = ""


@dataclass
class HalfYearDocument:
    title: str
    subtitle: str
    period: Period
    town: str
    generated_at: datetime
    key_figures: list[KeyFigure]
    projects: list[dict[str, Any]]
    sections: list[Section]

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]


class Steps:
    """Progress over the builder's steps; ``progress`` is a towngrid.core.jobs.JobProgress or the
    CLI's tqdm adapter (anything with set_total / advance / say), or None."""

    NAMES = ["年度目标", "重点任务", "实事项目", "案件统计", "综合评价", "图表"]

    def __init__(self, progress, extra: int = 0):
        self.progress = progress
        if progress is not None:
            progress.set_total(len(self.NAMES) + extra)

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.say(message)

    def done(self) -> None:
        if self.progress is not None:
            self.progress.advance()


def _town_name() -> str:
    from towngrid.cases.evaluation import default_root

    root = default_root()
    return root.name if root else ""


def _amount(value: Any) -> str:
    from towngrid.programs.queries import decimal_text

    return decimal_text(value)


# ---- the sections ---------------------------------------------------------------------------


def _targets_section(period: Period) -> tuple[Section, list[KeyFigure], list[dict]]:
    from towngrid.programs import queries

    rows = [queries.target_row(t, period.last_day) for t in queries.targets(period.year)]
    figures = [
        KeyFigure(
            label=r["metric"],
            value=_amount(r["actual"]),
            unit=r["unit"],
            target=_amount(r["annual_target"]),
            rate=r["rate"],
            rate_text=r["rate_text"],
            note=r["note"],
        )
        for r in rows
        if r["key_figure"] and r["actual"] is not None
    ]
    table = Table(
        title="主要指标及完成率",
        sheet="主要指标",
        columns=["指标", "累计完成", "单位", "年度目标", "完成率", "截至", "责任部门", "说明"],
        rows=[
            [
                r["metric"],
                _amount(r["actual"]),
                r["unit"],
                _amount(r["annual_target"]),
                r["rate_text"],
                r["as_of"] or "—",
                r["department"],
                r["note"],
            ]
            for r in rows
        ],
        widths=[3.2, 1.6, 1, 1.6, 1.3, 2, 2.6, 3],
        numeric={1, 3, 4},
    )
    rated = [r for r in rows if r["key_figure"] and r["rate"] is not None]
    paragraphs = []
    if rated:
        parts = [
            f"{r['metric']} {_amount(r['actual'])} {r['unit']}，"
            f"完成{r['target_source'] or '全年目标'}的 {r['rate_text']}"
            for r in rated
        ]
        paragraphs.append(f"截至 {period.last_day.month} 月底，" + "；".join(parts) + "。")
    if not rows:
        paragraphs.append("本年度尚未录入年度目标。")
    return Section("一、主要指标完成情况", paragraphs, [table]), figures, rows


def _pipeline_sentence(p: dict, reached: list[dict]) -> str:
    """The seed's way of saying it: "签约 52 台、开工 29 台、竣工 24 台，分别完成新区下达任务的
    95%、74%、63%" when every stage has an assigned count; the rate beside the stage when only
    some have; the total when none has."""
    unit, source = p["unit"], p["target_source"] or "任务"
    rated = [s for s in reached if s["rate"] is not None]
    if len(rated) == len(reached):
        parts = "、".join(f"{s['name']} {_amount(s['actual'])} {unit}" for s in reached)
        rates = "、".join(s["rate_text"] for s in rated)
        joined = "分别完成" if len(rated) > 1 else "完成"
        return f"{p['name']}：{parts}，{joined}{source}的 {rates}。"
    parts = "、".join(
        f"{s['name']} {_amount(s['actual'])} {unit}"
        + (f"（完成{source}的 {s['rate_text']}）" if s["rate"] is not None else "")
        for s in reached
    )
    total = f"，合计 {_amount(p['total'])} {unit}" if not rated and len(reached) > 1 else ""
    return f"{p['name']}：{parts}{total}。"


def _pipelines_section(period: Period) -> tuple[Section, list[KeyFigure], list[dict]]:
    from towngrid.programs import queries

    pipelines = [queries.pipeline_row(p, period.last_day) for p in queries.pipelines(period.year)]
    table_rows, figures, paragraphs = [], [], []
    for p in pipelines:
        for s in p["stages"]:
            table_rows.append(
                [
                    p["name"],
                    s["name"],
                    _amount(s["actual"]),
                    _amount(s["target"]),
                    p["unit"],
                    s["rate_text"],
                    p["target_source"] if s["target"] is not None else "",
                    s["note"],
                ]
            )
            if s["actual"] is not None:
                figures.append(
                    KeyFigure(
                        label=f"{p['name']} · {s['name']}",
                        value=_amount(s["actual"]),
                        unit=p["unit"],
                        target=_amount(s["target"]),
                        rate=s["rate"],
                        rate_text=s["rate_text"],
                        note=s["note"],
                    )
                )
        reached = [s for s in p["stages"] if s["actual"] is not None]
        if reached:
            paragraphs.append(_pipeline_sentence(p, reached))
    table = Table(
        title="重点任务推进情况",
        sheet="重点任务",
        columns=["任务", "阶段", "完成数", "任务数", "单位", "完成率", "任务来源", "说明"],
        rows=table_rows,
        widths=[4, 1.8, 1.3, 1.3, 0.9, 1.3, 1.8, 3.6],
        numeric={2, 3, 5},
    )
    if not pipelines:
        paragraphs.append("本年度尚未录入重点任务。")
    return Section("二、重点任务推进情况", paragraphs, [table]), figures, pipelines


def _projects_section(period: Period) -> tuple[Section, list[dict]]:
    from towngrid.programs import queries

    rows = [queries.project_row(p, period.last_day) for p in queries.projects(period.year)]
    table = Table(
        title=f"{period.year} 年{_town_name()}政府实事项目推进情况",
        sheet="实事项目推进情况",
        columns=["序号", "项目名称", "任务描述", "预算金额", "实施部门", "推进情况"],
        rows=[
            [
                str(r["number"]),
                r["name"],
                r["description"],
                f"{r['budget_text']}万元",
                r["implementer"],
                r["progress_text"] or "尚未填报进展。",
            ]
            for r in rows
        ],
        widths=[0.9, 2.6, 5.6, 1.7, 2.6, 4.6],
        numeric={3},
    )
    paragraphs = []
    if rows:
        budget = sum((Decimal(str(r["budget"])) for r in rows), Decimal(0))
        completed = [r for r in rows if r["status"] == "completed"]
        paragraphs.append(
            f"{period.year} 年度实事项目共 {len(rows)} 项，预算合计 "
            f"{queries.decimal_text(budget)} 万元；截至{period.label}末，已完成 {len(completed)} 项"
            + (f"（{'、'.join(r['name'] for r in completed)}）" if completed else "")
            + f"，平均完成进度 {round(sum(r['percent'] for r in rows) / len(rows))}%。"
        )
    else:
        paragraphs.append("本年度尚未录入实事项目。")
    return Section("三、实事项目推进情况", paragraphs, [table]), rows


def _percent(value: float | None) -> str:
    from towngrid.programs.queries import rate_text

    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:.1f}%" if value < 1 else rate_text(value)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _cases_section(period: Period, steps: Steps) -> tuple[Section, dict[str, Any]]:
    from towngrid.cases.evaluation import evaluate, period_bounds
    from towngrid.cases.models import Case, Source

    start, end = period_bounds(period.start, period.end)
    reported = Case.objects.filter(reported_at__gte=start, reported_at__lt=end)
    total = reported.count()
    labels = dict(Source.choices)
    by_source = [
        [str(labels.get(r["source"], r["source"])), str(r["n"])]
        for r in reported.values("source").annotate(n=Count("id")).order_by("-n", "source")
    ]
    steps.done()
    steps.say("正在计算综合评价…")
    result = evaluate(period.start, period.end)
    steps.done()
    t = result.total
    paragraphs = [
        f"{period.label}共受理各类案件 {total} 件；应结案 {t.due} 件，已结案 {t.closed} 件，"
        f"结案率 {_percent(t.closure_rate)}，按期结案率 {_percent(t.on_time_rate)}"
        + (f"，综合得分 {_score(t.score)}（{t.grade}）" if t.grade else "")
        + f"；挂账 {t.parked} 件，超期 {t.overdue} 件。"
    ]
    sources = Table(
        title="案件来源",
        sheet="案件来源",
        columns=["来源", "案件数"],
        rows=by_source + [["合计", str(total)]],
        widths=[4, 2],
        numeric={1},
    )
    areas = Table(
        title="分区域办理情况",
        sheet="区域评价",
        columns=[
            "区域",
            "应结案",
            "已结案",
            "按期结案",
            "挂账",
            "结案率",
            "按期结案率",
            "得分",
            "等级",
        ],
        rows=[
            [
                a.name,
                str(a.due),
                str(a.closed),
                str(a.closed_on_time),
                str(a.parked),
                _percent(a.closure_rate),
                _percent(a.on_time_rate),
                _score(a.score),
                a.grade or "—",
            ]
            for a in [*result.areas, t]
        ],
        widths=[3, 1.2, 1.2, 1.3, 1, 1.4, 1.6, 1.2, 1],
        numeric={1, 2, 3, 4, 5, 6, 7},
    )
    if areas.rows:
        areas.rows[-1][0] = "合计"
    departments = Table(
        title="分部门处置情况",
        sheet="部门评价",
        columns=[
            "部门",
            "派遣",
            "处置",
            "按期处置",
            "返工",
            "按期处置率",
            "返工率",
            "得分",
            "等级",
        ],
        rows=[
            [
                d.name,
                str(d.dispatched),
                str(d.handled),
                str(d.handled_on_time),
                str(d.reworked),
                _percent(d.on_time_rate),
                _percent(d.rework_rate),
                _score(d.score),
                d.grade or "—",
            ]
            for d in result.departments
            if d.dispatched or d.handled or d.reworked  # departments with no cases: no row
        ],
        widths=[3.4, 1.1, 1.1, 1.3, 1, 1.6, 1.3, 1.2, 1],
        numeric={1, 2, 3, 4, 5, 6, 7},
    )
    data = {"total": total, "evaluation": result}
    return Section("四、案件办理与综合评价", paragraphs, [sources, areas, departments]), data


def _add_charts(
    targets_section: Section,
    pipelines_section: Section,
    projects_section: Section,
    cases_section: Section,
    target_rows: list[dict],
    pipeline_rows: list[dict],
    project_rows: list[dict],
    evaluation,
) -> None:
    from . import charts

    if any(r["rate"] is not None for r in target_rows):
        targets_section.charts.append(charts.target_rates(target_rows))
    staged = [p for p in pipeline_rows if any(s["rate"] is not None for s in p["stages"])]
    if staged:
        pipelines_section.charts.append(charts.pipeline_rates(staged))
    if project_rows:
        projects_section.charts.append(charts.project_progress(project_rows))
    if evaluation.areas:
        cases_section.charts.append(charts.area_closure(evaluation.areas))


# ---- the entry point ------------------------------------------------------------------------


def build_document(
    period: Period, progress=None, *, extra_steps: int = 0, with_charts: bool = True
) -> HalfYearDocument:
    """The document model for ``period``. ``progress`` gets one step per part (see Steps);
    ``extra_steps`` leaves room for the caller's own (rendering). ``with_charts=False`` leaves
    the charts out (the figures alone, e.g. for the page's preview)."""
    steps = Steps(progress, extra_steps)
    steps.say("正在汇总年度目标…")
    targets_section, target_figures, target_rows = _targets_section(period)
    steps.done()
    steps.say("正在汇总重点任务…")
    pipelines_section, pipeline_figures, pipeline_rows = _pipelines_section(period)
    steps.done()
    steps.say("正在汇总实事项目…")
    projects_section, project_rows = _projects_section(period)
    steps.done()
    steps.say("正在统计案件…")
    cases_section, case_data = _cases_section(period, steps)
    steps.say("正在绘制图表…")
    if with_charts:
        _add_charts(
            targets_section, pipelines_section, projects_section, cases_section,
            target_rows, pipeline_rows, project_rows, case_data["evaluation"],
        )  # fmt: skip
    steps.done()
    town = _town_name()
    return HalfYearDocument(
        title=f"{town} {period.label}工作情况报告".strip(),
        subtitle=f"报告期：{period.start:%Y-%m-%d} 至 {period.last_day:%Y-%m-%d}",
        period=period,
        town=town,
        generated_at=timezone.now(),
        key_figures=target_figures + pipeline_figures,
        projects=project_rows,
        sections=[targets_section, pipelines_section, projects_section, cases_section],
    )
