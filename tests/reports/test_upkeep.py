"""The roll-ups kept current by the actions equal a full rebuild, after any sequence of
transitions (hypothesis walks the workflow), and the CLI rebuilds and verifies them."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from towngrid.cases import actions
from towngrid.cases.errors import CaseError
from towngrid.cases.models import Case, Source
from towngrid.cases.workflow import TRANSITIONS
from towngrid.reports import rollups
from towngrid.reports.models import CaseRollup, NodeRollup

SH = ZoneInfo("Asia/Shanghai")
# Late on a working day, so that some cases are reported just before midnight.
T0 = datetime(2023, 3, 1, 23, 40, tzinfo=SH)
CATEGORIES = ["E0102", "C0105"]


def png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (30, 160, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile("after.png", buffer.getvalue(), content_type="image/png")


def arguments(action: str, case: Case, cases: list[Case]) -> dict:
    if action in {"reject", "sendback", "rework", "request_park", "deny_request", "reopen"}:
        return {"reason": "测试原因"}
    if action == "request_extension":
        return {"amount": 1, "unit": "work_days", "reason": "需要更多时间"}
    if action == "feedback":
        return {"photos": [png()]}
    if action == "recheck":
        return {"passed": True, "photos": [png()]}
    if action == "handle":
        return {"note": "正在处置"}
    if action == "merge":
        others = [c for c in cases if c.pk != case.pk and c.status != "merged"]
        return {"into": others[0]} if others else {}
    return {}


def points(town) -> list[tuple[float, float]]:
    from towngrid.grids.models import GridNode

    micros = GridNode.objects.filter(level=4, code__startswith=town.town.code).order_by("code")
    # Two in the same micro-grid (they share roll-up rows), one elsewhere in the same community,
    # one in another area.
    first = micros.filter(code__startswith=town.community.code).first()
    second = micros.filter(code__startswith=town.community.code).exclude(pk=first.pk).first()
    far = micros.exclude(code__startswith=town.area.code).first()
    return [
        (first.centroid_lng, first.centroid_lat),
        (first.centroid_lng, first.centroid_lat),
        (second.centroid_lng, second.centroid_lat),
        (far.centroid_lng, far.centroid_lat),
    ]


STEPS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(0, 60)), min_size=1, max_size=30
)


@pytest.mark.django_db
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, sources=st.lists(st.sampled_from(Source.values), min_size=4, max_size=4))
def test_upkeep_equals_rebuild(demo_town, catalogue, steps, sources):
    with transaction.atomic():
        spots = points(demo_town)
        cases = []
        for i, (lng, lat) in enumerate(spots):
            cases.append(
                actions.report(
                    category=CATEGORIES[i % 2] if i != 1 else CATEGORIES[0],
                    description="报表维护测试",
                    lng=lng,
                    lat=lat,
                    source=sources[i] if i != 1 else sources[0],
                    source_ref="12345-1"
                    if (sources[i] if i != 1 else sources[0]) == "hotline"
                    else "",
                    actor=None,
                    # Cases 0 and 1 share a day (and a roll-up row); 2 is reported after midnight.
                    at=T0 + timedelta(minutes=30 * (i // 2)),
                )
            )
        at = T0 + timedelta(hours=1)
        for index, choice, hours in steps:
            case = Case.objects.get(pk=cases[index].pk)
            allowed = sorted(a for a, t in TRANSITIONS.items() if case.status in t.sources)
            if not allowed:
                continue
            action = allowed[choice % len(allowed)]
            at += timedelta(hours=hours)
            # A refusal (e.g. a request already pending) writes nothing: the walk goes on.
            with contextlib.suppress(CaseError):
                actions.transition(
                    case, action, actor=None, at=at, **arguments(action, case, cases)
                )
        maintained = rollups.snapshot()
        rollups.rebuild()
        assert rollups.snapshot() == maintained
        transaction.set_rollback(True)


def test_report_counts_at_once(demo_town, catalogue):
    micro = demo_town.micro_grid
    case = actions.report(
        category="E0102",
        description="报表即时计数",
        lng=micro.centroid_lng,
        lat=micro.centroid_lat,
        source=Source.RESIDENT,
        actor=None,
        at=T0,
    )
    row = CaseRollup.objects.get(
        grid_code=case.grid_code[:15], source="resident", category=case.category
    )
    assert (row.reported, row.open, row.opened) == (1, 1, 0)
    town = NodeRollup.objects.get(grid_code=demo_town.town.code, dim="", grain="d", day=row.day)
    assert (town.reported, town.open) == (1, 1)
    actions.reject(case, actor=None, reason="不属于", at=T0 + timedelta(minutes=5))
    town.refresh_from_db()
    assert (town.reported, town.open) == (1, 0)


def test_command_rebuilds_and_verifies(report_town):
    out = io.StringIO()
    call_command("reports", "verify", "--no-progress", stdout=out)
    assert "equal" in out.getvalue()
    CaseRollup.objects.filter(pk=CaseRollup.objects.order_by("pk").first().pk).update(reported=99)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("reports", "verify", "--no-progress", stdout=io.StringIO())
    call_command("reports", "rebuild", "--no-progress", stdout=out)
    assert "Rebuilt" in out.getvalue()
    call_command("reports", "verify", "--no-progress", stdout=io.StringIO())
    from towngrid.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="reports.rebuild").exists()


def test_demo_contract(report_town):
    from towngrid.reports import demo

    assert demo.exists()
    demo.remove()
    assert not demo.exists()
    summary = demo.build(scale=0.02)
    assert summary["case_rollups"] > 0 and demo.exists()
