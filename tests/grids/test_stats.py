"""Node and staff counts per level; a person holding several grids counts once."""

import datetime

import pytest
from django.utils import timezone

from towngrid.grids.actions import assign_duty, create_staff, end_duty
from towngrid.grids.models import GridNode
from towngrid.grids.queries import grid_stats, node_counts

from .test_geo_fixtures import TOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def staffed(tiny_grid):
    m1 = GridNode.objects.get(code=TOWN + "101001")
    m2 = GridNode.objects.get(code=TOWN + "101002")
    park = GridNode.objects.get(code=TOWN + "201001")
    leader = create_staff("张网格长")
    assign_duty(leader, m1, "leader")
    assign_duty(leader, m2, "leader")  # one person, two grids
    assign_duty(create_staff("李网格长"), park, "leader")
    both = create_staff("王专职")
    assign_duty(both, m1, "full_time")
    assign_duty(both, m2, "part_time")  # one person, two posts
    assign_duty(create_staff("赵兼职"), park, "part_time")
    gone = create_staff("钱离岗")
    end_duty(assign_duty(gone, m1, "full_time"))  # ended today: not active
    future = create_staff("孙未到岗")
    duty = assign_duty(future, m2, "full_time")
    duty.started_on = timezone.localdate() + datetime.timedelta(days=3)
    duty.save()
    inactive = create_staff("周停用")
    inactive.active = False
    inactive.save()
    assign_duty(inactive, park, "full_time")
    return m1, m2, park


def level_row(stats, level):
    return next(r for r in stats["levels"] if r["level"] == level)


def test_grid_stats_for_a_subtree(staffed, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        stats = grid_stats(TOWN)
    assert [level_row(stats, lv)["nodes"] for lv in range(1, 6)] == [1, 2, 2, 3, 1]
    assert stats["staff"] == {"leader": 2, "full_time": 1, "part_time": 2}
    assert level_row(stats, 4)["staff"] == {"leader": 2, "full_time": 1, "part_time": 2}
    assert level_row(stats, 1)["staff"] == {"leader": 0, "full_time": 0, "part_time": 0}
    assert level_row(stats, 4)["by_community_kind"] == {"居村": 2, "园区楼宇": 1}
    assert stats["staff_people"] == 4


def test_grid_stats_narrower_root(staffed):
    stats = grid_stats(TOWN + "2")
    assert [level_row(stats, lv)["nodes"] for lv in range(1, 6)] == [0, 1, 1, 1, 0]
    assert stats["staff"] == {"leader": 1, "full_time": 0, "part_time": 1}


def test_node_counts(staffed):
    m1, m2, park = staffed
    town = GridNode.objects.get(code=TOWN)
    assert node_counts(town) == {
        "children": 2,
        "micro_grids": 3,
        "groups": 1,
        "staff": {"leader": 2, "full_time": 1, "part_time": 2},
    }
    assert node_counts(m1) == {
        "children": 1,
        "micro_grids": 1,
        "groups": 1,
        "staff": {"leader": 1, "full_time": 1, "part_time": 0},
    }
    assert node_counts(park)["staff"] == {"leader": 1, "full_time": 0, "part_time": 1}


def test_demo_town_figures(demo_town):
    """The report's figures: 317 micro-grids (311 in 居村 + 6 in 园区楼宇), 323/315/316 staff."""
    stats = grid_stats(demo_town.town.code)
    micro = level_row(stats, 4)
    assert micro["nodes"] == 317
    assert micro["by_community_kind"] == {"居村": 311, "园区楼宇": 6}
    assert stats["staff"] == {"leader": 323, "full_time": 315, "part_time": 316}


def test_reassigning_an_ended_duty_reopens_it(tiny_grid):
    micro = GridNode.objects.get(code=TOWN + "201001")
    person = create_staff("吴复岗")
    end_duty(assign_duty(person, micro, "leader"))
    assert grid_stats(TOWN + "2")["staff"]["leader"] == 0
    duty = assign_duty(person, micro, "leader")
    assert duty.ended_on is None
    assert grid_stats(TOWN + "2")["staff"]["leader"] == 1
