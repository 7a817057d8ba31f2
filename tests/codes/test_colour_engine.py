# ruff: noqa: F811  (fixtures imported from test_colour_support are used as parameters)
"""The colour engine writing states: recompute and its history, live recomputation when a case
on a house opens and closes and when the registry changes, patrols and their findings, manual
overrides with expiry, the sweep, and recompute_many agreeing with recompute."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from towngrid.codes import colours
from towngrid.codes.colour_models import ColourChange, ColourOverride, ColourState
from towngrid.codes.colours import ColourError
from towngrid.core.models import AuditEvent
from towngrid.registry.models import House

from .test_colour_support import (  # noqa: F401
    catalogue,
    close_case,
    grid,
    make_enterprise,
    make_house,
    rented_fields,
    report_on,
    rules,
)


def state_of(obj) -> ColourState:
    return ColourState.objects.get(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    )


def changes_of(obj) -> list[tuple[str, str, str]]:
    rows = ColourChange.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).order_by("at", "id")
    return [(c.from_colour, c.to_colour, c.cause) for c in rows]


def test_first_recompute_creates_the_state_and_its_first_history_row(grid, rules):
    house = make_house(grid)
    t = timezone.now()
    state = colours.recompute(house, at=t)
    assert (state.colour, state.rule_colour, state.interval_days) == ("green", "green", 21)
    assert state.grid_code == grid.code and state.colour_kind == "house"
    assert state.label == house.full_address
    assert state.patrol_due_at == t + timedelta(days=21)  # never patrolled: from first colour
    assert changes_of(house) == [("", "green", "rule")]
    # Nothing changed: no new history row, no audit noise.
    colours.recompute(house)
    assert len(changes_of(house)) == 1


def test_case_opening_and_closing_on_the_house_recomputes(grid, rules, catalogue):
    house = make_house(grid)
    colours.recompute(house)
    first = report_on(house)
    assert state_of(house).colour == "yellow"
    assert "有 1 件未结案件" in [r["text"] for r in state_of(house).reasons]
    second = report_on(house)
    assert state_of(house).colour == "red"
    close_case(first)
    assert state_of(house).colour == "yellow"
    close_case(second)
    state = state_of(house)
    assert state.colour == "green"
    assert changes_of(house) == [
        ("", "green", "rule"),
        ("green", "yellow", "rule"),
        ("yellow", "red", "rule"),
        ("red", "yellow", "rule"),
        ("yellow", "green", "rule"),
    ]
    assert AuditEvent.objects.filter(action="colours.change", object_id=str(house.pk)).count() == 5


def test_a_case_without_subject_touches_no_colour(grid, rules, catalogue):
    from towngrid.cases import actions

    actions.report(
        category="E0102",
        description="路面垃圾",
        lng=grid.centroid_lng,
        lat=grid.centroid_lat,
        source="resident",
        actor=None,
    )
    assert not ColourState.objects.exists()


def test_a_registry_update_recomputes(grid, rules):
    from towngrid.registry import actions

    house = make_house(grid)
    colours.recompute(house)
    house = actions.update(house, actor=None, **rented_fields(occupants=6, rooms=1))
    state = state_of(house)
    assert state.colour == "red"
    assert state.reasons[0]["text"].startswith("群租：")
    house = actions.update(house, actor=None, is_rented=False, use="owner_occupied", tenant_count=0)
    assert state_of(house).colour == "green"


def test_a_registry_create_gives_a_colour_at_once(grid, rules):
    from towngrid.registry import actions

    house = actions.create(
        House,
        actor=None,
        grid=grid.code,
        road="莲溪路",
        number="9",
        flags=["三合一场所"],
        lng=grid.centroid_lng,
        lat=grid.centroid_lat,
    )
    assert state_of(house).colour == "red"


def test_an_enterprise_visit_needing_follow_up_is_a_finding(grid, rules):
    from towngrid.registry import actions

    key = make_enterprise(grid, is_key=True)
    colours.recompute(key)
    assert state_of(key).colour == "yellow"
    actions.add_visit(key, actor=None, problems=["融资需求"], needs_followup=False)
    assert state_of(key).colour == "yellow"
    actions.add_visit(key, actor=None, problems=["消防通道堵塞"], needs_followup=True)
    state = state_of(key)
    assert state.colour == "red"
    assert "消防通道堵塞" in state.reasons[0]["text"]


def test_a_patrol_moves_the_due_date_and_its_findings_feed_the_colour(grid, rules):
    house = make_house(grid)
    t0 = timezone.now() - timedelta(days=1)
    state = colours.record_patrol(house, at=t0, findings=[])
    assert state.colour == "green"
    assert state.last_patrol_at == t0
    assert state.patrol_due_at == t0 + timedelta(days=21)
    state = colours.record_patrol(house, at=t0 + timedelta(hours=2), findings=["电瓶车室内充电"])
    assert state.colour == "yellow"
    assert state.patrol_due_at == t0 + timedelta(hours=2, days=14)
    assert state.review_at == t0 + timedelta(hours=2, days=14)  # when the finding ages out
    assert changes_of(house)[-1] == ("green", "yellow", "patrol")
    assert AuditEvent.objects.filter(action="colours.patrol").count() == 2


def test_a_finding_ages_out_by_the_sweep(grid, rules):
    house = make_house(grid)
    found_at = timezone.now() - timedelta(days=2)
    colours.record_patrol(house, at=found_at, findings=["楼道堆物"])
    assert state_of(house).colour == "yellow"
    assert colours.sweep(at=timezone.now())["evaluated"] == 0  # not yet
    later = found_at + timedelta(days=14, minutes=1)
    result = colours.sweep(at=later)
    assert result == {"evaluated": 1, "changed": 1}
    state = state_of(house)
    assert state.colour == "green" and state.review_at is None
    assert changes_of(house)[-1] == ("yellow", "green", "rule")


def test_patrol_in_the_future_is_refused(grid, rules):
    with pytest.raises(ColourError):
        colours.record_patrol(make_house(grid), at=timezone.now() + timedelta(hours=1))


# --- overrides -----------------------------------------------------------------------------------


def test_override_until_expiry_then_the_rule_colour_again(grid, rules):
    house = make_house(grid, **rented_fields())
    colours.recompute(house)
    t = timezone.now()
    state = colours.override(
        house, "green", reason="房东已整改并承诺", expires_at=t + timedelta(days=7), at=t
    )
    assert (state.colour, state.rule_colour, state.interval_days) == ("green", "yellow", 21)
    assert state.override.reason == "房东已整改并承诺"
    assert state.review_at == t + timedelta(days=7)
    # Still in force the day before it expires, whatever recomputes.
    assert colours.current(house, at=t + timedelta(days=6)).colour == "green"
    # Lazily expired when read after its expiry; recorded in the history.
    after = colours.current(house, at=t + timedelta(days=7, seconds=1))
    assert (after.colour, after.override_id) == ("yellow", None)
    ov = ColourOverride.objects.get()
    assert (ov.ended_cause, ov.ended_at) == ("expiry", ov.expires_at)
    assert changes_of(house)[-2:] == [
        ("yellow", "green", "override"),
        ("green", "yellow", "expiry"),
    ]
    override_change = ColourChange.objects.filter(cause="override").get()
    assert "人工调整为绿色：房东已整改并承诺" in override_change.reasons[0]["text"]


def test_overrides_expire_in_the_sweep_and_in_bulk(grid, rules):
    houses = [make_house(grid, **rented_fields()) for _ in range(3)]
    t = timezone.now()
    colours.recompute_many(houses, at=t)
    for house in houses[:2]:
        colours.override(house, "red", reason="重点关注", expires_at=t + timedelta(hours=1), at=t)
    result = colours.sweep(at=t + timedelta(hours=2))
    assert result == {"evaluated": 2, "changed": 2}
    assert {state_of(h).colour for h in houses} == {"yellow"}
    assert ColourOverride.objects.filter(ended_cause="expiry").count() == 2
    assert ColourChange.objects.filter(cause="expiry").count() == 2


def test_a_case_while_overridden_keeps_the_override_but_updates_the_rule_colour(
    grid, rules, catalogue
):
    house = make_house(grid)
    colours.override(house, "green", reason="已核实", expires_at=timezone.now() + timedelta(days=3))
    report_on(house)
    report_on(house)
    state = state_of(house)
    assert (state.colour, state.rule_colour) == ("green", "red")


def test_clear_override(grid, rules):
    house = make_house(grid)
    colours.override(house, "red", reason="群众举报", expires_at=timezone.now() + timedelta(days=3))
    state = colours.clear_override(house, reason="核实无问题")
    assert (state.colour, state.override_id) == ("green", None)
    assert ColourOverride.objects.get().ended_cause == "clear"
    assert changes_of(house)[-1] == ("red", "green", "clear")
    with pytest.raises(ColourError) as err:
        colours.clear_override(house, reason="再次撤销")
    assert err.value.code == "not_found"


def test_a_new_override_replaces_the_one_in_force(grid, rules):
    house = make_house(grid)
    t = timezone.now()
    colours.override(house, "red", reason="一", expires_at=t + timedelta(days=3))
    state = colours.override(house, "yellow", reason="二", expires_at=t + timedelta(days=5))
    assert state.colour == "yellow" and state.override.reason == "二"
    assert ColourOverride.objects.filter(ended_at=None).count() == 1


@pytest.mark.parametrize(
    ("colour", "reason", "delta", "code"),
    [
        ("purple", "原因", timedelta(days=1), "invalid"),
        ("red", "  ", timedelta(days=1), "reason_required"),
        ("red", "原因", timedelta(seconds=-1), "invalid"),
        ("red", "原因", timedelta(days=400), "invalid"),
    ],
)
def test_bad_overrides_are_refused_and_nothing_is_written(grid, rules, colour, reason, delta, code):
    house = make_house(grid)
    colours.recompute(house)
    before = ColourChange.objects.count()
    with pytest.raises(ColourError) as err:
        colours.override(house, colour, reason=reason, expires_at=timezone.now() + delta)
    assert err.value.code == code
    assert not ColourOverride.objects.exists()
    assert ColourChange.objects.count() == before


def test_override_needs_the_capability_and_the_scope(grid, rules, user_factory):
    from tests.grids.test_geo_fixtures import TOWN

    house = make_house(grid)
    expires = timezone.now() + timedelta(days=1)
    leader = user_factory(role="grid_leader", scope=grid.code)
    elsewhere = user_factory(role="grid_leader", scope=TOWN + "201001")
    worker = user_factory(role="grid_worker", scope=grid.code)  # patrols, does not decide
    resident = user_factory(role="resident")
    for actor in (elsewhere, worker, resident):
        with pytest.raises(ColourError) as err:
            colours.override(house, "red", reason="x", expires_at=expires, actor=actor)
        assert err.value.code == "forbidden"
    state = colours.override(house, "red", reason="现场发现隐患", expires_at=expires, actor=leader)
    assert state.override.created_by == leader
    change = ColourChange.objects.filter(cause="override").get()
    assert change.actor == leader


# --- bulk ----------------------------------------------------------------------------------------


def _varied_houses(grid, n: int = 40) -> list[House]:
    houses = []
    for i in range(n):
        fields = {}
        if i % 3 == 0:
            fields.update(rented_fields())
        if i % 5 == 0:
            fields.update(rented_fields(occupants=7, rooms=2, living_area=Decimal("30")))
        if i % 7 == 0:
            fields["flags"] = ["三合一场所"]
        if i % 11 == 0:
            fields["flags"] = ["违法建筑"]
        houses.append(make_house(grid, **fields))
    return houses


def test_recompute_many_agrees_with_recompute(grid, rules, catalogue):
    houses = _varied_houses(grid)
    report_on(houses[1])
    report_on(houses[2])
    report_on(houses[2])
    t = timezone.now()
    colours.override(houses[4], "red", reason="专项整治", expires_at=t + timedelta(days=2), at=t)
    colours.record_patrol(houses[8], at=t - timedelta(days=1), findings=["楼道堆物"])
    ColourState.objects.exclude(object_id__in=[houses[4].pk, houses[8].pk]).delete()
    ColourChange.objects.all().delete()

    result = colours.recompute_many(House.objects.filter(grid=grid), at=t)
    assert result["evaluated"] == len(houses)
    assert result["created"] == len(houses) - 2
    bulk = {s.object_id: (s.colour, s.rule_colour, s.reasons, s.interval_days, s.patrol_due_at)
            for s in ColourState.objects.all()}  # fmt: skip
    assert sum(1 for v in bulk.values() if v[0] == "red") >= 5
    # The same objects one by one give the same states.
    ColourState.objects.exclude(object_id__in=[houses[4].pk, houses[8].pk]).delete()
    for house in houses:
        colours.recompute(house, at=t)
    single = {s.object_id: (s.colour, s.rule_colour, s.reasons, s.interval_days, s.patrol_due_at)
              for s in ColourState.objects.all()}  # fmt: skip
    assert bulk == single


def test_recompute_many_writes_only_what_changed(grid, rules, django_assert_max_num_queries):
    houses = _varied_houses(grid, 30)
    t = timezone.now()
    first = colours.recompute_many(House.objects.all(), at=t)
    assert first["created"] == 30 and first["changed"] == 0
    assert ColourChange.objects.count() == 30
    again = colours.recompute_many(House.objects.all(), at=t)
    assert (again["created"], again["updated"], again["changed"]) == (0, 0, 0)
    House.objects.filter(pk=houses[1].pk).update(flags=["三合一场所"])
    with django_assert_max_num_queries(12):
        third = colours.recompute_many(House.objects.all(), at=t, batch_size=1000)
    assert (third["updated"], third["changed"]) == (1, 1)
    assert state_of(houses[1]).colour == "red"
    assert ColourChange.objects.count() == 31


def test_recompute_many_in_small_chunks_with_progress(grid, rules):
    _varied_houses(grid, 25)
    seen = []
    result = colours.recompute_many(House.objects.all(), batch_size=10, progress=seen.append)
    assert seen == [10, 10, 5] and result["evaluated"] == 25
    assert sum(result["colours"].values()) == 25


def test_colour_distribution_by_subtree_and_kind(grid, rules):
    from tests.grids.test_geo_fixtures import TOWN
    from towngrid.codes.queries import colour_distribution
    from towngrid.grids.models import GridNode

    park = GridNode.objects.get(code=TOWN + "201001")
    colours.recompute_many(
        [
            make_house(grid, flags=["三合一场所"]),
            make_house(grid, **rented_fields()),
            make_house(grid),
            make_house(park),
            make_enterprise(grid, is_key=True),
        ]
    )
    assert colour_distribution(grid.code) == {"green": 1, "yellow": 2, "red": 1}
    assert colour_distribution(TOWN, "house") == {"green": 2, "yellow": 1, "red": 1}
    assert colour_distribution(TOWN, "registry.enterprise") == {"green": 0, "yellow": 1, "red": 0}
    assert colour_distribution("999") == {"green": 0, "yellow": 0, "red": 0}


def test_a_kind_without_rules_has_no_colour_and_patrols_still_work(grid, rules):
    from towngrid.registry.models import LandParcel

    parcel = LandParcel.objects.create(grid=grid, grid_code=grid.code, name="901 单元 15-04 地块")
    assert colours.current(parcel) is None
    assert colours.record_patrol(parcel, findings=["围挡破损"]) is None
    assert not ColourState.objects.exists()
