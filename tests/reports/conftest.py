"""A demo town with a few hundred cases in every state, for the reports' tests.

The cases are written with bulk inserts around the actions (as a bulk load would) and the
roll-ups rebuilt, so the figures can be checked against the cases themselves; the upkeep through
the actions is tested in test_upkeep.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

SH = ZoneInfo("Asia/Shanghai")
PERIOD_START = datetime(2023, 1, 1, tzinfo=SH)
CASES = 360
FUTURE = datetime(2031, 1, 1, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    """The top-class map is cached per process; each test's catalogue starts afresh."""
    from towngrid.reports import queries

    queries._MAJORS["at"] = -1e9
    yield
    queries._MAJORS["at"] = -1e9


@pytest.fixture
def catalogue(db):
    from towngrid.cases import actions, timelimits
    from towngrid.cases.catalogue import install_catalogue

    install_catalogue()
    timelimits.clear_cache()
    actions._category_cache.clear()


@dataclass
class ReportTown:
    town: object
    area: object
    community: object
    micro_grid: object
    cases: list


# (status, opened, closed_on_time) and a weight: every state the counters tell apart.
FATES = [
    (("reported", False, None), 3),
    (("verifying", False, None), 2),
    (("verified", False, None), 2),
    (("opened", True, None), 2),
    (("dispatched", True, None), 4),
    (("handled", True, None), 2),
    (("rechecked", True, None), 1),
    (("closed", True, True), 14),
    (("closed", True, False), 4),
    (("parked", True, None), 2),
    (("rejected", False, None), 2),
    (("merged", False, None), 1),
]


def make_cases(count: int, seed: int = 7) -> list:
    """``count`` cases over the demo town's micro-grids (a third in a 楼组), January–June 2023,
    in every state; open ones half past their step deadline."""
    from towngrid.cases.models import Case, Category, Source
    from towngrid.grids.models import GridNode

    rng = random.Random(seed)
    micros = list(GridNode.objects.filter(level=4, code__startswith="310115125"))
    groups: dict[str, list] = {}
    for g in GridNode.objects.filter(level=5, code__startswith="310115125"):
        groups.setdefault(g.code[:15], []).append(g)
    categories = list(Category.objects.filter(active=True)[:40])
    sources = [s for s in Source.values if s != "hotline"]
    fates = [f for f, _w in FATES]
    weights = [w for _f, w in FATES]
    rows = []
    for i in range(count):
        micro = rng.choice(micros)
        grid = (
            rng.choice(groups[micro.code])
            if micro.code in groups and rng.random() < 0.35
            else micro
        )
        status, opened, on_time = rng.choices(fates, weights)[0]
        # Spread over the half-year, with some right at the edges of days and months.
        if i % 17 == 0:
            day = PERIOD_START + timedelta(days=rng.randrange(181))
            at = day.replace(hour=23, minute=59, second=59) if i % 2 else day
        else:
            at = PERIOD_START + timedelta(seconds=rng.randrange(181 * 86400))
        late = rng.random() < 0.5
        rows.append(
            Case(
                number=f"RP2023-{i + 1:06d}",
                category=rng.choice(categories),
                source=rng.choice(sources),
                status=status,
                description=f"报表测试案件 {i + 1}",
                lng=121.5,
                lat=31.17,
                grid=grid,
                grid_code=grid.code,
                reported_at=at,
                opened_at=at + timedelta(hours=2) if opened else None,
                closed_at=at + timedelta(days=2) if status == "closed" else None,
                closed_on_time=on_time,
                step="handle" if status == "dispatched" else "",
                step_started_at=at,
                step_deadline=(at + timedelta(days=1)) if late else FUTURE,
            )
        )
    return Case.objects.bulk_create(rows)


@pytest.fixture
def report_town(demo_town, catalogue) -> ReportTown:
    from towngrid.reports.actions import rebuild_rollups

    cases = make_cases(CASES)
    rebuild_rollups()
    return ReportTown(
        demo_town.town, demo_town.area, demo_town.community, demo_town.micro_grid, cases
    )
