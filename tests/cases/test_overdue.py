# ruff: noqa: F811 - the shared fixtures are imported from test_workflow
"""Overdue steps notify the next level up, once per step, at a frozen ``now``."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command

from towngrid.cases import actions, queries
from towngrid.cases.models import Case, Step
from towngrid.core.models import AuditEvent, Notification

from .test_workflow import (  # noqa: F401
    T0,
    catalogue,
    new_case,
    point,
    to_dispatched,
    town,
    users,
)


def overdue_for(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user, kind="case_overdue").values_list("title", flat=True)
    )


def test_accept_overdue_notifies_the_shift_lead_once(users, point):
    case = new_case(point, users["resident"])
    assert case.step == Step.ACCEPT and case.step_deadline
    assert actions.check_overdue(now=case.step_deadline - timedelta(minutes=1)) == 0
    later = case.step_deadline + timedelta(hours=1)
    assert actions.check_overdue(now=later) == 1
    titles = overdue_for(users["ops_shift_lead"])
    assert titles == [f"案件 {case.number} 受理超时"]
    assert overdue_for(users["grid_leader"]) == []
    assert case.events.filter(action="overdue").count() == 1
    assert AuditEvent.objects.filter(action="cases.check_overdue").exists()
    # Not again for the same step…
    assert actions.check_overdue(now=later + timedelta(days=1)) == 0
    # …and the sweep does not move the version (nobody's action conflicts with it).
    assert Case.objects.get(pk=case.pk).version == 0
    assert queries.is_overdue(case, later)
    left = queries.time_left(case, later)
    assert left["overdue"] and left["work_hours_left"] < 0


def test_verify_overdue_goes_to_grid_leader_and_community(users, point):
    case = new_case(point, users["resident"])
    actions.accept(case, actor=users["ops_registrar"], at=T0 + timedelta(minutes=5))
    assert case.step == Step.VERIFY
    count = actions.check_overdue(now=case.step_deadline + timedelta(minutes=1))
    assert count == 1  # the accept step was done in time: only the verify step is late
    assert overdue_for(users["grid_leader"]) == [f"案件 {case.number} 核实超时"]
    assert overdue_for(users["community_staff"]) == [f"案件 {case.number} 核实超时"]
    assert overdue_for(users["ops_shift_lead"]) == []


def test_handle_overdue_goes_to_shift_lead_and_department(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    assert case.step == Step.HANDLE
    actions.check_overdue(now=case.step_deadline + timedelta(minutes=1))
    assert overdue_for(users["ops_shift_lead"]) == [f"案件 {case.number} 处置超时"]
    assert overdue_for(users["dept_handler"]) == [f"案件 {case.number} 处置超时"]


def test_new_step_or_extension_can_be_reported_again(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    first = case.step_deadline + timedelta(minutes=1)
    assert actions.check_overdue(now=first) == 1
    actions.request_extension(
        case, actor=users["dept_handler"], amount=1, unit="work_days", reason="需协调", at=first
    )
    actions.approve_extension(case, actor=users["ops_shift_lead"], at=first)
    assert case.step_deadline > first
    assert actions.check_overdue(now=first + timedelta(minutes=1)) == 0
    assert actions.check_overdue(now=case.step_deadline + timedelta(minutes=1)) == 1


def test_command_check_overdue(users, point, capsys):
    case = new_case(point, users["resident"])
    call_command(
        "cases", "check-overdue", "--now", (case.step_deadline + timedelta(hours=1)).isoformat()
    )
    assert "1" in capsys.readouterr().out
    call_command("cases", "show", case.number)
    out = capsys.readouterr().out
    assert case.number in out and "上报" in out
