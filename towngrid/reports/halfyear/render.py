"""Renderers of the half-year document model: DOCX (python-docx), PDF (reportlab) and XLSX
(openpyxl). Each takes a ``HalfYearDocument`` and returns the file's bytes.

Chinese text: the PDF embeds (a subset of) the vendored WenQuanYi Micro Hei TTF, so every glyph
is in the file and its text layer extracts as Chinese; the DOCX names East Asian fonts (宋体 for
the body, 黑体 for headings, as Chinese government documents do) on its styles, which Word and
LibreOffice resolve on the reader's machine; the charts are images drawn in the vendored font.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from xml.sax.saxutils import escape

from .document import Chart, HalfYearDocument, Table

FONT_PATH = Path(__file__).resolve().parents[2] / "static" / "fonts" / "wqy-microhei-gbk.ttf"
PDF_FONT = "WQYMicroHei"
BODY_FONT = "宋体"
HEADING_FONT = "黑体"
LATIN_FONT = "Times New Roman"
FORMATS = ("docx", "pdf", "xlsx")
CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(document: HalfYearDocument, fmt: str) -> bytes:
    renderers = {"docx": render_docx, "pdf": render_pdf, "xlsx": render_xlsx}
    if fmt not in renderers:
        raise ValueError(f"不支持的格式：{fmt}（可选 docx、pdf、xlsx）。")
    return renderers[fmt](document)


def _generated(document: HalfYearDocument) -> str:
    from django.utils import timezone

    local = timezone.localtime(document.generated_at)
    return f"{document.subtitle}　·　生成时间：{local:%Y-%m-%d %H:%M}"


# ---- DOCX ---------------------------------------------------------------------------------------


def _east_asian(style_or_run, name: str) -> None:
    """Set the East Asian font (w:eastAsia) besides the Latin one: python-docx's ``font.name``
    sets only w:ascii/w:hAnsi, and Word would then show Chinese in its default font."""
    from docx.oxml.ns import qn

    rpr = style_or_run.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _docx_styles(doc) -> None:
    from docx.shared import Pt, RGBColor

    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(10.5)  # 五号
    _east_asian(normal, BODY_FONT)
    for name, size in (("Title", 18), ("Heading 1", 14), ("Heading 2", 12)):
        style = doc.styles[name]
        style.font.name = LATIN_FONT
        style.font.size = Pt(size)
        style.font.bold = name != "Title"
        style.font.color.rgb = RGBColor(0, 0, 0)
        _east_asian(style, HEADING_FONT)


def _docx_table(doc, table: Table) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc.add_heading(table.title, level=2)
    grid = doc.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    total_width = 16.5  # cm, A4 portrait inside 2.25 cm margins
    widths = table.widths or [1.0] * len(table.columns)
    scale = total_width / sum(widths)
    for i, title in enumerate(table.columns):
        cell = grid.rows[0].cells[i]
        cell.text = ""
        run = cell.paragraphs[0].add_run(title)
        run.bold = True
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for row in table.rows:
        cells = grid.add_row().cells
        for i, value in enumerate(row):
            paragraph = cells[i].paragraphs[0]
            run = paragraph.add_run(value)
            run.font.size = Pt(9)
            if i in table.numeric:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for row in grid.rows:
        for i, cell in enumerate(row.cells):
            cell.width = Cm(widths[i] * scale)


def render_docx(document: HalfYearDocument) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.25)
    _docx_styles(doc)
    doc.core_properties.title = document.title
    doc.core_properties.author = document.town or "towngrid"
    title = doc.add_paragraph(document.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle = doc.add_paragraph(_generated(document))
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for part in document.sections:
        doc.add_heading(part.heading, level=1)
        for text in part.paragraphs:
            doc.add_paragraph(text)
        for table in part.tables:
            _docx_table(doc, table)
        for chart in part.charts:
            doc.add_picture(io.BytesIO(chart.png), width=Cm(16))
            caption = doc.add_paragraph(chart.title)
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ---- PDF ----------------------------------------------------------------------------------------


def pdf_font() -> str:
    """Register the vendored TTF once per process; reportlab embeds the subset it uses."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(FONT_PATH)))
    return PDF_FONT


def _pdf_text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def _pdf_styles() -> dict:
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    name = pdf_font()
    base = ParagraphStyle("body", fontName=name, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=18, leading=26, alignment=TA_CENTER),
        "subtitle": ParagraphStyle(
            "subtitle", base, fontSize=9, leading=13, alignment=TA_CENTER, spaceAfter=10
        ),
        "h1": ParagraphStyle("h1", base, fontSize=14, leading=20, spaceBefore=12, spaceAfter=6),
        "h2": ParagraphStyle("h2", base, fontSize=11.5, leading=16, spaceBefore=8, spaceAfter=4),
        "body": ParagraphStyle("body2", base, firstLineIndent=21, spaceAfter=4),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=11),
        "cell_right": ParagraphStyle(
            "cell_right", base, fontSize=8, leading=11, alignment=TA_RIGHT
        ),
        "head": ParagraphStyle("head", base, fontSize=8, leading=11, alignment=TA_CENTER),
        "caption": ParagraphStyle("caption", base, fontSize=9, leading=12, alignment=TA_CENTER),
    }


def _pdf_table(table: Table, styles: dict, width: float):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, TableStyle
    from reportlab.platypus import Table as PdfTable

    widths = table.widths or [1.0] * len(table.columns)
    scale = width / sum(widths)
    data = [[Paragraph(_pdf_text(c), styles["head"]) for c in table.columns]]
    for row in table.rows:
        data.append(
            [
                Paragraph(_pdf_text(v), styles["cell_right" if i in table.numeric else "cell"])
                for i, v in enumerate(row)
            ]
        )
    grid = PdfTable(data, colWidths=[w * scale for w in widths], repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return grid


def _pdf_chart(chart: Chart, styles: dict, width: float) -> list:
    from PIL import Image as PILImage
    from reportlab.platypus import Image, Paragraph

    with PILImage.open(io.BytesIO(chart.png)) as image:
        w, h = image.size
    return [
        Image(io.BytesIO(chart.png), width=width, height=width * h / w),
        Paragraph(_pdf_text(chart.title), styles["caption"]),
    ]


def render_pdf(document: HalfYearDocument) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = _pdf_styles()
    out = io.BytesIO()
    margin = 14 * mm
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=document.title,
        author=document.town or "towngrid",
        creator="towngrid",
    )
    width = A4[0] - 2 * margin
    story: list = [
        Paragraph(_pdf_text(document.title), styles["title"]),
        Paragraph(_pdf_text(_generated(document)), styles["subtitle"]),
    ]
    for part in document.sections:
        story.append(Paragraph(_pdf_text(part.heading), styles["h1"]))
        for text in part.paragraphs:
            story.append(Paragraph(_pdf_text(text), styles["body"]))
        for table in part.tables:
            story.append(Paragraph(_pdf_text(table.title), styles["h2"]))
            story.append(_pdf_table(table, styles, width))
            story.append(Spacer(1, 4 * mm))
        for chart in part.charts:
            story.extend(_pdf_chart(chart, styles, width * 0.9))
            story.append(Spacer(1, 4 * mm))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(PDF_FONT, 8)
        canvas.drawCentredString(A4[0] / 2, 9 * mm, f"{document.title} · 第 {doc.page} 页")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


# ---- XLSX ---------------------------------------------------------------------------------------

NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
PERCENT_RE = re.compile(r"^(-?\d+(\.\d+)?)%$")


def _cell_value(text: str) -> tuple[object, str | None]:
    """A number for a numeric text (so the sheet can sum it), with a format; text otherwise."""
    if NUMBER_RE.match(text):
        return (float(text) if "." in text else int(text)), None
    match = PERCENT_RE.match(text)
    if match:
        decimals = len(match.group(2) or "") - 1 if match.group(2) else 0
        fmt = "0%" if decimals <= 0 else "0." + "0" * decimals + "%"
        return float(match.group(1)) / 100, fmt
    return text, None


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "", name)[:31] or "Sheet"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def render_xlsx(document: HalfYearDocument) -> bytes:
    """One sheet per table; row 1 holds the column titles, so the sheet reads as data."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEF2F7")
    wrap = Alignment(wrap_text=True, vertical="top")
    for table in document.tables:
        sheet = book.create_sheet(_sheet_name(table.sheet, taken))
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font, cell.fill = bold, fill
        for row in table.rows:
            values = [_cell_value(v) for v in row]
            sheet.append([v for v, _ in values])
            for cell, (_, fmt) in zip(sheet[sheet.max_row], values, strict=True):
                cell.alignment = wrap
                if fmt:
                    cell.number_format = fmt
        widths = table.widths or [1.0] * len(table.columns)
        for i, w in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(8, min(80, w * 9))
        sheet.freeze_panes = "A2"
    book.properties.title = document.title
    book.properties.creator = "towngrid"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
