"""Charts of the half-year report, drawn with matplotlib (Agg, no display) in the vendored CJK
font, as PNG bytes for the DOCX and PDF renderers.

``Figure`` objects are made directly (not through pyplot), so no global figure state is shared
between the worker threads that generate reports, and the font is passed to every text element
rather than set in the global rcParams.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from .document import Chart  # noqa: E402

FONT_PATH = Path(__file__).resolve().parents[2] / "static" / "fonts" / "wqy-microhei-gbk.ttf"
BLUE = "#1f6feb"
GREEN = "#2da44e"
GREY = "#d0d7de"
DPI = 160


@lru_cache(maxsize=4)
def font(size: float = 9) -> FontProperties:
    return FontProperties(fname=str(FONT_PATH), size=size)


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)  # tight_layout() already fitted it
    return out.getvalue()


def _bars(
    title: str, labels: list[str], values: list[float], texts: list[str], *, limit: float = 100
) -> Chart:
    """Horizontal bars of percentages, top to bottom in the given order, each labelled."""
    height = 0.9 + 0.38 * len(labels)
    fig = Figure(figsize=(7.2, height))
    ax = fig.subplots()
    positions = list(range(len(labels)))[::-1]
    colours = [GREEN if v >= 100 else BLUE for v in values]
    ax.barh(positions, [limit] * len(values), color=GREY, height=0.6)
    ax.barh(positions, [min(v, limit) for v in values], color=colours, height=0.6)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontproperties=font(9))
    ax.set_xlim(0, limit * 1.12)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xticklabels(["0%", "25%", "50%", "75%", "100%"], fontproperties=font(8))
    for pos, value, text in zip(positions, values, texts, strict=True):
        ax.text(min(value, limit) + 1.5, pos, text, va="center", fontproperties=font(8))
    ax.set_title(title, fontproperties=font(11))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return Chart(title=title, png=_png(fig))


def target_rates(rows: list[dict[str, Any]]) -> Chart:
    """年度目标完成率: the targets that have one."""
    rated = [r for r in rows if r["rate"] is not None]
    return _bars(
        "年度目标完成率",
        [r["metric"] for r in rated],
        [r["rate"] * 100 for r in rated],
        [r["rate_text"] for r in rated],
    )


def pipeline_rates(pipelines: list[dict[str, Any]]) -> Chart:
    """重点任务完成率, one bar per stage with an assigned count."""
    labels, values, texts = [], [], []
    for p in pipelines:
        for s in p["stages"]:
            if s["rate"] is None:
                continue
            short = p["name"] if len(p["name"]) <= 12 else p["name"][:11] + "…"
            labels.append(f"{short} · {s['name']}")
            values.append(s["rate"] * 100)
            texts.append(f"{s['rate_text']}（{s['actual']}/{s['target']}）")
    return _bars("重点任务完成率", labels, values, texts)


def project_progress(rows: list[dict[str, Any]]) -> Chart:
    """实事项目完成进度 (%)."""
    return _bars(
        "实事项目完成进度",
        [f"{r['number']}. {r['name']}" for r in rows],
        [float(r["percent"]) for r in rows],
        [f"{r['percent']}%" for r in rows],
    )


def area_closure(areas: list) -> Chart:
    """各区域结案率 and 按期结案率 (evaluation AreaRow objects)."""
    fig = Figure(figsize=(7.2, 3.4))
    ax = fig.subplots()
    names = [a.name for a in areas]
    x = list(range(len(names)))
    closure = [(a.closure_rate or 0) * 100 for a in areas]
    on_time = [(a.on_time_rate or 0) * 100 for a in areas]
    ax.bar([i - 0.2 for i in x], closure, width=0.4, color=BLUE, label="结案率")
    ax.bar([i + 0.2 for i in x], on_time, width=0.4, color=GREEN, label="按期结案率")
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontproperties=font(8), rotation=30, ha="right")
    ax.set_ylim(0, 110)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_yticklabels(["0%", "25%", "50%", "75%", "100%"], fontproperties=font(8))
    ax.legend(prop=font(8), loc="lower right")
    ax.set_title("各区域结案率", fontproperties=font(11))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return Chart(title="各区域结案率", png=_png(fig))
