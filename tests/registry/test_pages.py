"""The registry pages and admin: counts, lists with filters, masked details, the reveal (htmx
and plain form) with its audit, forms with Chinese errors, concurrency, scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from towngrid.core.models import AuditEvent
from towngrid.registry.models import House, Resident

from .conftest import point_in


def test_index_counts_in_scope(login_as, make_resident, make_house, other_micro):
    make_resident(tags=["over_60"])
    make_house(other_micro)
    response = login_as("grid_worker").get(reverse("registry:index"))
    assert response.status_code == 200
    counts = {c["rtype"].slug: c["count"] for c in response.context["cards"]}
    assert counts["residents"] >= 1
    town = login_as("town_leader").get(reverse("registry:index"))
    town_counts = {c["rtype"].slug: c["count"] for c in town.context["cards"]}
    assert town_counts["houses"] > counts["houses"]
    assert login_as("resident").get(reverse("registry:index")).status_code == 403


def test_list_filters_and_masks(login_as, make_resident, numbers):
    number, phone = numbers.id_number(), numbers.phone()
    target = make_resident(id_number=number, phone=phone, tags=["low_income"], name="赵低保")
    make_resident(name="钱普通")
    client = login_as("grid_worker")
    response = client.get(reverse("registry:residents"))
    assert response.status_code == 200
    body = response.content.decode()
    assert number not in body and phone not in body
    assert number[:4] + "**********" + number[-4:] in body
    filtered = client.get(reverse("registry:residents"), {"tags": "low_income"})
    assert [r["obj"].pk for r in filtered.context["rows"]] == [target.pk]
    by_hash = client.get(reverse("registry:residents"), {"id_number": number})
    assert [r["obj"].pk for r in by_hash.context["rows"]] == [target.pk]
    by_text = client.get(reverse("registry:residents"), {"q": "钱普通"})
    assert [r["obj"].name for r in by_text.context["rows"]] == ["钱普通"]
    # A grid outside the scope is not a filter the page accepts (nor echoes).
    outside = client.get(reverse("registry:residents"), {"grid": "310115125101"})
    assert "310115125101" not in outside.content.decode()


def test_detail_masked_and_reveal_htmx(login_as, make_resident, numbers):
    number = numbers.id_number()
    resident = make_resident(id_number=number)
    client = login_as("grid_worker")
    url = reverse("registry:residents_detail", args=[resident.pk])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert number not in body and 'data-testid="reveal-id_number"' in body
    reveal = reverse("registry:residents_reveal", args=[resident.pk])
    response = client.post(
        reveal, {"field": "id_number", "reason": "办理残疾证"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and number in response.content.decode()
    event = AuditEvent.objects.for_object(resident).get(action="registry.reveal")
    assert (event.actor_name, event.reason, event.changes) == (
        "gridworker",
        "办理残疾证",
        {"field": "id_number"},
    )
    # Shown once: the page afterwards is masked again, and lists the reveal in its history.
    again = client.get(url).content.decode()
    assert number not in again and "办理残疾证" in again
    missing = client.post(reveal, {"field": "id_number", "reason": ""}, HTTP_HX_REQUEST="true")
    assert "事由" in missing.content.decode() and number not in missing.content.decode()
    assert AuditEvent.objects.filter(action="registry.reveal").count() == 1


def test_reveal_without_htmx_renders_the_page_once(login_as, make_resident, numbers):
    phone = numbers.phone()
    resident = make_resident(phone=phone)
    client = login_as("community_staff")
    response = client.post(
        reverse("registry:residents_reveal", args=[resident.pk]),
        {"field": "phone", "reason": "联系家属"},
    )
    assert response.status_code == 200 and phone in response.content.decode()


def test_reveal_refused_outside_scope_and_without_capability(
    login_as, make_resident, make_house, other_micro
):
    outside = make_resident(house=make_house(other_micro))
    client = login_as("grid_worker")
    url = reverse("registry:residents_reveal", args=[outside.pk])
    assert client.post(url, {"field": "phone", "reason": "看看"}).status_code == 404
    assert client.get(reverse("registry:residents_detail", args=[outside.pk])).status_code == 404
    leader = login_as("town_leader")
    page = leader.get(reverse("registry:residents_detail", args=[outside.pk])).content.decode()
    assert 'data-testid="reveal-phone"' not in page
    assert leader.post(url, {"field": "phone", "reason": "看看"}).status_code == 403
    assert not AuditEvent.objects.filter(action="registry.reveal").exists()


def test_create_resident_form(login_as, make_house, numbers):
    house = make_house()
    client = login_as("grid_worker")
    url = reverse("registry:residents_new")
    assert client.get(url, {"house": house.pk}).status_code == 200
    number = numbers.id_number()
    bad = client.post(url, {"name": "孙七", "house": house.pk, "id_number": number[:-1] + "0"
                            if number[-1] != "0" else number[:-1] + "1"})  # fmt: skip
    assert bad.status_code == 400
    assert "身份证号码校验位不正确，请核对。" in bad.content.decode()
    assert not Resident.objects.filter(name="孙七").exists()
    ok = client.post(url, {"name": "孙七", "house": house.pk, "id_number": number,
                           "phone": "13712345678", "tags": ["disabled"], "gender": ""})  # fmt: skip
    assert ok.status_code == 302, ok.content.decode()[:2000]
    resident = Resident.objects.get(name="孙七")
    assert resident.house_id == house.pk and resident.tags == ["disabled"]
    assert resident.phone_masked == "137****5678"
    # Left blank on the form: taken from the identity number.
    assert resident.gender in ("male", "female") and resident.birth_date is not None


def test_create_house_form_and_edit_conflict(login_as, micro):
    client = login_as("grid_worker")
    lng, lat = point_in(micro)
    response = client.post(
        reverse("registry:houses_new"),
        {"road": "北中路", "lane": "18", "number": "3", "room": "202", "lng": lng, "lat": lat,
         "house_type": "commercial", "use": "rented", "owner_phone": "021-61230000",
         "non_bedroom_sleeping": ["balcony"], "flags": "三合一场所", "occupants": "3",
         "tenant_count": "2", "rented_rooms": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    house = House.objects.get(road="北中路", lane="18")
    assert house.grid_code == micro.code and house.flags == ["三合一场所"]
    assert house.non_bedroom_sleeping == ["balcony"]
    edit = reverse("registry:houses_edit", args=[house.pk])
    form = client.get(edit)
    assert form.status_code == 200 and "021****0000" in form.content.decode()
    data = {"road": "北中路", "lane": "18", "number": "3", "room": "202", "house_type":
            "commercial", "use": "vacant", "version": "0", "grid": micro.code,
            "occupants": "0", "tenant_count": "0", "rented_rooms": "0"}  # fmt: skip
    assert client.post(edit, data).status_code == 302
    house.refresh_from_db()
    assert house.use == "vacant" and house.version == 1
    assert house.owner_phone_masked == "021****0000"  # left blank: kept
    stale = client.post(edit, {**data, "use": "rented"})
    assert stale.status_code == 409 and "已被他人修改" in stale.content.decode()
    house.refresh_from_db()
    assert house.use == "vacant"


def test_edit_outside_scope_is_404(login_as, make_house, other_micro):
    house = make_house(other_micro)
    client = login_as("grid_worker")
    assert client.get(reverse("registry:houses_edit", args=[house.pk])).status_code == 404


@pytest.mark.parametrize(
    "slug", ["houses", "households", "residents", "enterprises", "shops", "components",
             "underground", "parcels"],
)  # fmt: skip
def test_every_list_and_form_renders(login_as, slug):
    client = login_as("community_staff")
    assert client.get(reverse(f"registry:{slug}")).status_code == 200
    assert client.get(reverse(f"registry:{slug}_new")).status_code == 200


def test_enterprise_visit_and_component_status_pages(login_as, micro, numbers):
    from towngrid.registry import actions
    from towngrid.registry.models import Component, Enterprise

    from .test_actions import _component_category

    enterprise = actions.create(
        Enterprise, actor=None, name="企业乙", credit_code=numbers.credit_code(), grid=micro.code
    )
    client = login_as("grid_worker")
    detail = reverse("registry:enterprises_detail", args=[enterprise.pk])
    assert client.get(detail).status_code == 200
    url = reverse("registry:enterprises_visit", args=[enterprise.pk])
    assert client.post(url, {"findings": "", "problems": ""}).status_code == 400
    assert client.post(url, {"findings": "走访正常", "problems": "融资\n用地"}).status_code == 302
    assert enterprise.visits.get().problems == ["融资", "用地"]
    component = actions.create(
        Component, actor=None, category=_component_category(), grid=micro.code
    )
    status_url = reverse("registry:components_status", args=[component.pk])
    assert client.post(status_url, {"status": "damaged", "version": 0}).status_code == 302
    component.refresh_from_db()
    assert component.status == "damaged"
    assert client.post(status_url, {"status": "good", "version": 0}).status_code == 400


def test_linked_cases_on_the_detail(login_as, make_house):
    from towngrid.cases import actions as case_actions

    house = make_house()
    case_actions.report(
        category=_event_category(), description="楼道堆物", lng=house.lng, lat=house.lat,
        source="grid_worker", subject=house,
    )  # fmt: skip
    page = login_as("grid_worker").get(reverse("registry:houses_detail", args=[house.pk]))
    assert len(page.context["cases"]) == 1


def _event_category():
    from towngrid.cases.models import Category

    return Category.objects.filter(major__kind="event", active=True).first()


def test_admin_masks_personal_values(client, make_resident, numbers, demo_town):
    from towngrid.accounts.models import User

    number, phone = numbers.id_number(), numbers.phone()
    resident = make_resident(id_number=number, phone=phone)
    client.force_login(User.objects.get(username="admin"))
    # Filtered to the new row: the demo registry fills more than the first page.
    listing = client.get(
        reverse("admin:registry_resident_changelist") + f"?id__exact={resident.pk}"
    )
    assert listing.status_code == 200
    page = client.get(reverse("admin:registry_resident_change", args=[resident.pk]))
    assert page.status_code == 200
    for response in (listing, page):
        body = response.content.decode()
        assert number not in body and phone not in body
        assert resident.id_number_enc not in body and resident.id_number_hash not in body
    assert phone[:3] + "****" + phone[-4:] in listing.content.decode()
