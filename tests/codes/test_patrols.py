"""Patrols with known dates: due and overdue by colour, the route's nearest-neighbour order, the
coverage of a window, the patrol page and the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from towngrid.codes import actions, patrols
from towngrid.codes.colour_models import ColourState

from .support import *  # noqa: F403
from .support import IN_MICRO_ONLY, MICRO, make_house, offset

SH = ZoneInfo("Asia/Shanghai")
GREEN_DAYS = 21  # the default house rule set: green every 21 days


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=SH)


def patrolled(house, worker, when: datetime):
    return actions.check_in(house, actor=worker, lng=house.lng, lat=house.lat, at=when)


def state_of(house) -> ColourState:
    from towngrid.codes.colours import current

    return current(house)


def test_due_date_follows_the_last_patrol_and_the_colour_interval(town, worker):
    house = make_house()
    patrolled(house, worker, at(1))
    state = state_of(house)
    assert state.colour == "green" and state.interval_days == GREEN_DAYS
    assert state.patrol_due_at == at(1) + timedelta(days=GREEN_DAYS)


def test_due_and_overdue_counts_with_known_dates(town, worker):
    overdue = make_house()  # patrolled 1 March → due 22 March
    due_today = make_house()  # patrolled 4 March → due 25 March (the day we look at)
    later = make_house()  # patrolled 20 March → due 10 April
    patrolled(overdue, worker, at(1))
    patrolled(due_today, worker, at(4, 15))
    patrolled(later, worker, at(20))
    now = at(25, 9)
    result = patrols.due_patrols(worker, day=date(2026, 3, 25), now=now)
    assert [s.object_id for s in result["overdue"]] == [overdue.pk]
    assert [s.object_id for s in result["due_today"]] == [due_today.pk]
    assert result["counts"]["green"] == {"overdue": 1, "due": 2, "total": 3}
    assert result["overdue"][0].address == overdue.full_address


def test_other_grids_are_not_in_my_patrols(town, worker, other_worker):
    house = make_house()
    patrolled(house, worker, at(1))
    now = at(28)
    assert patrols.due_patrols(other_worker, now=now, day=date(2026, 3, 28))["overdue"] == []
    assert len(patrols.due_patrols(worker, now=now, day=date(2026, 3, 28))["overdue"]) == 1


def test_route_is_a_nearest_neighbour_walk_from_the_start(town, worker):
    far = make_house(lng=offset(IN_MICRO_ONLY, 900)[0])
    near = make_house(lng=offset(IN_MICRO_ONLY, 100)[0])
    middle = make_house(lng=offset(IN_MICRO_ONLY, 500)[0])
    for house in (far, near, middle):
        patrolled(house, worker, at(1))
    route = patrols.route_for_day(worker, day=date(2026, 3, 28), start=IN_MICRO_ONLY, now=at(28))
    assert [s.object_id for s in route["stops"]] == [near.pk, middle.pk, far.pk]
    legs = [s.leg_m for s in route["stops"]]
    assert legs[0] == pytest.approx(100, abs=2) and legs[1] == pytest.approx(400, abs=3)
    assert route["total_m"] == pytest.approx(900, abs=5)


def test_route_without_a_position_starts_at_the_grid_centroid(town, worker):
    house = make_house()
    patrolled(house, worker, at(1))
    route = patrols.route_for_day(worker, day=date(2026, 3, 28), now=at(28))
    assert route["origin"] == (town.centroid_lng, town.centroid_lat)
    assert route["stops"][0].token == ""  # no code issued yet: listed, without a scan link


def test_order_route_puts_unlocated_stops_last():
    stops = [
        patrols.Stop(1, 1, "red", "a", MICRO, at(1), None, True, None, None),
        patrols.Stop(1, 2, "red", "b", MICRO, at(1), None, True, 121.2, 31.1),
    ]
    assert [s.object_id for s in patrols.order_route(stops, None)] == [2, 1]


def test_coverage_with_known_dates(town, worker):
    """Window 1–31 March, looked at on 31 March 23:00 (green: every 21 days):
    A patrolled 20 Feb (due 13 Mar) and again 10 Mar → done on time;
    B patrolled 20 Feb (due 13 Mar) and again 20 Mar → late: overdue;
    C patrolled 25 Feb (due 18 Mar), not since → overdue;
    D patrolled 28 Feb (due 21 Mar) and again 5 Mar → done (early);
    E never patrolled before the window (due 1 + 21 = 22 Mar), patrolled 20 Mar → done."""
    houses = {k: make_house() for k in "ABCDE"}
    feb = lambda d: datetime(2026, 2, d, 10, tzinfo=SH)  # noqa: E731
    patrolled(houses["A"], worker, feb(20))
    patrolled(houses["A"], worker, at(10))
    patrolled(houses["B"], worker, feb(20))
    patrolled(houses["B"], worker, at(20))
    patrolled(houses["C"], worker, feb(25))
    patrolled(houses["D"], worker, feb(28))
    patrolled(houses["D"], worker, at(5))
    patrolled(houses["E"], worker, at(20))
    now = at(31, 23)
    result = patrols.patrol_coverage(MICRO, date(2026, 3, 1), date(2026, 3, 31), now=now)
    assert result == {"due": 5, "done": 3, "overdue": 2, "rate": 0.6}
    rows = patrols.coverage_by_grid(MICRO[:9], date(2026, 3, 1), date(2026, 3, 31), now=now)
    assert rows == [
        {"grid_code": MICRO, "grid_name": town.name, "due": 5, "done": 3, "overdue": 2,
         "rate": 0.6}
    ]  # fmt: skip


def test_coverage_of_a_window_in_the_future_is_empty(town, worker):
    house = make_house()
    patrolled(house, worker, at(1))
    today = timezone.localdate()
    result = patrols.patrol_coverage(MICRO, today + timedelta(days=10), today + timedelta(30))
    assert result == {"due": 0, "done": 0, "overdue": 0, "rate": 0.0}


def test_cross_app_names_are_exported(town):
    from towngrid.codes import queries

    assert queries.patrol_coverage is patrols.patrol_coverage
    dist = queries.colour_distribution(MICRO)
    assert set(dist) == {"green", "yellow", "red"}


def test_patrol_page(client, town, worker, user_factory):
    house = make_house()
    actions.issue(house)
    patrolled(house, worker, timezone.now() - timedelta(days=30))
    client.force_login(worker)
    response = client.get("/codes/patrols/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="route-stop"' in page and house.full_address in page
    assert "超期" in page
    client.force_login(user_factory(role="resident"))
    assert client.get("/codes/patrols/").status_code == 403


def test_patrol_api(client, town, worker):
    house = make_house()
    code = actions.issue(house)
    patrolled(house, worker, timezone.now() - timedelta(days=30))
    client.force_login(worker)
    data = client.get("/api/v1/codes/patrols/").json()
    assert data["counts"]["green"]["overdue"] == 1
    assert data["overdue"][0]["token"] == code.token
    lng, lat = offset(IN_MICRO_ONLY, 200)
    route = client.get(f"/api/v1/codes/patrols/route/?lng={lng}&lat={lat}").json()
    assert route["stops"][0]["leg_m"] == pytest.approx(200, abs=2)
    bad = client.get("/api/v1/codes/patrols/route/?lng=x&lat=1")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    coverage = client.get("/api/v1/codes/coverage/").json()
    assert coverage["grid"] == MICRO and coverage["due"] == 1
    outside = client.get("/api/v1/codes/coverage/?grid=310117901201001")
    assert outside.status_code == 404
    bad = client.get("/api/v1/codes/coverage/?start=2026-13-01")
    assert bad.status_code == 400
