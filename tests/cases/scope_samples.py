"""Cases in the scope matrix's fixture town (tests/accounts/scope_world.py): one case in every
micro-grid (some in a 楼组), every other one dispatched to the fixture's department, so the
matrix can tell a grid or department leak from an empty list on every cases endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

T0 = datetime(2023, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_samples(world) -> None:
    from towngrid.cases.models import (
        Case,
        CaseEvent,
        CaseReporter,
        Category,
        CategoryClass,
        CategoryKind,
        Source,
        Status,
    )

    major, _ = CategoryClass.objects.get_or_create(
        kind=CategoryKind.EVENT, code="98", defaults={"name": "矩阵测试大类"}
    )
    category, _ = Category.objects.get_or_create(
        full_code="E9801", defaults={"major": major, "code": "01", "name": "矩阵测试小类"}
    )
    for i, micro in enumerate(world.micro_grids):
        # Odd ones sit in the micro-grid's first 楼组 (a five-level path), even ones in the
        # micro-grid itself; every other one is the fixture department's.
        grid = world.nodes[micro.code + "001"] if i % 2 else micro
        dispatched = i % 2 == 0
        at = T0 + timedelta(hours=i)
        case = Case.objects.create(
            number=f"MX2023-{i + 1:06d}",
            category=category,
            source=Source.GRID_WORKER,
            status=Status.DISPATCHED if dispatched else Status.REPORTED,
            description=f"矩阵测试案件 {i + 1}",
            lng=121.5 + i * 0.001,
            lat=31.2,
            grid=grid,
            grid_code=grid.code,
            department=world.department if dispatched else None,
            step="handle" if dispatched else "accept",
            step_started_at=at,
            step_deadline=at + timedelta(hours=4),
            reported_at=at,
        )
        CaseEvent.objects.create(case=case, action="report", to_status=Status.REPORTED, at=at)
        CaseReporter.objects.create(case=case, source=Source.GRID_WORKER, reported_at=at)
