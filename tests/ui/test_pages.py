"""The pages render for logged-in users, respect grid scope and switch language.

They run against the Beicai demo town that tests/conftest.py builds into the test database."""

import json
import re

import pytest
from django.urls import reverse

from towngrid.core.audit import record
from towngrid.grids.models import GridNode, Level

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "towngrid-demo"


def embedded(text: str, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', text, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("url", ["/grids/", "/grids/310115125/", "/accounts/profile/"])
def test_anonymous_pages_redirect_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_login_page_is_chinese_and_logs_in(client, demo_town):
    page = client.get(reverse("accounts:login"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "登录" in text and "用户名" in text and "密码" in text
    assert 'lang="zh-CN"' in text
    response = client.post(
        reverse("accounts:login"), {"username": "leader", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get("/").status_code == 200


def test_login_error_is_chinese(client, demo_town):
    response = client.post(reverse("accounts:login"), {"username": "leader", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_lockout_message(client, user_factory, settings):
    user_factory(role="town_leader", username="lockme", password="right-password-123")
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": "lockme", "password": "wrong"})
    response = client.post(
        reverse("accounts:login"), {"username": "lockme", "password": "right-password-123"}
    )
    assert "账户已锁定" in response.content.decode()


def test_demo_hint_only_in_debug_and_not_production(client, demo_town, settings):
    settings.DEBUG = True
    settings.PRODUCTION = False
    text = client.get(reverse("accounts:login")).content.decode()
    assert 'data-testid="demo-logins"' in text and DEMO_PASSWORD in text
    assert "gridworker" in text and "leader" in text
    settings.DEBUG = False
    assert 'data-testid="demo-logins"' not in client.get(reverse("accounts:login")).content.decode()
    settings.DEBUG = True
    settings.PRODUCTION = True
    assert 'data-testid="demo-logins"' not in client.get(reverse("accounts:login")).content.decode()


def test_home_for_town_leader(login_as, demo_town):
    client = login_as("town_leader")
    response = client.get("/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "北蔡镇" in text and "镇领导" in text
    levels = {row["level"]: row["count"] for row in response.context["levels"]}
    assert levels[Level.AREA] > 0 and levels[Level.MICRO] == 317
    assert Level.TOWN not in levels  # only the levels below the scope
    assert [p["count"] for p in response.context["post_counts"]] == [323, 315, 316]


def test_home_for_grid_worker_shows_own_grid(login_as, demo_town):
    client = login_as("grid_worker")
    response = client.get("/")
    micro = demo_town.micro_grid
    assert response.context["root"] == micro
    assert micro.name in response.content.decode()
    assert [d.grid for d in response.context["my_grids"]] == [micro]
    levels = {row["level"]: row["count"] for row in response.context["levels"]}
    assert Level.MICRO not in levels and Level.AREA not in levels


def test_home_without_scope(login_as):
    client = login_as("resident")
    response = client.get("/")
    assert response.status_code == 200
    assert "没有网格数据范围" in response.content.decode()


def test_grid_map_for_town_leader(login_as, demo_town):
    client = login_as("town_leader")
    response = client.get(reverse("grids:map"))
    assert response.status_code == 200
    text = response.content.decode()
    expected_nodes = GridNode.objects.filter(level__lte=Level.MICRO).count()
    assert text.count('class="tree-node ') == expected_nodes  # no building groups
    features = embedded(text, "grid-geojson")["features"]
    assert sum(f["properties"]["level"] == Level.MICRO for f in features) == 317
    assert {f["properties"]["code"] for f in features if f["properties"]["level"] == 1} == {
        "310115125"
    }
    assert all(
        set(f["properties"]) == {"code", "name", "level", "kind", "parent_code"} for f in features
    )
    assert 'data-testid="grid-map"' in text
    assert "vendor/leaflet/leaflet.js" in text
    assert "//unpkg" not in text and "cdn" not in text.lower()


def test_grid_map_for_grid_worker_is_scoped(login_as, demo_town):
    client = login_as("grid_worker")
    text = client.get(reverse("grids:map")).content.decode()
    micro = demo_town.micro_grid
    assert micro.name in text
    assert text.count('class="tree-node ') == 1
    features = embedded(text, "grid-geojson")["features"]
    assert [f["properties"]["code"] for f in features] == [micro.code]


def test_grid_map_for_community_staff(login_as, demo_town):
    client = login_as("community_staff")
    text = client.get(reverse("grids:map")).content.decode()
    codes = {f["properties"]["code"] for f in embedded(text, "grid-geojson")["features"]}
    assert codes and all(c.startswith(demo_town.community.code) for c in codes)
    assert demo_town.community.code in codes


def test_grid_page_micro_shows_staff(login_as, demo_town):
    client = login_as("town_leader")
    micro = demo_town.micro_grid
    response = client.get(reverse("grids:detail", args=[micro.code]))
    assert response.status_code == 200
    text = response.content.decode()
    assert micro.name in text
    duties = response.context["duties"]
    assert {d.post for d in duties} == {"leader", "full_time", "part_time"}
    for d in duties:
        assert d.staff.name in text
        if d.staff.work_phone:
            assert d.staff.work_phone in text
    assert [d.post for d in duties][0] == "leader"  # leader first
    crumbs = [b["node"] for b in response.context["breadcrumb"]]
    assert [c.level for c in crumbs] == [1, 2, 3]
    assert crumbs[2] == micro.parent
    groups = micro.children.all()
    assert groups and all(g.name in text for g in groups)
    assert embedded(text, "node-geojson")["features"][0]["properties"]["code"] == micro.code


def test_grid_page_town_counts(login_as, demo_town):
    client = login_as("town_leader")
    response = client.get(reverse("grids:detail", args=[demo_town.town.code]))
    assert response.status_code == 200
    assert [p["count"] for p in response.context["post_counts"]] == [323, 315, 316]
    children = response.context["children"]
    assert sum(c["micro_count"] for c in children) == 317
    assert all(c["node"].level == Level.AREA for c in children)
    text = response.content.decode()
    assert all(c["node"].name in text for c in children)


def test_grid_page_group_shows_its_micro_grid_staff(login_as, demo_town):
    client = login_as("grid_worker")
    group = demo_town.micro_grid.children.first()
    response = client.get(reverse("grids:detail", args=[group.code]))
    assert response.status_code == 200
    assert response.context["duties_from_parent"]
    assert response.context["duties"]


def test_grid_page_outside_scope_is_404_for_grid_worker(login_as, demo_town):
    client = login_as("grid_worker")
    micro = demo_town.micro_grid
    assert client.get(reverse("grids:detail", args=[micro.code])).status_code == 200
    sibling = GridNode.objects.filter(parent=micro.parent).exclude(pk=micro.pk).first()
    other_area_micro = (
        GridNode.objects.filter(level=Level.MICRO)
        .exclude(code__startswith=demo_town.area.code)
        .first()
    )
    for other in [sibling, other_area_micro, micro.parent, demo_town.area, demo_town.town]:
        assert client.get(reverse("grids:detail", args=[other.code])).status_code == 404, other
    assert client.get(reverse("grids:detail", args=["999999999"])).status_code == 404


def test_grid_page_breadcrumb_does_not_link_outside_scope(login_as, demo_town):
    client = login_as("grid_worker")
    micro = demo_town.micro_grid
    response = client.get(reverse("grids:detail", args=[micro.code]))
    assert [b["linked"] for b in response.context["breadcrumb"]] == [False, False, False]
    assert reverse("grids:detail", args=[micro.parent.code]) not in response.content.decode()


def test_audit_events_only_for_auditors_and_town_scope(login_as, demo_town):
    micro = demo_town.micro_grid
    record(demo_town.user("town_leader"), "grids.node_updated", micro, reason="边界调整")
    url = reverse("grids:detail", args=[micro.code])
    for role in ["town_leader", "sysadmin", "audit_admin"]:
        response = login_as(role).get(url)
        if response.status_code == 404:  # a role without grid scope does not reach the page
            assert role == "audit_admin"
            continue
        text = response.content.decode()
        assert "grids.node_updated" in text and "边界调整" in text
    text = login_as("grid_worker").get(url).content.decode()
    assert "grids.node_updated" not in text
    assert 'data-testid="grid-audit"' not in text


def test_profile_page_and_tokens(login_as, demo_town):
    client = login_as("grid_worker")
    user = client.user
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "网格员" in text and demo_town.micro_grid.name in text
    response = client.post(
        reverse("accounts:profile"), {"action": "create", "name": "手机", "days": "30"}
    )
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    token = user.api_tokens.get(revoked=False)
    api = client.__class__()
    assert api.get("/api/v1/grids/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    response = client.post(reverse("accounts:profile"), {"action": "revoke", "token": token.pk})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked


def test_profile_cannot_revoke_someone_elses_token(login_as, demo_town):
    from towngrid.accounts import actions

    other = demo_town.user("town_leader")
    token, _key = actions.issue_token(other, name="x")
    client = login_as("grid_worker")
    response = client.post(reverse("accounts:profile"), {"action": "revoke", "token": token.pk})
    assert response.status_code == 404
    token.refresh_from_db()
    assert not token.revoked


def test_logout_is_post_only(login_as):
    client = login_as("town_leader")
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_language_switch_to_english_and_back(login_as, demo_town):
    client = login_as("town_leader")
    text = client.get("/").content.decode()
    assert "网格地图" in text and 'lang="zh-CN"' in text
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/grids/"})
    assert response.status_code == 302 and response["Location"] == "/grids/"
    text = client.get("/").content.decode()
    assert 'lang="en"' in text
    assert "Grid map" in text and "网格地图" not in text
    assert "Micro-grid" in text and "Grid leader" in text
    detail = client.get(reverse("grids:detail", args=[demo_town.micro_grid.code])).content.decode()
    assert "Staff on duty" in detail and "Full-time grid worker" in detail
    assert "在岗人员" not in detail
    grid_map = client.get(reverse("grids:map")).content.decode()
    assert "317 micro-grids" in grid_map and "Search by name or code" in grid_map
    assert 'data-match-template="%s matching grids"' in grid_map
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "网格地图" in client.get("/").content.decode()


def test_login_page_in_english(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    text = client.get(reverse("accounts:login")).content.decode()
    assert "Log in" in text and "Username" in text and "Password" in text
    response = client.post(reverse("accounts:login"), {"username": "nobody", "password": "wrong"})
    assert "Incorrect username or password." in response.content.decode()
