"""The demo town's domains beyond the grid and the cases.

Each app builds its own part in ``towngrid/<app>/demo.py``, which offers ``build(*, seed, scale,
progress) -> dict`` (a summary for the command's output), ``exists() -> bool`` and ``remove()``.
They run in this order (codes colours the registry, sensing links registry components, reports
roll up everything) and are removed in the reverse order, before the grid they stand on.
"""

from __future__ import annotations

import importlib
import time

STEPS = ["registry", "codes", "sensing", "programs", "reports"]

# The scale the test suite builds (about 1/50 of Beicai): enough rows for every page and figure,
# cheap enough to build once per test session.
TEST_SCALE = 0.02


def _module(app: str):
    return importlib.import_module(f"towngrid.{app}.demo")


def build_demo_extras(
    *, seed: int = 2023, scale: float = 1.0, progress: bool = False, say=None
) -> dict[str, dict]:
    """Build every step not built yet; returns each step's summary (with its seconds)."""
    summaries: dict[str, dict] = {}
    for app in STEPS:
        module = _module(app)
        if module.exists():
            continue
        started = time.perf_counter()
        summary = dict(module.build(seed=seed, scale=scale, progress=progress) or {})
        summary["seconds"] = round(time.perf_counter() - started, 1)
        summaries[app] = summary
        if say is not None:
            say(app, summary)
    return summaries


def remove_demo_extras() -> None:
    for app in reversed(STEPS):
        _module(app).remove()
