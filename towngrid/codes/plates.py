"""Door-plate sheets (门牌码): one plate per object of a building group or grid, as PDF (A4,
six plates a page, reportlab with the vendored CJK font) or SVG (one sheet, two plates a row).

Each plate carries the address, the grid, the QR code of the scan URL and a short instruction.
Plates are black on white: the live colour is shown on the scan page (a printed plate never
changes colour). Objects of the selection without a live code get one first (``issue_many``).

Made from a page as a background job (``start_plate_job``, progress on the page) and from the
CLI (``towngrid codes plates --group <code> -o file.pdf|.svg``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from . import objects, qr
from .errors import CodeError

MAX_PLATES = 3000
FONT_NAME = "WQYMicroHei"
TITLE = "一户一码"  # a house's plate; every other object's says 一码通用
OTHER_TITLE = "一码通用"
INSTRUCTION = "扫码查看网格员联系方式、反映问题"
FOOTER = "请勿涂改、遮挡。门牌码遗失或损坏请联系网格员。"

# Plate geometry in millimetres (A4 portrait: 210 × 297).
PAGE_W, PAGE_H = 210.0, 297.0
COLS, ROWS = 2, 3
MARGIN = 10.0
GAP = 6.0
PLATE_W = (PAGE_W - 2 * MARGIN - (COLS - 1) * GAP) / COLS
PLATE_H = (PAGE_H - 2 * MARGIN - (ROWS - 1) * GAP) / ROWS
QR_SIZE = 46.0


def font_path() -> Path:
    return Path(__file__).resolve().parents[1] / "static" / "fonts" / "wqy-microhei-gbk.ttf"


@dataclass
class Plate:
    token: str
    url: str
    kind: str
    title: str
    address: str
    grid_name: str
    serial: int

    @property
    def heading(self) -> str:
        return TITLE if self.kind == objects.KIND_LABELS["house"] else OTHER_TITLE


def _selection(grid_code: str, building: str = ""):
    """The coded objects of a building group (level 5 code) or grid subtree (shorter code),
    optionally of one building only: the objects whose address begins with ``building``
    (e.g. 莲园路120弄3号; spaces ignored)."""
    from towngrid.grids.models import GridNode

    node = GridNode.objects.filter(code=grid_code).first()
    if node is None:
        raise CodeError("not_found", f"没有编码为 {grid_code} 的网格或楼组。")
    found = []
    for model in objects.coded_models():
        qs = model._default_manager.select_related("grid")
        if node.level >= 5:
            qs = qs.filter(group__code=grid_code)
        else:
            qs = qs.filter(grid_code__startswith=grid_code)
        if building:
            qs = qs.filter(address__startswith=building)
        found.append(qs)
    return node, found


def collect(
    grid_code: str, base_url: str, *, actor=None, building: str = ""
) -> tuple[object, list[Plate]]:
    """The plates of a building group or grid (or one building in it), issuing missing codes
    first."""
    from . import actions
    from .models import ObjectCode
    from .queries import scan_url

    building = "".join((building or "").split())
    node, querysets = _selection(grid_code, building)
    total = sum(qs.count() for qs in querysets)
    if total > MAX_PLATES:
        raise CodeError(
            "invalid",
            f"所选范围内有 {total} 个对象，超过一次打印上限 {MAX_PLATES}，请选择更小的楼组或网格。",
        )
    plates: list[Plate] = []
    for qs in querysets:
        rows = list(qs)
        if not rows:
            continue
        actions.issue_many(rows, actor=actor)
        ct = objects.content_type_of(type(rows[0]))
        live = {
            c.object_id: c
            for c in ObjectCode.objects.filter(
                content_type=ct, object_id__in=[r.pk for r in rows], revoked_at__isnull=True
            )
        }
        for obj in rows:
            code = live.get(obj.pk)
            if code is None:
                continue
            plates.append(
                Plate(
                    token=code.token,
                    url=scan_url(code.token, base_url),
                    kind=objects.kind_label(obj),
                    title=objects.title_of(obj),
                    address=objects.address_of(obj),
                    grid_name=obj.grid.name,
                    serial=code.serial,
                )
            )
    plates.sort(key=lambda p: (p.kind, p.address, p.title))
    return node, plates


def _wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy wrap by character (CJK has no spaces), at most two lines, ellipsis after."""
    lines: list[str] = []
    current = ""
    for ch in text:
        if measure(current + ch) > width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], lines[1][:-1] + "…"]
    return lines


# --- PDF -----------------------------------------------------------------------------------------


def render_pdf(
    plates: list[Plate], *, heading: str = "", progress: Callable[[int], None] | None = None
) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path())))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(PAGE_W * mm, PAGE_H * mm))
    pdf.setTitle(f"门牌码 {heading}".strip())
    pdf.setAuthor("towngrid")
    per_page = COLS * ROWS
    if not plates:
        pdf.setFont(FONT_NAME, 14)
        pdf.drawString(
            MARGIN * mm, (PAGE_H - 30) * mm, f"{heading}：该范围内没有需要门牌码的对象。"
        )
    for index, plate in enumerate(plates):
        slot = index % per_page
        if slot == 0 and index:
            pdf.showPage()
        col, row = slot % COLS, slot // COLS
        x = MARGIN + col * (PLATE_W + GAP)
        y = PAGE_H - MARGIN - (row + 1) * PLATE_H - row * GAP
        _pdf_plate(pdf, plate, x, y, mm)
        if progress:
            progress(1)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _pdf_plate(pdf, plate: Plate, x: float, y: float, mm: float) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pdf.setLineWidth(0.6)
    pdf.roundRect(x * mm, y * mm, PLATE_W * mm, PLATE_H * mm, 3 * mm)
    top = y + PLATE_H
    pdf.setFont(FONT_NAME, 13)
    pdf.drawString((x + 5) * mm, (top - 9) * mm, plate.heading)
    pdf.setFont(FONT_NAME, 8)
    pdf.drawRightString((x + PLATE_W - 5) * mm, (top - 9) * mm, plate.kind)
    # Address (wrapped to two lines), then the grid.
    size = 10.5
    width = (PLATE_W - 10) * mm

    def measure(s: str) -> float:
        return stringWidth(s, FONT_NAME, size)

    pdf.setFont(FONT_NAME, size)
    line_y = top - 16
    text = plate.address or plate.title
    if plate.title and plate.title != plate.address:
        text = f"{plate.title} · {plate.address}" if plate.address else plate.title
    for line in _wrap(text, width, measure):
        pdf.drawString((x + 5) * mm, line_y * mm, line)
        line_y -= 4.6
    pdf.setFont(FONT_NAME, 8)
    pdf.drawString((x + 5) * mm, (line_y - 0.5) * mm, f"所属网格：{plate.grid_name}")
    # The QR code, drawn as vector modules with its quiet zone.
    modules = qr.matrix(plate.url)
    n = len(modules) + 8
    unit = QR_SIZE / n
    qx = x + (PLATE_W - QR_SIZE) / 2
    qy = y + 11
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(
                    (qx + (c + 4) * unit) * mm,
                    (qy + QR_SIZE - (r + 5) * unit) * mm,
                    unit * mm + 0.05,
                    unit * mm + 0.05,
                    stroke=0,
                    fill=1,
                )
    pdf.setFont(FONT_NAME, 8.5)
    pdf.drawCentredString((x + PLATE_W / 2) * mm, (y + 7) * mm, INSTRUCTION)
    pdf.setFont(FONT_NAME, 6)
    pdf.drawCentredString(
        (x + PLATE_W / 2) * mm, (y + 3) * mm, f"{FOOTER}  第{plate.serial}版 {plate.token[:6]}"
    )


# --- SVG -----------------------------------------------------------------------------------------


def render_svg(
    plates: list[Plate], *, heading: str = "", progress: Callable[[int], None] | None = None
) -> str:
    rows = max(1, (len(plates) + COLS - 1) // COLS)
    height = 2 * MARGIN + 10 + rows * PLATE_H + (rows - 1) * GAP
    font = "font-family=\"'WenQuanYi Micro Hei','Noto Sans CJK SC','Microsoft YaHei',sans-serif\""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{height:.1f}mm" '
        f'viewBox="0 0 {PAGE_W} {height:.1f}">',
        f"<title>{escape('门牌码 ' + heading)}</title>",
        f'<rect width="{PAGE_W}" height="{height:.1f}" fill="#fff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="5" {font}>{escape(heading)}</text>',
    ]
    if not plates:
        parts.append(
            f'<text x="{MARGIN}" y="{MARGIN + 14}" font-size="5" {font}>'
            "该范围内没有需要门牌码的对象。</text>"
        )
    for index, plate in enumerate(plates):
        col, row = index % COLS, index // COLS
        x = MARGIN + col * (PLATE_W + GAP)
        y = MARGIN + 10 + row * (PLATE_H + GAP)
        parts.append(_svg_plate(plate, x, y, font))
        if progress:
            progress(1)
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_plate(plate: Plate, x: float, y: float, font: str) -> str:
    text = plate.address or plate.title
    if plate.title and plate.title != plate.address:
        text = f"{plate.title} · {plate.address}" if plate.address else plate.title
    lines = _wrap(text, PLATE_W - 10, lambda s: len(s) * 3.7)
    out = [
        f'<g class="plate" data-token="{plate.token}">',
        f'<rect x="{x:.2f}" y="{y:.2f}" width="{PLATE_W:.2f}" height="{PLATE_H:.2f}" rx="3" '
        'fill="#fff" stroke="#000" stroke-width="0.3"/>',
        f'<text x="{x + 5:.2f}" y="{y + 9:.2f}" font-size="4.6" {font}>{plate.heading}</text>',
        f'<text x="{x + PLATE_W - 5:.2f}" y="{y + 9:.2f}" font-size="3" text-anchor="end" '
        f"{font}>{escape(plate.kind)}</text>",
    ]
    line_y = y + 16
    for line in lines:
        out.append(
            f'<text class="address" x="{x + 5:.2f}" y="{line_y:.2f}" font-size="3.7" {font}>'
            f"{escape(line)}</text>"
        )
        line_y += 4.6
    out.append(
        f'<text x="{x + 5:.2f}" y="{line_y + 0.5:.2f}" font-size="2.8" {font}>'
        f"所属网格：{escape(plate.grid_name)}</text>"
    )
    qx = x + (PLATE_W - QR_SIZE) / 2
    qy = y + PLATE_H - 11 - QR_SIZE
    out.append(qr.svg_path(plate.url, size=QR_SIZE, x=qx, y=qy))
    out.append(
        f'<text x="{x + PLATE_W / 2:.2f}" y="{y + PLATE_H - 6:.2f}" font-size="3" '
        f'text-anchor="middle" {font}>{INSTRUCTION}</text>'
    )
    out.append(
        f'<text x="{x + PLATE_W / 2:.2f}" y="{y + PLATE_H - 2.5:.2f}" font-size="2.1" '
        f'text-anchor="middle" {font}>{FOOTER}  第{plate.serial}版 {plate.token[:6]}</text>'
    )
    out.append("</g>")
    return "".join(out)


# --- one entry point for the job and the CLI --------------------------------------------------


def make_sheet(
    grid_code: str,
    fmt: str,
    base_url: str,
    *,
    actor=None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    building: str = "",
) -> tuple[bytes, str, int]:
    """(file bytes, file name, plate count) of the sheet of a building group or grid (or of
    one building in it)."""
    if fmt not in {"pdf", "svg"}:
        raise CodeError("invalid", "格式应为 pdf 或 svg。", details={"field": "format"})
    node, plates = collect(grid_code, base_url, actor=actor, building=building)
    if on_total:
        on_total(len(plates))
    heading = f"{node.name}（{node.code}）" + (f" {building.strip()}" if building else "")
    name = f"门牌码-{node.code}.{fmt}"
    if fmt == "pdf":
        return render_pdf(plates, heading=heading, progress=progress), name, len(plates)
    return render_svg(plates, heading=heading, progress=progress).encode("utf-8"), name, len(plates)


def _plate_job(
    progress, *, grid_code: str, fmt: str, base_url: str, actor_id: int | None, building: str = ""
):
    from django.contrib.auth import get_user_model

    from towngrid.core.jobs import JobError

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    progress.say("正在准备门牌码…")
    try:
        data, name, count = make_sheet(
            grid_code,
            fmt,
            base_url,
            actor=actor,
            progress=progress.advance,
            on_total=progress.set_total,
            building=building,
        )
    except CodeError as exc:
        raise JobError(exc.message) from None
    progress.say(f"已生成 {count} 张门牌。")
    progress.save_file(name, data)
    return {"plates": count, "grid_code": grid_code, "format": fmt}


def start_plate_job(*, grid_code: str, fmt: str, base_url: str, actor, building: str = ""):
    """Start the sheet as a background job (returns the Job at once)."""
    from towngrid.core.jobs import start_job
    from towngrid.grids.models import GridNode

    node = GridNode.objects.filter(code=grid_code).first()
    if node is None:
        raise CodeError("not_found", f"没有编码为 {grid_code} 的网格或楼组。")
    return start_job(
        kind="codes.plates",
        title=f"门牌码 {node.name}（{fmt.upper()}）",
        actor=actor,
        func=_plate_job,
        kwargs={
            "grid_code": grid_code,
            "fmt": fmt,
            "base_url": base_url,
            "actor_id": getattr(actor, "pk", None),
            "building": building,
        },
    )


def plate_groups(user) -> list:
    """The building groups and micro-grids the user may print, for the page's picker."""
    from towngrid.accounts.access import visible_to
    from towngrid.grids.models import GridNode, Level

    return list(
        visible_to(user, GridNode.objects.filter(level__in=[Level.MICRO, Level.GROUP])).order_by(
            "code"
        )
    )
