"""QR images of scan URLs (segno: pure Python, no native dependency).

Error correction M (15 %) is what door plates need: they get dirty and scratched, and the URL is
short enough that M keeps the symbol small. Printed plates are always black on white: the live
colour is shown on the scan page, never printed (a plate cannot change colour when the house
does).
"""

from __future__ import annotations

import io

import segno

ERROR_CORRECTION = "m"


def make(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_CORRECTION, micro=False, boost_error=False)


def svg(url: str, *, scale: int = 4, border: int = 4, title: str = "") -> str:
    """A standalone SVG document of the QR code of ``url``."""
    out = io.BytesIO()
    make(url).save(
        out, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True, title=title or None
    )
    return out.getvalue().decode("utf-8")


def svg_path(url: str, *, size: float, x: float = 0, y: float = 0) -> str:
    """The QR code of ``url`` as one SVG ``<g>`` element of ``size`` × ``size`` user units at
    (x, y), quiet zone included, for embedding several codes in one sheet."""
    code = make(url)
    border = 4
    modules = code.symbol_size(scale=1, border=border)[0]
    unit = size / modules
    rects = []
    for row_index, row in enumerate(code.matrix):
        start = None
        for col, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                rects.append(
                    f"M{start + border},{row_index + border}h{col - start}v1h{start - col}z"
                )
                start = None
    return (
        f'<g class="qr" transform="translate({x:.2f},{y:.2f}) scale({unit:.5f})">'
        f'<rect width="{modules}" height="{modules}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(rects)}"/></g>'
    )


def png(url: str, *, scale: int = 8, border: int = 4) -> bytes:
    out = io.BytesIO()
    make(url).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def matrix(url: str) -> list[list[bool]]:
    """The modules of the symbol without quiet zone, row by row (for drawing into a PDF)."""
    return [[bool(v) for v in row] for row in make(url).matrix]
