"""The codes API: scan (public/full card, structured refusals), check-in, report and update from
a scan, codes (issue, revoke, reissue), check-ins, plates job."""

from __future__ import annotations

import pytest
from django.test import Client

from towngrid.codes import actions
from towngrid.codes.models import CheckIn, ObjectCode

from .support import *  # noqa: F403
from .support import GROUP, IN_MICRO_ONLY, OWNER_PHONE, make_house, offset


@pytest.fixture
def house(town):
    return make_house()


@pytest.fixture
def code(house):
    return actions.issue(house)


def test_scan_public_and_full(client, code, house, worker, other_worker):
    data = client.get(f"/api/v1/codes/scan/{code.token}/").json()
    assert data["view"] == "public" and data["address"] == house.full_address
    assert data["contacts"][0]["phone"] == "021-58930001"
    assert "colour" not in data and "赵秘密" not in str(data) and OWNER_PHONE not in str(data)
    client.force_login(worker)
    data = client.get(f"/api/v1/codes/scan/{code.token}/").json()
    assert data["view"] == "full" and data["colour"] == "green" and data["object_id"] == house.pk
    other = Client()
    other.force_login(other_worker)
    assert other.get(f"/api/v1/codes/scan/{code.token}/").json()["view"] == "public"


def test_scan_refusals_are_structured(client, code, manager):
    bad = code.token[:-1] + ("A" if code.token[-1] != "A" else "B")
    response = client.get(f"/api/v1/codes/scan/{bad}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert "未找到" in response.json()["error"]["message"]
    actions.revoke(code, actor=manager, reason="遗失")
    response = client.get(f"/api/v1/codes/scan/{code.token}/")
    assert response.status_code == 410 and response.json()["error"]["code"] == "revoked"


def test_check_in_through_the_api(client, code, worker, other_worker):
    lng, lat = offset(IN_MICRO_ONLY, 180)
    assert client.post(f"/api/v1/codes/scan/{code.token}/checkin/", {}).status_code in (401, 403)
    other = Client()
    other.force_login(other_worker)
    response = other.post(
        f"/api/v1/codes/scan/{code.token}/checkin/", {"lng": lng, "lat": lat}, "application/json"
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    client.force_login(worker)
    response = client.post(
        f"/api/v1/codes/scan/{code.token}/checkin/",
        {"lng": lng, "lat": lat, "findings": ["消防隐患"]},
        "application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["flagged_far"] is True and 179 < body["distance_m"] < 181
    bad = client.post(f"/api/v1/codes/scan/{code.token}/checkin/", {"lng": "x"}, "application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert CheckIn.objects.count() == 1
    listed = client.get("/api/v1/codes/checkins/?flagged=1").json()
    assert [c["id"] for c in listed["results"]] == [body["id"]]


def test_report_through_the_api(client, code, house, worker):
    from towngrid.cases.models import Case, Category

    category = Category.objects.filter(active=True).order_by("full_code").first()
    client.force_login(worker)
    response = client.post(
        f"/api/v1/codes/scan/{code.token}/report/",
        {"category": category.full_code, "description": "外墙空调架锈蚀"},
        "application/json",
    )
    assert response.status_code == 201, response.json()
    case = Case.objects.get(number=response.json()["number"])
    assert case.subject == house and case.source == "code_scan"
    response = client.post(
        f"/api/v1/codes/scan/{code.token}/report/",
        {"category": "E9999", "description": "x"},
        "application/json",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Case.objects.count() == 1


def test_update_through_the_api(client, code, house, worker):
    client.force_login(worker)
    url = f"/api/v1/codes/scan/{code.token}/object/"
    response = client.patch(url, {"occupants": 4, "version": 0}, "application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["occupants"] == 4 and response.json()["version"] == 1
    stale = client.patch(url, {"occupants": 6, "version": 0}, "application/json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    unknown = client.patch(url, {"owner_name": "x"}, "application/json")
    assert unknown.status_code == 400
    house.refresh_from_db()
    assert house.occupants == 4 and house.owner_name == "赵秘密"


def test_codes_issue_revoke_reissue(client, house, manager, worker):
    client.force_login(worker)
    response = client.post(
        "/api/v1/codes/codes/issue/", {"object_type": "house", "object_id": house.pk}
    )
    assert response.status_code == 403
    client.force_login(manager)
    response = client.post(
        "/api/v1/codes/codes/issue/", {"object_type": "house", "object_id": house.pk}
    )
    assert response.status_code == 201
    first = response.json()
    assert first["url"].endswith(f"/c/{first['token']}/")
    response = client.post(f"/api/v1/codes/codes/{first['id']}/reissue/", {"reason": ""})
    assert response.status_code == 400 and response.json()["error"]["code"] == "reason_required"
    response = client.post(f"/api/v1/codes/codes/{first['id']}/reissue/", {"reason": "门牌遗失"})
    assert response.status_code == 201
    second = response.json()
    assert second["serial"] == 2 and second["token"] != first["token"]
    live = client.get("/api/v1/codes/codes/?live=1").json()["results"]
    assert [c["id"] for c in live] == [second["id"]]
    response = client.post(f"/api/v1/codes/codes/{second['id']}/revoke/", {"reason": "拆除"})
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert not ObjectCode.objects.filter(revoked_at__isnull=True).exists()


def test_plates_job_through_the_api(client, house, manager):
    client.force_login(manager)
    response = client.post("/api/v1/codes/plates/", {"grid": GROUP, "format": "svg"})
    assert response.status_code == 202
    job = client.get(response.json()["url"]).json()
    assert job["status"] == "done"
    response = client.post("/api/v1/codes/plates/", {"grid": "310117901201001"})
    assert response.status_code == 404
