# ruff: noqa: F811  (fixtures imported from test_colour_support are used as parameters)
"""The colour API and pages: an object's colour with history, override and clear with
structured Chinese errors, scope (outside: 404), the colour lists with filters (the enterprise
colour list), rule sets read and written by colours.configure, and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from towngrid.codes import colours
from towngrid.codes.colour_models import ColourOverride, ColourRuleSet, ColourState
from towngrid.core.models import AuditEvent

from .test_colour_support import (  # noqa: F401
    OTHER_MICRO,
    grid,
    make_enterprise,
    make_house,
    rented_fields,
    rules,
)


@pytest.fixture
def people(grid, user_factory):
    return {
        "leader": user_factory(role="grid_leader", scope=grid.code),
        "worker": user_factory(role="grid_worker", scope=grid.code),
        "far": user_factory(role="grid_leader", scope=OTHER_MICRO),
        "sysadmin": user_factory(role="sysadmin"),
        "town": user_factory(role="town_leader"),
        "resident": user_factory(role="resident"),
    }


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def url(obj, kind="house") -> str:
    return f"/api/v1/codes/objects/{kind}/{obj.pk}/colour/"


def test_get_the_colour_of_an_object_with_history(grid, rules, people):
    house = make_house(grid, **rented_fields())
    r = client_for(people["worker"]).get(url(house))
    assert r.status_code == 200
    data = r.json()
    assert data["colour"] == "yellow" and data["interval_days"] == 14
    assert data["reasons"][0]["text"].startswith("出租房屋")
    assert data["history"][0]["to"] == "yellow" and data["history"][0]["from"] is None
    # Outside the caller's scope it does not exist.
    assert client_for(people["far"]).get(url(house)).status_code == 404
    assert client_for(people["resident"]).get(url(house)).status_code == 404
    assert (
        client_for(people["worker"]).get("/api/v1/codes/objects/ship/1/colour/").status_code == 404
    )


def test_override_and_clear_through_the_api(grid, rules, people):
    house = make_house(grid)
    leader = client_for(people["leader"])
    expires = (timezone.localdate() + timedelta(days=10)).isoformat()
    r = leader.post(
        url(house),
        {"colour": "red", "reason": "群众多次投诉", "expires_at": expires},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    data = r.json()
    assert (data["colour"], data["rule_colour"], data["interval_days"]) == ("red", "green", 7)
    assert data["override"]["reason"] == "群众多次投诉"
    assert data["override"]["expires_at"].startswith(expires + "T23:59:59")
    r = leader.delete(url(house) + "?reason=已核实")
    assert r.status_code == 200 and r.json()["colour"] == "green"
    assert AuditEvent.objects.filter(action="colours.clear_override").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"colour": "blue", "reason": "x", "expires_at": "2099-01-01"}, 400, "invalid"),
        ({"colour": "red", "reason": "", "expires_at": "2099-01-01"}, 400, "reason_required"),
        ({"colour": "red", "reason": "x", "expires_at": "明天"}, 400, "invalid"),
        ({"colour": "red", "reason": "x"}, 400, "invalid"),
        ({"colour": "red", "reason": "x", "expires_at": "2000-01-01"}, 400, "invalid"),
    ],
)
def test_bad_overrides_get_structured_chinese_errors(grid, rules, people, body, status, code):
    house = make_house(grid)
    r = client_for(people["leader"]).post(url(house), body, content_type="application/json")
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert not ColourOverride.objects.exists()


def test_override_needs_the_capability(grid, rules, people):
    house = make_house(grid)
    body = {"colour": "red", "reason": "x", "expires_at": "2099-01-01"}
    r = client_for(people["worker"]).post(url(house), body, content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = client_for(people["leader"]).delete(url(house) + "?reason=x")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_state_and_change_lists_are_scoped_and_filtered(grid, rules, people):
    from towngrid.grids.models import GridNode

    far_grid = GridNode.objects.get(code=OTHER_MICRO)
    red = make_house(grid, flags=["三合一场所"])
    green = make_house(grid)
    far = make_house(far_grid)
    key = make_enterprise(grid, is_key=True)
    plain = make_enterprise(grid)
    colours.recompute_many([red, green, far, key, plain])

    r = client_for(people["leader"]).get("/api/v1/codes/colours/?kind=house")
    rows = r.json()["results"]
    assert [row["object_id"] for row in rows] == [red.pk, green.pk]  # worst first, in scope
    r = client_for(people["town"]).get("/api/v1/codes/colours/?kind=house&colour=green")
    assert {row["object_id"] for row in r.json()["results"]} == {green.pk, far.pk}
    r = client_for(people["town"]).get("/api/v1/codes/colours/?kind=enterprise&key=1")
    assert [row["object_id"] for row in r.json()["results"]] == [key.pk]
    state = ColourState.objects.get(object_id=red.pk, colour_kind="house")
    detail = client_for(people["leader"]).get(f"/api/v1/codes/colours/{state.pk}/").json()
    assert detail["history"][0]["to"] == "red"
    far_state = ColourState.objects.get(object_id=far.pk, colour_kind="house")
    assert (
        client_for(people["leader"]).get(f"/api/v1/codes/colours/{far_state.pk}/").status_code
        == 404
    )
    changes = client_for(people["leader"]).get(
        f"/api/v1/codes/colour-changes/?kind=house&object_id={red.pk}"
    )
    assert [c["to"] for c in changes.json()["results"]] == ["red"]


def test_rule_sets_read_and_written_by_configurers(grid, rules, people):
    admin = client_for(people["sysadmin"])
    listed = admin.get("/api/v1/codes/colour-rule-sets/").json()
    house_set = next(s for s in listed if s["colour_kind"] == "house")
    assert house_set["red_interval_days"] == 7 and house_set["rules"]
    # A grid worker reads (registry.view) but may not write.
    worker = client_for(people["worker"])
    assert worker.get("/api/v1/codes/colour-rule-sets/").status_code == 200
    r = worker.patch(
        f"/api/v1/codes/colour-rule-sets/{house_set['id']}/",
        {"red_interval_days": 3},
        content_type="application/json",
    )
    assert r.status_code == 403
    assert client_for(people["resident"]).get("/api/v1/codes/colour-rule-sets/").status_code == 403

    house = make_house(grid, flags=["三合一场所"])
    colours.recompute(house)
    r = admin.patch(
        f"/api/v1/codes/colour-rule-sets/{house_set['id']}/",
        {"red_interval_days": 3, "recompute": True},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["red_interval_days"] == 3 and r.json()["job"]
    assert colours.current(house).interval_days == 3  # the job ran (inline in tests)

    bad_rules = [{"colour": "red", "name": "坏", "condition": {"oops": 1}, "reason": "x"}]
    r = admin.patch(
        f"/api/v1/codes/colour-rule-sets/{house_set['id']}/",
        {"rules": bad_rules},
        content_type="application/json",
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid" and "第 1 条规则" in err["message"]
    assert ColourRuleSet.objects.get(pk=house_set["id"]).rules.count() == len(house_set["rules"])

    r = admin.post(
        "/api/v1/codes/colour-rule-sets/",
        {"colour_kind": "house", "name": "第二套", "rules": house_set["rules"]},
        content_type="application/json",
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = admin.post(
        "/api/v1/codes/colour-rule-sets/",
        {"colour_kind": "house", "name": "备用", "active": False, "rules": house_set["rules"]},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["active"] is False


# --- pages ---------------------------------------------------------------------------------------


def test_enterprise_colour_list_page(grid, rules, people):
    key_red = make_enterprise(grid, is_key=True, name="北蔡化工")
    key_yellow = make_enterprise(grid, is_key=True, name="北蔡机械")
    plain = make_enterprise(grid, name="北蔡便利店")
    colours.recompute_many([key_red, key_yellow, plain])
    colours.record_patrol(key_red, findings=["危化品存放不规范"])
    page = client_for(people["leader"]).get("/codes/colours/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "重点企业颜色清单" in html
    assert html.index("北蔡化工") < html.index("北蔡机械")  # red before yellow
    assert "北蔡便利店" not in html  # not a key enterprise
    assert "危化品存放不规范" in html
    every = client_for(people["leader"]).get("/codes/colours/?kind=enterprise").content.decode()
    assert "北蔡便利店" in every
    assert "北蔡化工" not in client_for(people["far"]).get("/codes/colours/").content.decode()
    assert client_for(people["resident"]).get("/codes/colours/").status_code == 403


def test_history_page_and_htmx_override(grid, rules, people):
    house = make_house(grid)
    soon = (timezone.localdate() + timedelta(days=30)).isoformat()
    leader = client_for(people["leader"])
    page = leader.get(f"/codes/colours/house/{house.pk}/")
    assert page.status_code == 200
    assert 'data-testid="colour-override-form"' in page.content.decode()
    worker_page = client_for(people["worker"]).get(f"/codes/colours/house/{house.pk}/")
    assert 'data-testid="colour-override-form"' not in worker_page.content.decode()
    assert client_for(people["far"]).get(f"/codes/colours/house/{house.pk}/").status_code == 404

    r = leader.post(
        f"/codes/colours/house/{house.pk}/override/",
        {"colour": "red", "reason": "", "expires_at": "2099-01-01"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 400 and "人工调整必须填写原因" in r.content.decode()
    r = leader.post(
        f"/codes/colours/house/{house.pk}/override/",
        {"colour": "red", "reason": "消防隐患", "expires_at": soon},
        HTTP_HX_REQUEST="true",
    )
    html = r.content.decode()
    assert r.status_code == 200 and 'data-colour="red"' in html and "消防隐患" in html
    r = leader.post(f"/codes/colours/house/{house.pk}/clear/", {"reason": "已整改"})
    assert r.status_code == 302
    history = leader.get(f"/codes/colours/house/{house.pk}/").content.decode()
    assert history.count('data-testid="colour-change"') == 3
    assert "撤销人工调整" in history


def test_rules_page(grid, rules, people):
    html = client_for(people["sysadmin"]).get("/codes/colours/rules/").content.decode()
    assert "实有房屋三色管理" in html and "重点企业颜色清单" in html and "群租" in html


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_recompute_and_expire(grid, rules):
    from towngrid.registry.models import House

    house = make_house(grid, flags=["三合一场所"])
    make_house(grid)
    out = StringIO()
    call_command("colours", "recompute", "--kind", "house", "--json", stdout=out)
    result = json.loads(out.getvalue())["house"]
    assert result["evaluated"] == House.objects.count() and result["colours"]["red"] == 1
    t = timezone.now()
    colours.override(house, "green", reason="临时", expires_at=t + timedelta(minutes=1), at=t)
    ColourOverride.objects.update(expires_at=t - timedelta(seconds=1))
    ColourState.objects.filter(object_id=house.pk).update(review_at=t - timedelta(seconds=1))
    out = StringIO()
    call_command("colours", "expire-overrides", stdout=out)
    assert "颜色变化 1 个" in out.getvalue()
    assert colours.current(house).colour == "red"
    with pytest.raises(Exception, match="未知的对象类型"):
        call_command("colours", "recompute", "--kind", "ship", stdout=StringIO())


def test_the_live_colour_is_shown_on_scan_and_a_check_in_feeds_it(grid, rules, people):
    from towngrid.codes import actions as code_actions

    house = make_house(grid, **rented_fields(occupants=6, rooms=1, living_area="20"))
    code = code_actions.issue(house)
    page = client_for(people["leader"]).get(f"/c/{code.token}/").content.decode()
    assert 'data-testid="colour-panel"' in page and 'data-colour="red"' in page
    assert "群租：人均居住面积 3.33 m²，低于 5 m²" in page
    assert 'data-testid="colour-override-form"' in page  # a grid leader may override
    # A patrol check-in at the door records the patrol and its findings in the colour.
    code_actions.check_in(
        house,
        actor=people["worker"],
        lng=house.lng,
        lat=house.lat,
        findings=["楼道堆物"],
    )
    state = colours.current(house)
    assert state.last_patrol_at is not None
    assert state.findings[-1]["text"] == "楼道堆物"
    assert state.patrol_due_at == state.last_patrol_at + timedelta(days=7)


def test_admin_rule_sets_with_validated_conditions(grid, rules, user_factory):
    from towngrid.codes.colour_admin import ColourRuleForm

    admin = user_factory(is_superuser=True, is_staff=True)
    c = client_for(admin)
    rule_set = ColourRuleSet.objects.get(colour_kind="house", active=True)
    assert c.get("/admin/codes/colourruleset/").status_code == 200
    page = c.get(f"/admin/codes/colourruleset/{rule_set.pk}/change/")
    assert page.status_code == 200 and "群租" in page.content.decode()
    assert c.get("/admin/codes/colourstate/").status_code == 200
    bad = ColourRuleForm(
        data={"order": 1, "colour": "red", "name": "x", "condition": '{"flag": ""}', "reason": "x"}
    )
    assert not bad.is_valid() and "标记名称" in str(bad.errors["condition"])
    good = ColourRuleForm(
        data={
            "order": 1,
            "colour": "red",
            "name": "x",
            "condition": '{"flag": "违法建筑"}',
            "reason": "x",
            "active": True,
        }
    )
    assert good.is_valid(), good.errors
