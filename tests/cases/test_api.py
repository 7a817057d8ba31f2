# ruff: noqa: F811 - the shared fixtures are imported from test_workflow
"""The cases API: one case through every step with the demo logins of each post, refusals as
structured errors, filters, queue, categories, notifications, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.test import Client

from towngrid.cases.models import Case, Status

from .test_workflow import catalogue, png, point, town, users  # noqa: F401 - fixtures

JSON = "application/json"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(user, url: str, data: dict | None = None, multipart: bool = False):
    client = client_for(user)
    if multipart:
        return client.post(url, data or {})
    return client.post(url, data or {}, content_type=JSON)


def act(user, number: str, action: str, **data):
    return post(user, f"/api/v1/cases/{number}/{action}/", data)


def report(user, point, **extra):
    body = {
        "category": "E0102",
        "description": "小区门口垃圾桶满溢",
        "lng": point[0],
        "lat": point[1],
        "address": "北蔡镇测试路 8 号",
        **extra,
    }
    return post(user, "/api/v1/cases/", body)


def test_one_case_through_every_step_by_api(users, point):
    u = users
    response = report(u["resident"], point)
    assert response.status_code == 201, response.content
    body = response.json()
    number = body["number"]
    assert body["status"] == "reported" and body["source"] == "resident"
    assert body["possible_duplicates"] == []
    assert [p["level"] for p in body["path"]][:4] == [1, 2, 3, 4]

    def ok(user, action, **data):
        r = act(user, number, action, **data)
        assert r.status_code == 200, (action, r.status_code, r.content.decode())
        return r.json()

    assert ok(u["ops_registrar"], "accept")["status"] == "verifying"
    assert ok(u["grid_worker"], "verify", valid=True)["status"] == "verified"
    assert ok(u["ops_shift_lead"], "open")["status"] == "opened"
    data = ok(u["ops_dispatcher"], "dispatch", department="city-operations")
    assert data["status"] == "dispatched" and data["department"] == "city-operations"
    assert data["time_left"]["deadline"] and data["time_left"]["overdue"] in (True, False)
    ok(u["dept_handler"], "handle", note="已派保洁员")
    r = client_for(u["dept_handler"]).post(
        f"/api/v1/cases/{number}/feedback/", {"note": "已清运", "photos": [png()]}
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "handled"
    assert ok(u["grid_worker"], "recheck", passed=True)["status"] == "rechecked"
    data = ok(u["ops_shift_lead"], "close")
    assert data["status"] == "closed" and data["closed_at"]

    detail = client_for(u["ops_shift_lead"]).get(f"/api/v1/cases/{number}/").json()
    actions = [i["action"] for i in detail["timeline"] if i["type"] == "event"]
    assert actions == [
        "report",
        "accept",
        "verify",
        "open",
        "dispatch",
        "handle",
        "feedback",
        "recheck",
        "close",
    ]
    feedback = next(i for i in detail["timeline"] if i["action"] == "feedback")
    assert feedback["attachments"] and feedback["attachments"][0]["kind"] == "after"
    assert {a["action"] for a in detail["available_actions"]} == {"reopen"}


def test_refusals_are_structured(users, point):
    u = users
    number = report(u["resident"], point).json()["number"]
    r = act(u["ops_shift_lead"], number, "close")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "transition_not_allowed"
    r = act(u["dept_handler"], number, "accept")
    assert r.status_code == 404  # not the department's: invisible, like a missing case
    r = act(u["ops_dispatcher"], number, "accept")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = act(u["ops_shift_lead"], number, "reject")
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    r = act(u["ops_registrar"], number, "accept", expected_version=7)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = act(u["ops_registrar"], number, "accept", expected_version=0)
    assert r.status_code == 200 and r.json()["version"] == 1


def test_report_refusals(users, point):
    r = report(users["resident"], (116.39, 39.9))
    assert r.status_code == 400 and r.json()["error"]["code"] == "outside_town"
    r = report(users["resident"], point, description="")
    assert r.status_code == 400
    r = report(users["resident"], point, source="hotline")
    assert r.status_code == 403  # a resident cannot claim to be the 12345 hotline
    r = report(users["ops_registrar"], point, source="hotline")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    r = report(users["ops_registrar"], point, source="hotline", source_ref="GD2023030100012")
    assert r.status_code == 201 and r.json()["source_ref"] == "GD2023030100012"


def test_report_offers_duplicates(users, point):
    first = report(users["resident"], point).json()["number"]
    r = report(users["ops_registrar"], (point[0] + 0.0002, point[1]), source="operations")
    assert r.status_code == 201
    dups = r.json()["possible_duplicates"]
    assert [d["number"] for d in dups] == [first] and dups[0]["distance_m"] < 50
    second = r.json()["number"]
    listed = client_for(users["ops_registrar"]).get(f"/api/v1/cases/{second}/duplicates/").json()
    assert [d["number"] for d in listed] == [first]
    r = act(users["ops_registrar"], second, "merge", into=first)
    assert r.status_code == 200 and r.json()["status"] == "merged"
    assert r.json()["duplicate_of"] == first


def test_extension_and_park_by_api(users, point):
    u = users
    number = report(u["resident"], point).json()["number"]
    act(u["ops_registrar"], number, "accept")
    act(u["grid_worker"], number, "verify", valid=True)
    act(u["ops_shift_lead"], number, "open")
    act(u["ops_dispatcher"], number, "dispatch")
    r = act(u["dept_handler"], number, "request_extension", reason="需协调", unit="work_days")
    assert r.status_code == 400  # no amount
    r = act(
        u["dept_handler"], number, "request_extension", amount=1, unit="work_days", reason="需协调"
    )
    assert r.status_code == 200 and r.json()["pending_request"] == "extension"
    queue = client_for(u["ops_shift_lead"]).get("/api/v1/cases/queue/").json()
    assert number in [c["number"] for c in queue["results"]]
    r = act(u["ops_shift_lead"], number, "approve_extension")
    assert r.status_code == 200 and r.json()["pending_request"] == ""
    act(u["dept_handler"], number, "request_park", reason="需区级立项")
    r = act(u["ops_shift_lead"], number, "approve_park")
    assert r.json()["status"] == "parked"
    r = act(u["ops_shift_lead"], number, "reopen", reason="已立项")
    assert r.json()["status"] == "opened"


def test_list_filters(users, point):
    u = users
    a = report(u["resident"], point, description="占道堆物影响通行").json()["number"]
    b = report(u["resident"], point).json()["number"]
    act(u["ops_registrar"], b, "accept")
    client = client_for(u["ops_shift_lead"])

    def numbers(**params):
        r = client.get("/api/v1/cases/", params)
        assert r.status_code == 200, r.content
        return {c["number"] for c in r.json()["results"]}

    assert {a, b} <= numbers()
    assert numbers(status="reported") >= {a} and b not in numbers(status="reported")
    assert numbers(q="占道堆物") == {a}
    assert numbers(q=b) == {b}
    assert {a, b} <= numbers(category="E0102", major="E01", grid=u["grid_worker"].scope.code)
    assert numbers(source="hotline") == set()
    assert {a, b} <= numbers(**{"from": "2000-01-01"})
    assert numbers(to="2000-01-01") == set()
    assert b not in numbers(overdue="true")
    r = client.get("/api/v1/cases/", {"status": "nonsense"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    # The grid worker sees it (their micro-grid); a department does not until it is dispatched.
    assert a in {
        c["number"] for c in client_for(u["grid_worker"]).get("/api/v1/cases/").json()["results"]
    }
    assert client_for(u["dept_handler"]).get(f"/api/v1/cases/{a}/").status_code == 404


def test_categories_search_and_detail(users):
    client = client_for(users["resident"])
    r = client.get("/api/v1/categories/", {"q": "bllj"})
    assert r.status_code == 200
    assert "E0102" in [c["full_code"] for c in r.json()]
    r = client.get("/api/v1/categories/", {"q": "暴露垃圾"})
    assert r.json()[0]["full_code"] == "E0102"
    detail = client.get("/api/v1/categories/E0102/").json()
    handle = next(x for x in detail["time_limits"] if x["step"] == "handle")
    assert handle["unit"] == "work_hours" and float(handle["amount"]) == 4.0


def test_notifications_api(users, point):
    u = users
    number = report(u["resident"], point).json()["number"]
    act(u["ops_registrar"], number, "accept")
    client = client_for(u["resident"])
    assert client.get("/api/v1/notifications/unread_count/").json()["unread"] == 1
    listed = client.get("/api/v1/notifications/").json()
    assert listed["unread"] == 1 and number in listed["results"][0]["title"]
    r = client.post("/api/v1/notifications/mark_read/", {"all": True}, content_type=JSON)
    assert r.json() == {"marked": 1, "unread": 0}
    assert client_for(u["ops_registrar"]).get("/api/v1/notifications/").json()["unread"] == 0


@pytest.mark.django_db
def test_schema_builds_without_warnings():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    paths = schema["paths"]
    assert "/api/v1/cases/{number}/dispatch/" in paths
    assert "/api/v1/cases/queue/" in paths
    assert "/api/v1/notifications/mark_read/" in paths
    assert Case.objects.filter(status=Status.CLOSED).count() == 0
