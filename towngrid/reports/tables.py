"""The drill-down as tables: the one shape the phone page renders, the XLSX export writes and the
API returns, so a figure on screen, in the workbook and in JSON is the same number.

A table has columns and rows; each row has a label and cells; a row and a cell may carry a
``link``: ``("drilldown", params)`` one level down (a child node, or the node narrowed to a
source or class), or ``("cases", params)`` the list of the cases the figure counts (at the
micro-grid, the last level, and for the node's own totals).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .queries import FIGURE_LABELS, FIGURES, RATE_LABELS, SECTION_TITLES, Filter, Period, Row

Link = tuple[str, dict[str, str]] | None


@dataclass
class Cell:
    value: Any
    kind: str = "int"  # int, rate, text, grade
    link: Link = None


@dataclass
class TableRow:
    label: str
    cells: list[Cell]
    link: Link = None
    code: str | None = None


@dataclass
class Table:
    key: str
    title: str
    columns: list[tuple[str, str, str]]  # (key, label, kind)
    rows: list[TableRow] = field(default_factory=list)
    total: TableRow | None = None

    def to_dict(self) -> dict[str, Any]:
        def row(r: TableRow) -> dict[str, Any]:
            return {
                "label": r.label,
                "code": r.code,
                "values": {c[0]: cell.value for c, cell in zip(self.columns, r.cells, strict=True)},
            }

        return {
            "key": self.key,
            "title": self.title,
            "columns": [
                {"key": k, "label": label, "kind": kind} for k, label, kind in self.columns
            ],
            "rows": [row(r) for r in self.rows],
            "total": row(self.total) if self.total else None,
        }


def figure_columns() -> list[tuple[str, str, str]]:
    return [(f, _(FIGURE_LABELS[f]), "int") for f in FIGURES] + [
        (r, _(label), "rate") for r, label in RATE_LABELS.items()
    ]


def _params(node_code: str, period: Period, filt: Filter, **extra: str) -> dict[str, str]:
    return {"node": node_code, **period.as_params(), **filt.as_params(), **extra}


def _figure_cells(figures: dict[str, Any], link_for) -> list[Cell]:
    cells = [Cell(figures[f], "int", link_for(f)) for f in FIGURES]
    cells += [Cell(figures[r], "rate") for r in RATE_LABELS]
    return cells


def _constant(link: Link):
    """Every figure of the row links to the same place (the row's next level)."""
    return lambda _measure: link


def tables_of(result: dict[str, Any]) -> list[Table]:
    """Every table of a drill-down result (queries.drilldown)."""
    node = result["node"]
    period: Period = result["period"]
    filt: Filter = result["filter"]
    leaf: bool = result["leaf"]
    columns = figure_columns()

    def cases_link(code: str, f: Filter):
        return lambda measure: ("cases", _params(code, period, f, measure=measure))

    total = TableRow(
        _("合计") + f"（{node['name']}）",
        _figure_cells(result["totals"], cases_link(node["code"], filt)),
        code=node["code"],
    )
    tables: list[Table] = []
    if not leaf:
        children = Table("children", _("下级网格"), columns, total=total)
        for row in result["children"]:
            row: Row
            if row.code is None:
                children.rows.append(
                    TableRow(row.name, _figure_cells(row.figures, lambda _m: None))
                )
                continue
            down = ("drilldown", _params(row.code, period, filt))
            micro = row.level is not None and row.level >= 4
            link_for = cases_link(row.code, filt) if micro else _constant(down)
            children.rows.append(
                TableRow(row.name, _figure_cells(row.figures, link_for), link=down, code=row.code)
            )
        tables.append(children)
    else:
        tables.append(Table("totals", _("案件情况"), columns, total=total))
    for key, title, rows, dim in (
        ("by_source", _("按来源"), result["by_source"], "source"),
        ("by_category", _("按大类"), result["by_category"], "category"),
    ):
        if not rows:
            continue
        table = Table(key, title, columns)
        for row in rows:
            narrowed = Filter(**{**filt.as_params(), dim: row.code})
            down = ("drilldown", _params(node["code"], period, narrowed))
            link_for = cases_link(node["code"], narrowed) if leaf else _constant(down)
            table.rows.append(
                TableRow(row.name, _figure_cells(row.figures, link_for), link=down, code=row.code)
            )
        tables.append(table)
    for key, section in result.get("sections", {}).items():
        tables.append(section_table(key, section, period))
    return tables


def section_table(key: str, section: dict[str, Any], period: Period) -> Table:
    if key == "evaluation":
        columns = [
            ("grade", _("等级"), "grade"),
            ("score", _("综合得分"), "score"),
            ("closure_rate", _("结案率"), "rate"),
            ("on_time_rate", _("按期结案率"), "rate"),
        ]
        table = Table(key, _(SECTION_TITLES[key]), columns)
        for row in section["children"]:
            down = ("drilldown", {"node": row["code"], **period.as_params()})
            table.rows.append(
                TableRow(
                    row["name"],
                    [Cell(row[c], kind, down) for c, _label, kind in columns],
                    link=down,
                    code=row["code"],
                )
            )
        table.total = TableRow(
            _("合计"),
            [
                Cell(section["grade"], "grade"),
                Cell(section["score"], "score"),
                Cell(None, "rate"),
                Cell(None, "rate"),
            ],
        )
        return table
    labels = section["labels"]
    keys = [k for k in labels if k in section["total"]] or list(section["total"])
    columns = [(k, _(labels.get(k, k)), "rate" if k == "rate" else "int") for k in keys]
    table = Table(key, _(section["title"]), columns)
    for row in section["children"]:
        down = ("drilldown", {"node": row["code"], **period.as_params()})
        table.rows.append(
            TableRow(
                row["name"],
                [Cell(row["values"].get(k), kind, down) for k, _label, kind in columns],
                link=down,
                code=row["code"],
            )
        )
    table.total = TableRow(
        _("合计"), [Cell(section["total"].get(k), kind) for k, _l, kind in columns]
    )
    return table


def _excel_value(cell: Cell):
    if cell.value is None:
        return None
    if cell.kind == "rate":
        return round(float(cell.value), 4)
    return cell.value


def xlsx(tables: list[Table], heading: str) -> bytes:
    """The tables as one workbook, one sheet each: a heading line (node and period), the header,
    the rows and the total. Rates are numbers formatted as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for table in tables:
        name = table.title[:28] or table.key
        while name in used:
            name += "_"
        used.add(name)
        ws = wb.create_sheet(name)
        ws.append([heading])
        ws["A1"].font = Font(bold=True)
        ws.append([_("名称"), *[label for _k, label, _kind in table.columns]])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        rows = [*table.rows, *([table.total] if table.total else [])]
        for row in rows:
            ws.append([row.label, *[_excel_value(c) for c in row.cells]])
            for offset, (_k, _label, kind) in enumerate(table.columns, start=2):
                if kind == "rate":
                    ws.cell(row=ws.max_row, column=offset).number_format = "0.0%"
        if table.total:
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        ws.column_dimensions["A"].width = 28
        ws.freeze_panes = "B3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
