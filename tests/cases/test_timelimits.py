"""Time limits per subclass and step, the town defaults, and deadlines on the calendar."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from towngrid.cases import timelimits
from towngrid.cases.models import Category, CategoryClass, TimeLimit
from towngrid.core import workcalendar

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_caches(db):
    timelimits.clear_cache()
    workcalendar.clear_cache()
    yield
    timelimits.clear_cache()
    workcalendar.clear_cache()


@pytest.fixture
def rubbish():
    major = CategoryClass.objects.create(kind="event", code="01", name="市容环境")
    return Category.objects.create(major=major, code="02", full_code="E0102", name="暴露垃圾")


@pytest.fixture
def other(rubbish):
    return Category.objects.create(
        major=rubbish.major, code="04", full_code="E0104", name="道路不洁"
    )


def test_no_rows_no_limit(rubbish):
    assert timelimits.limit_for(rubbish, "handle") is None
    assert timelimits.deadline_for(rubbish, "handle", dt.datetime(2023, 3, 6, tzinfo=SH)) is None


def test_category_row_beats_town_default(rubbish, other):
    TimeLimit.objects.create(category=None, step="handle", amount=3, unit="work_days")
    TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    assert timelimits.limit_for(rubbish, "handle") == (Decimal("4.00"), "work_hours")
    assert timelimits.limit_for(rubbish.pk, "handle") == (Decimal("4.00"), "work_hours")
    assert timelimits.limit_for(other, "handle") == (Decimal("3.00"), "work_days")
    assert timelimits.limit_for(None, "handle") == (Decimal("3.00"), "work_days")
    assert timelimits.limit_for(rubbish, "recheck") is None


def test_deadline_across_the_spring_festival(rubbish, other):
    TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    TimeLimit.objects.create(category=None, step="handle", amount=1, unit="work_days")
    start = dt.datetime(2023, 1, 20, 16, tzinfo=SH)
    assert timelimits.deadline_for(rubbish, "handle", start) == dt.datetime(
        2023, 1, 28, 11, 30, tzinfo=SH
    )
    assert timelimits.deadline_for(other, "handle", start) == dt.datetime(
        2023, 1, 28, 16, tzinfo=SH
    )


def test_cache_follows_saves_and_deletes(rubbish):
    limit = TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    assert timelimits.limit_for(rubbish, "handle") == (Decimal("4"), "work_hours")
    limit.amount = Decimal("5")
    limit.save()
    assert timelimits.limit_for(rubbish, "handle") == (Decimal("5"), "work_hours")
    limit.delete()
    assert timelimits.limit_for(rubbish, "handle") is None


def test_cascade_delete_of_the_category_invalidates(rubbish):
    TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    TimeLimit.objects.create(category=None, step="handle", amount=3, unit="work_days")
    pk = rubbish.pk
    assert timelimits.limit_for(pk, "handle")[1] == "work_hours"
    rubbish.delete()
    assert timelimits.limit_for(pk, "handle") == (Decimal("3"), "work_days")


def test_limits_of_merges_defaults(rubbish):
    TimeLimit.objects.create(category=None, step="handle", amount=3, unit="work_days")
    TimeLimit.objects.create(category=None, step="accept", amount=1, unit="work_hours")
    TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    assert timelimits.limits_of(rubbish) == {
        "handle": (Decimal("4"), "work_hours"),
        "accept": (Decimal("1"), "work_hours"),
    }


def test_many_deadlines_are_fast(rubbish, django_assert_max_num_queries):
    """The intake benchmark computes 100,000 deadlines: one table read, then memory only."""
    import time

    TimeLimit.objects.create(category=rubbish, step="handle", amount=4, unit="work_hours")
    TimeLimit.objects.create(category=None, step="accept", amount=1, unit="work_hours")
    start = dt.datetime(2023, 3, 6, 9, tzinfo=SH)
    with django_assert_max_num_queries(3):
        began = time.perf_counter()
        for i in range(5000):
            moment = start + dt.timedelta(minutes=7 * i)
            timelimits.deadline_for(rubbish, "handle", moment)
            timelimits.deadline_for(rubbish.pk, "accept", moment)
        elapsed = time.perf_counter() - began
    assert elapsed < 5.0  # about 10,000 deadlines; generous for slow CI machines
