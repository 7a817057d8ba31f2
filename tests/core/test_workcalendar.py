"""The working calendar, with answers worked out by hand.

Office hours are Beicai's default, 09:00–12:00 and 13:00–17:30 (7.5 working hours a day).
2023 holidays (State Council): Spring Festival Jan 21–27 with Sat Jan 28 and Sun Jan 29 worked
(调休); Qingming Wed Apr 5; Labour Day Apr 29–May 3 with Sun Apr 23 and Sat May 6 worked.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from towngrid.core import config, workcalendar
from towngrid.core.models import AuditEvent, CalendarOverride
from towngrid.core.workcalendar import (
    add_duration,
    add_work_days,
    add_work_hours,
    is_office_time,
    is_workday,
    next_office_moment,
    time_left,
    work_hours_between,
)

SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0, ss=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fresh_caches(db):
    config.clear_all_caches()
    yield
    # A rolled-back test sends no delete signal: leave no cached override behind.
    config.clear_all_caches()


class TestWorkdays:
    @pytest.mark.parametrize(
        "day,expected",
        [
            (dt.date(2023, 1, 20), True),  # Friday before the Spring Festival
            (dt.date(2023, 1, 21), False),
            (dt.date(2023, 1, 23), False),  # a Monday inside the holiday
            (dt.date(2023, 1, 27), False),
            (dt.date(2023, 1, 28), True),  # 调休 Saturday
            (dt.date(2023, 1, 29), True),  # 调休 Sunday
            (dt.date(2023, 4, 5), False),  # Qingming, a Wednesday
            (dt.date(2023, 4, 23), True),  # 调休 Sunday
            (dt.date(2023, 4, 29), False),
            (dt.date(2023, 5, 1), False),
            (dt.date(2023, 5, 3), False),
            (dt.date(2023, 5, 4), True),
            (dt.date(2023, 5, 6), True),  # 调休 Saturday
            (dt.date(2023, 5, 7), False),  # an ordinary Sunday
        ],
    )
    def test_2023_holidays_and_adjusted_working_days(self, day, expected):
        assert is_workday(day) is expected

    def test_unknown_year_falls_back_to_monday_to_friday(self):
        assert is_workday(dt.date(2031, 1, 1)) is True  # a Wednesday
        assert is_workday(dt.date(2031, 1, 4)) is False  # a Saturday

    def test_override_for_an_unknown_year_takes_effect(self):
        CalendarOverride.objects.create(date=dt.date(2031, 1, 1), is_workday=False, name="元旦")
        CalendarOverride.objects.create(date=dt.date(2031, 1, 4), is_workday=True, name="调休")
        assert is_workday(dt.date(2031, 1, 1)) is False
        assert is_workday(dt.date(2031, 1, 4)) is True
        # Tue 2030-12-31 17:00: 0.5 h that day, New Year's Day is off, 0.5 h on Jan 2.
        assert add_work_hours(at(2030, 12, 31, 17), 1) == at(2031, 1, 2, 9, 30)

    def test_override_beats_the_library_and_is_invalidated_on_delete(self):
        assert is_workday(dt.date(2023, 1, 27)) is False
        row = CalendarOverride.objects.create(date=dt.date(2023, 1, 27), is_workday=True)
        assert is_workday(dt.date(2023, 1, 27)) is True
        assert add_work_hours(at(2023, 1, 20, 16), 4) == at(2023, 1, 27, 11, 30)
        row.delete()
        assert is_workday(dt.date(2023, 1, 27)) is False

    def test_override_edit_is_seen(self):
        row = CalendarOverride.objects.create(date=dt.date(2023, 3, 6), is_workday=False)
        assert is_workday(dt.date(2023, 3, 6)) is False
        row.is_workday = True
        row.save()
        assert is_workday(dt.date(2023, 3, 6)) is True


class TestWorkHours:
    def test_across_the_spring_festival_to_an_adjusted_saturday(self):
        # 1.5 h on Fri Jan 20 (16:00–17:30), then 2.5 h on Sat Jan 28 (09:00–11:30).
        assert add_work_hours(at(2023, 1, 20, 16), 4) == at(2023, 1, 28, 11, 30)
        assert add_work_hours(at(2023, 1, 20, 16), Decimal("4.00")) == at(2023, 1, 28, 11, 30)

    def test_across_labour_day(self):
        # 0.5 h on Fri Apr 28, Apr 29–May 3 off, 1.5 h on Thu May 4.
        assert add_work_hours(at(2023, 4, 28, 17), 2) == at(2023, 5, 4, 10, 30)

    def test_from_a_rest_day_to_an_adjusted_sunday(self):
        assert add_work_hours(at(2023, 4, 22, 16), 1) == at(2023, 4, 23, 10)

    def test_start_in_the_lunch_break(self):
        assert add_work_hours(at(2023, 3, 6, 12, 30), 1) == at(2023, 3, 6, 14)

    def test_work_spanning_the_lunch_break(self):
        assert add_work_hours(at(2023, 3, 6, 11, 30), 1) == at(2023, 3, 6, 13, 30)

    def test_start_at_closing_time(self):
        assert add_work_hours(at(2023, 3, 6, 17, 30), 1) == at(2023, 3, 7, 10)

    def test_start_before_opening(self):
        assert add_work_hours(at(2023, 3, 6, 8), 1) == at(2023, 3, 6, 10)

    def test_deadline_may_fall_on_a_period_end(self):
        assert add_work_hours(at(2023, 3, 6, 9), 3) == at(2023, 3, 6, 12)
        assert add_work_hours(at(2023, 3, 6, 9), Decimal("7.5")) == at(2023, 3, 6, 17, 30)
        assert add_work_hours(at(2023, 3, 6, 9), 15) == at(2023, 3, 7, 17, 30)

    def test_many_days_ahead(self):
        # 5 hours on Fri Mar 10 from 09:00 is 15:00; 75 h more = 10 full days → Fri Mar 24.
        assert add_work_hours(at(2023, 3, 10, 9), 80) == at(2023, 3, 24, 15)

    def test_published_limit_for_exposed_rubbish(self):
        # 暴露垃圾, 4 working hours: reported Mon 15:00 → 2.5 h that day, 1.5 h Tue → 10:30.
        assert add_work_hours(at(2023, 3, 6, 15), 4) == at(2023, 3, 7, 10, 30)

    def test_zero_returns_start_and_negative_is_refused(self):
        assert add_work_hours(at(2023, 1, 21, 3), 0) == at(2023, 1, 21, 3)
        with pytest.raises(ValueError):
            add_work_hours(at(2023, 3, 6, 9), -1)

    def test_naive_datetimes_are_refused(self):
        with pytest.raises(ValueError):
            add_work_hours(dt.datetime(2023, 3, 6, 9), 1)

    def test_utc_input_gives_shanghai_output(self):
        start = dt.datetime(2023, 1, 20, 8, tzinfo=dt.UTC)  # 16:00 in Shanghai
        due = add_work_hours(start, 4)
        assert due == at(2023, 1, 28, 11, 30)
        assert due.utcoffset() == dt.timedelta(hours=8)

    def test_float_hours(self):
        assert add_work_hours(at(2023, 3, 6, 9), 0.1) == at(2023, 3, 6, 9, 6)


class TestWorkDays:
    def test_friday_afternoon_plus_one_day_is_monday_same_time(self):
        assert add_work_days(at(2023, 3, 10, 16), 1) == at(2023, 3, 13, 16)

    def test_after_hours_counts_from_the_next_opening(self):
        assert add_work_days(at(2023, 3, 10, 18), 1) == at(2023, 3, 14, 9)
        assert add_work_days(at(2023, 3, 10, 17, 30), 1) == at(2023, 3, 14, 9)
        assert add_work_days(at(2023, 3, 6, 12, 30), 1) == at(2023, 3, 7, 13)

    def test_across_the_spring_festival(self):
        assert add_work_days(at(2023, 1, 20, 10), 1) == at(2023, 1, 28, 10)
        assert add_work_days(at(2023, 1, 20, 10), 2) == at(2023, 1, 29, 10)
        assert add_work_days(at(2023, 1, 20, 10), 3) == at(2023, 1, 30, 10)
        # reported on a holiday: counts from the adjusted Saturday's opening
        assert add_work_days(at(2023, 1, 24, 10), 1) == at(2023, 1, 29, 9)

    def test_twenty_working_days_over_qingming_and_labour_day(self):
        # 私搭乱建 demolition: Apr 5 off, Sun Apr 23 worked, Apr 29–May 3 off.
        assert add_work_days(at(2023, 4, 3, 10), 20) == at(2023, 5, 4, 10)

    def test_fraction_of_a_day_in_working_hours(self):
        # 1 day → Tue 09:00, then half of 7.5 h = 3.75 h → 12:00 + 0.75 h after lunch.
        assert add_work_days(at(2023, 3, 6, 9), Decimal("1.5")) == at(2023, 3, 7, 13, 45)

    def test_zero_and_negative(self):
        assert add_work_days(at(2023, 3, 11, 3), 0) == at(2023, 3, 11, 3)
        with pytest.raises(ValueError):
            add_work_days(at(2023, 3, 6, 9), -1)


class TestDuration:
    @pytest.mark.parametrize(
        "amount,unit,expected",
        [
            (4, "work_hours", at(2023, 1, 28, 11, 30)),
            (1, "work_days", at(2023, 1, 28, 16)),
            (2, "hours", at(2023, 1, 20, 18)),
            (1, "days", at(2023, 1, 21, 16)),
            (Decimal("0.5"), "days", at(2023, 1, 21, 4)),
        ],
    )
    def test_units(self, amount, unit, expected):
        assert add_duration(at(2023, 1, 20, 16), amount, unit) == expected

    def test_unknown_unit(self):
        with pytest.raises(ValueError):
            add_duration(at(2023, 1, 20, 16), 1, "fortnights")


class TestBetweenAndNextMoment:
    def test_between_across_the_holiday_and_reversed(self):
        assert work_hours_between(at(2023, 1, 20, 16), at(2023, 1, 28, 11, 30)) == 4
        assert work_hours_between(at(2023, 1, 28, 11, 30), at(2023, 1, 20, 16)) == -4
        assert work_hours_between(at(2023, 3, 6, 12), at(2023, 3, 6, 13)) == 0
        assert work_hours_between(at(2023, 3, 6, 0), at(2023, 3, 7, 0)) == Decimal("7.5")

    def test_time_left_counts_as_the_unit_does(self):
        now, due = at(2023, 1, 20, 16), at(2023, 1, 28, 11, 30)
        assert time_left(now, due, "work_hours") == 4
        assert time_left(now, due, "work_days") == 4
        assert time_left(now, due, "hours") == Decimal("187.5")
        assert time_left(due, now, "hours") == Decimal("-187.5")
        # overdue: 5 h left of Sat Jan 28, all 7.5 h of the 调休 Sunday, 1 h on Mon Jan 30
        assert time_left(at(2023, 1, 30, 10), due, "work_hours") == Decimal("-13.5")

    def test_next_office_moment(self):
        assert next_office_moment(at(2023, 3, 6, 8)) == at(2023, 3, 6, 9)
        assert next_office_moment(at(2023, 3, 6, 9)) == at(2023, 3, 6, 9)
        assert next_office_moment(at(2023, 3, 6, 12)) == at(2023, 3, 6, 13)
        assert next_office_moment(at(2023, 3, 6, 17, 29, 59)) == at(2023, 3, 6, 17, 29, 59)
        assert next_office_moment(at(2023, 3, 6, 17, 30)) == at(2023, 3, 7, 9)
        assert next_office_moment(at(2023, 1, 20, 17, 30)) == at(2023, 1, 28, 9)
        assert is_office_time(at(2023, 1, 28, 10)) and not is_office_time(at(2023, 1, 27, 10))


class TestConfiguredOfficeHours:
    def test_changed_office_hours_apply_at_once_and_are_audited(self):
        config.set_value("calendar.office_hours", [["08:30", "17:00"]], None, reason="冬令时")
        assert add_work_hours(at(2023, 3, 6, 16, 30), 1) == at(2023, 3, 7, 9)
        assert workcalendar.office_hours_per_day() == Decimal("8.5")
        assert AuditEvent.objects.filter(action="core.setting.set").count() == 1
        config.reset("calendar.office_hours")
        assert add_work_hours(at(2023, 3, 6, 16, 30), 1) == at(2023, 3, 6, 17, 30)


# ---- properties ---------------------------------------------------------------------------

starts = st.datetimes(
    min_value=dt.datetime(2022, 12, 1), max_value=dt.datetime(2024, 12, 31), timezones=st.just(SH)
)
amounts = st.decimals(min_value=0, max_value=120, places=2)
positive = st.decimals(min_value=Decimal("0.01"), max_value=120, places=2)
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _inside_office_hours_closed(moment: dt.datetime) -> bool:
    local = moment.astimezone(SH).replace(tzinfo=None)
    if not is_workday(local.date()):
        return False
    midnight = dt.datetime.combine(local.date(), dt.time())
    return any(midnight + a <= local <= midnight + b for a, b in workcalendar.office_periods())


@PROPERTY
@given(start=starts, hours=amounts)
def test_deadline_not_before_start_and_inverse_of_between(start, hours):
    due = add_work_hours(start, hours)
    assert due >= start
    assert work_hours_between(start, due) == hours


@PROPERTY
@given(start=starts, x=amounts, y=amounts)
def test_work_hours_add_up(start, x, y):
    assert add_work_hours(start, x + y) == add_work_hours(add_work_hours(start, x), y)


@PROPERTY
@given(start=starts, hours=positive)
def test_deadline_inside_office_hours_on_a_working_day(start, hours):
    assert _inside_office_hours_closed(add_work_hours(start, hours))


@PROPERTY
@given(start=starts, days=st.integers(min_value=1, max_value=40))
def test_work_days_land_in_office_hours_after_start(start, days):
    due = add_work_days(start, days)
    assert due > start
    assert is_office_time(due)
    # exactly `days` full office days of work lie between the counting start and the deadline
    assert work_hours_between(next_office_moment(start), due) == days * Decimal("7.5")
