"""The registry API: masked by default, filters (incl. exact search through the keyed hash),
create/update with structured errors, reveal with audit, scope."""

from __future__ import annotations

import json

import pytest

from towngrid.core.models import AuditEvent
from towngrid.registry.models import Enterprise, House, Resident

from .conftest import point_in

API = "/api/v1/registry"


def _post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def _patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


def test_lists_and_details_are_masked(login_as, make_resident, numbers):
    number, phone = numbers.id_number(), numbers.phone()
    resident = make_resident(id_number=number, phone=phone, tags=["disabled"])
    client = login_as("grid_worker")
    for url in (f"{API}/residents/?limit=1000", f"{API}/residents/{resident.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert number not in body and phone not in body
        assert "_enc" not in body and "_hash" not in body
    item = client.get(f"{API}/residents/{resident.pk}/").json()
    assert item["id_number_masked"] == number[:4] + "**********" + number[-4:]
    assert item["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert item["tag_labels"] == ["残疾"] and item["version"] == 0
    house = client.get(f"{API}/houses/{resident.house_id}/").json()
    assert "owner_phone_masked" in house and house["full_address"]


def test_exact_search_through_the_hash_and_filters(login_as, make_resident, numbers):
    number, phone = numbers.id_number(), numbers.phone()
    target = make_resident(id_number=number, phone=phone, tags=["veteran", "over_60"])
    make_resident(tags=["veteran"])
    client = login_as("grid_worker")

    def ids(query):
        response = client.get(f"{API}/residents/?{query}&limit=1000")
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids(f"id_number={number.lower()}") == {target.pk}
    assert ids(f"phone={phone[:3]}-{phone[3:7]}-{phone[7:]}") == {target.pk}
    assert ids(f"q={number}") == {target.pk}
    assert ids(f"phone={phone[:7]}") == set()  # partial numbers do not match
    assert target.pk in ids("tags=veteran,over_60")
    assert ids("tags=veteran,over_60") <= ids("tags=veteran")
    assert ids(f"grid={target.grid_code}") >= {target.pk}
    assert ids("grid=999") == set() and ids("grid=abc") == set()


def test_create_update_and_structured_errors(login_as, micro, numbers):
    client = login_as("grid_worker")
    lng, lat = point_in(micro)
    response = _post(
        client, f"{API}/houses/", {"road": "莲溪路", "lane": "8", "lng": lng, "lat": lat,
                                   "owner_phone": "13911112222", "use": "rented"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    house = response.json()
    assert house["grid_code"] == micro.code and house["owner_phone_masked"] == "139****2222"
    assert "13911112222" not in response.content.decode()

    bad = _post(client, f"{API}/residents/", {"name": "张三", "house": house["id"],
                                             "id_number": "310115199001011231"})  # fmt: skip
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"]["id_number"] == ["身份证号码校验位不正确，请核对。"]
    assert not Resident.objects.filter(house_id=house["id"]).exists()

    url = f"{API}/houses/{house['id']}/"
    ok = _patch(client, url, {"owner_name": "李雷", "version": 0})
    assert ok.status_code == 200 and ok.json()["version"] == 1
    stale = _patch(client, url, {"owner_name": "韩梅梅", "version": 0})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    assert House.objects.get(pk=house["id"]).owner_name == "李雷"
    unknown = _patch(client, url, {"grid_code": "310115125101001"})
    assert unknown.status_code == 400 and "grid_code" in unknown.json()["error"]["details"]


def test_outside_scope_is_404_and_writes_are_refused(login_as, make_house, other_micro):
    house = make_house(other_micro)
    client = login_as("grid_worker")
    assert client.get(f"{API}/houses/{house.pk}/").status_code == 404
    assert _patch(client, f"{API}/houses/{house.pk}/", {"owner_name": "x"}).status_code == 404
    lng, lat = point_in(other_micro)
    response = _post(client, f"{API}/houses/", {"road": "外路", "lng": lng, "lat": lat})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_reveal_by_api(login_as, make_resident, make_house, other_micro, numbers):
    number = numbers.id_number()
    resident = make_resident(id_number=number)
    url = f"{API}/residents/{resident.pk}/reveal/"
    client = login_as("grid_worker")
    response = _post(client, url, {"field": "id_number", "reason": "核对身份"})
    assert response.status_code == 200 and response.json() == {
        "field": "id_number",
        "value": number,
    }
    event = AuditEvent.objects.for_object(resident).get(action="registry.reveal")
    assert event.actor_name == "gridworker" and event.reason == "核对身份"
    history = client.get(f"{API}/residents/{resident.pk}/history/").json()
    assert any(e["action"] == "registry.reveal" and e["field"] == "id_number" for e in history)

    no_reason = _post(client, url, {"field": "id_number", "reason": ""})
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["code"] == "reason_required"

    outside = make_resident(house=make_house(other_micro))
    response = _post(client, f"{API}/residents/{outside.pk}/reveal/", {"field": "phone",
                                                                        "reason": "看看"})  # fmt: skip
    assert response.status_code == 404

    leader = login_as("town_leader")  # sees everything, may not reveal
    response = _post(leader, url, {"field": "phone", "reason": "看看"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    resident_user = login_as("resident")
    assert _post(resident_user, url, {"field": "phone", "reason": "看看"}).status_code == 404
    assert AuditEvent.objects.filter(action="registry.reveal").count() == 1


def test_enterprise_visits_component_status_and_counts(login_as, micro, numbers):
    from towngrid.registry import actions
    from towngrid.registry.models import Component

    from .test_actions import _component_category

    enterprise = actions.create(
        Enterprise, actor=None, name="企业甲", credit_code=numbers.credit_code(), grid=micro.code
    )
    client = login_as("grid_worker")
    url = f"{API}/enterprises/{enterprise.pk}/visits/"
    created = _post(client, url, {"findings": "运行正常", "problems": ["停车难"],
                                  "needs_followup": True})  # fmt: skip
    assert created.status_code == 201 and created.json()["needs_followup"] is True
    assert len(client.get(url).json()) == 1
    followups = client.get(f"{API}/visits/?needs_followup=true").json()["results"]
    assert [v["enterprise"] for v in followups] == [enterprise.pk]
    assert _post(client, url, {}).status_code == 400

    component = actions.create(
        Component, actor=None, category=_component_category(), grid=micro.code
    )
    status_url = f"{API}/components/{component.pk}/status/"
    response = _post(client, status_url, {"status": "lost", "note": "井盖丢失", "version": 0})
    assert response.status_code == 200 and response.json()["status"] == "lost"
    assert Component.objects.get(pk=component.pk).status == "lost"
    assert _post(client, status_url, {"status": "good", "version": 0}).status_code == 409

    counts = client.get(f"{API}/counts/").json()
    assert counts["enterprises"] >= 1 and counts["components"] >= 1
    assert login_as("resident").get(f"{API}/counts/").json()["houses"] == 0


def test_counts_contract(make_resident, micro):
    from towngrid.registry.queries import counts

    make_resident()
    got = counts(micro.code)
    assert set(got) == {"houses", "households", "residents", "enterprises", "shops", "components"}
    assert got["residents"] >= 1 and got["houses"] >= 1
    assert counts("999")["residents"] == 0


def test_schema_builds(login_as):
    response = login_as("admin").get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/registry/residents/{id}/reveal/" in response.content


@pytest.mark.parametrize("role", ["resident", "dept_handler"])
def test_without_registry_view_nothing_is_listed(login_as, make_house, role):
    make_house()
    response = login_as(role).get(f"{API}/houses/")
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("slug", "model", "extra"),
    [
        ("enterprises", Enterprise, {"name": "企业丙"}),
        ("shops", None, {"name": "商户丁", "street": "北中路", "is_alliance_member": True,
                         "alliance": "北中路商户联盟"}),
        ("underground", None, {"name": "地下车库"}),
    ],
)  # fmt: skip
def test_contact_phones_are_masked_in_api_and_pages(login_as, micro, numbers, slug, model, extra):
    from django.urls import reverse

    from towngrid.registry import actions
    from towngrid.registry.queries import TYPES

    model = TYPES[slug].model
    phone = numbers.phone()
    if model is Enterprise:
        extra = {**extra, "credit_code": numbers.credit_code()}
    obj = actions.create(model, actor=None, grid=micro.code, contact_phone=phone, **extra)
    client = login_as("grid_worker")
    masked = phone[:3] + "****" + phone[-4:]
    for url in (
        f"{API}/{slug}/?limit=1000",
        f"{API}/{slug}/{obj.pk}/",
        reverse(f"registry:{slug}"),
        reverse(f"registry:{slug}_detail", args=[obj.pk]),
    ):
        body = client.get(url).content.decode()
        assert phone not in body, url
        assert masked in body, url
