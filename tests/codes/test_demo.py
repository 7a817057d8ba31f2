"""The codes part of the demo town: a live code for every coded object, colours, and a patrol
history in which some patrols are overdue; the gridworker login has a route for today."""

from __future__ import annotations

from django.utils import timezone

from towngrid.codes import objects, patrols
from towngrid.codes.colour_models import ColourState
from towngrid.codes.models import CheckIn, ObjectCode
from towngrid.demo.data import TOWN_CODE


def test_every_coded_object_has_one_live_code(demo_town):
    for model in objects.coded_models():
        count = model.objects.filter(grid_code__startswith=TOWN_CODE).count()
        live = ObjectCode.objects.filter(
            content_type=objects.content_type_of(model), revoked_at__isnull=True
        ).count()
        assert live == count, model.__name__


def test_patrol_history_leaves_some_overdue(demo_town):
    now = timezone.now()
    states = ColourState.objects.filter(grid_code__startswith=TOWN_CODE)
    overdue = states.filter(patrol_due_at__lt=now).count()
    assert 0 < overdue < states.count() / 2
    assert CheckIn.objects.filter(flagged_far=True).exists()
    assert not CheckIn.objects.filter(at__gt=now).exists()
    # The due date follows the last check-in and the colour's interval.
    state = states.exclude(last_patrol_at=None).first()
    assert state.patrol_due_at - state.last_patrol_at == timezone.timedelta(
        days=state.interval_days
    )


def test_gridworker_has_a_route_for_today(demo_town):
    worker = demo_town.user("grid_worker")
    due = patrols.due_patrols(worker)
    route = patrols.route_for_day(worker)
    assert due["overdue"] and route["stops"]
    assert all(s.grid_code.startswith(worker.scope.code) for s in route["stops"])
    coverage = patrols.patrol_coverage(worker.scope.code, *_last_month())
    assert coverage["due"] > 0 and 0 < coverage["rate"] < 1


def _last_month():
    today = timezone.localdate()
    return today - timezone.timedelta(days=29), today
