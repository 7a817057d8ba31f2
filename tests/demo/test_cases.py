"""Six months of demo cases: played through the real actions, deterministic, with every outcome
the evaluation pages need."""

from datetime import date

import pytest

from towngrid.cases.models import Case, CaseEvent, Status
from towngrid.demo.cases import PERIOD_END, PERIOD_START, build_demo_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(demo_town):
    return build_demo_cases(count=120, seed=11, progress=False)


def test_cases_are_played_through_the_workflow(played):
    cases = Case.objects.filter(reported_at__gte=PERIOD_START, reported_at__lt=PERIOD_END)
    assert cases.count() == 120 == played["cases"]
    statuses = set(cases.values_list("status", flat=True))
    assert Status.CLOSED in statuses
    assert {"closed", "closed:late"} <= set(played["outcomes"])
    # Every case's timeline starts with its report, and every closed case went through each step.
    for case in cases.filter(status=Status.CLOSED)[:20]:
        actions = list(case.events.values_list("action", flat=True))
        assert actions[0] == "report"
        for step in ("accept", "open", "dispatch", "feedback", "recheck", "close"):
            assert step in actions, (case.number, actions)
        assert case.closed_on_time is not None
        assert case.attachments.filter(kind="after").exists()
    # Events never go back in time within a case.
    for case in cases[:30]:
        times = list(case.events.values_list("at", flat=True))
        assert times == sorted(times)


def test_staff_act_within_their_scope(played):
    # Verification and re-checks are done by the grid worker of the case's own grid.
    for event in CaseEvent.objects.filter(action__in=["verify", "recheck"]).select_related(
        "actor__scope", "case"
    )[:50]:
        assert event.case.grid_code.startswith(event.actor.scope.code)
    for event in CaseEvent.objects.filter(action="feedback").select_related("actor", "case")[:50]:
        assert event.actor.department_id == event.case.department_id


def test_evaluation_has_figures_for_the_half_year(played):
    from towngrid.cases.evaluation import evaluate

    result = evaluate(date(2023, 1, 1), date(2023, 7, 1), "310115125")
    assert result.total.due > 0
    assert result.total.closure_rate is not None
    assert result.departments and result.workers


def test_same_seed_same_cases(demo_town):
    Case.objects.all().delete()  # the demo's sensing step reports cases of its own
    first = build_demo_cases(count=15, seed=5, progress=False)
    rows = list(Case.objects.order_by("number").values_list("category_id", "status", "grid_code"))
    Case.objects.all().delete()
    second = build_demo_cases(count=15, seed=5, progress=False)
    again = list(Case.objects.order_by("number").values_list("category_id", "status", "grid_code"))
    assert first == second and rows == again
