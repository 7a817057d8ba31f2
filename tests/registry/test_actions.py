"""Registry actions: create/update with validation (Chinese, nothing written), location,
optimistic concurrency, reveal with capability + scope + reason + audit, visits, status."""

from __future__ import annotations

import pytest

from towngrid.core.models import AuditEvent
from towngrid.core.personal import lookup_hash
from towngrid.registry import actions
from towngrid.registry.errors import RegistryError
from towngrid.registry.models import (
    Component,
    ComponentKind,
    Enterprise,
    EnterpriseVisit,
    House,
    Household,
    LandParcel,
    Resident,
)
from towngrid.registry.signals import registry_changed

from .conftest import point_in


def _audits(obj, action=None):
    qs = AuditEvent.objects.for_object(obj)
    return qs.filter(action=action) if action else qs


def test_create_locates_encrypts_and_audits(make_house, numbers, micro, demo_user):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((sender, instance.pk, created))

    registry_changed.connect(receiver)
    try:
        house = make_house()
        number = numbers.id_number()
        resident = actions.create(
            Resident,
            actor=demo_user("grid_worker"),
            name="王五",
            house=house,
            id_number=number.lower(),
            phone="138 0000 1111",
            tags=["over_60", "living_alone"],
        )
    finally:
        registry_changed.disconnect(receiver)
    assert resident.grid_id == micro.pk and resident.grid_code == micro.code
    assert resident.lng == house.lng and resident.address == house.full_address
    assert resident.birth_date is not None and resident.gender in ("male", "female")
    assert resident.id_number_masked == number[:4] + "*" * 10 + number[-4:]
    assert resident.phone_masked == "138****1111"
    assert number not in resident.id_number_enc and "13800001111" not in resident.phone_enc
    assert Resident.objects.filter(id_number_hash=lookup_hash("id_number", number)).get() == (
        resident
    )
    assert (Resident, resident.pk, True) in seen
    event = _audits(resident, "registry.create").get()
    assert event.actor_name == "gridworker"
    assert event.changes["phone"] == "138****1111"
    assert "13800001111" not in str(event.changes) and number not in str(event.changes)


def test_household_and_resident_take_the_house_place(make_house, micro):
    house = make_house()
    household = actions.create(Household, actor=None, house=house, number="0101", head_name="甲")
    assert (household.grid_id, household.lng) == (house.grid_id, house.lng)
    member = actions.create(Resident, actor=None, name="乙", household=household)
    assert member.house_id == house.pk and member.grid_code == micro.code


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"id_number": "310115199001011231"}, "id_number", "身份证号码校验位不正确，请核对。"),
        (
            {"phone": "12345"},
            "phone",
            "电话号码应为 11 位手机号或上海固定电话（021 加 8 位号码）。",
        ),
        ({"name": ""}, "name", "请填写姓名。"),
        ({"tags": ["vip"]}, "tags", None),
        ({"gender": "x"}, "gender", None),
        ({"colour": "red"}, "colour", "不能设置字段“colour”。"),
    ],
)
def test_bad_input_is_refused_in_chinese_and_writes_nothing(make_house, fields, field, message):
    house = make_house()
    before = (Resident.objects.count(), AuditEvent.objects.count())
    data = {"name": "张三", "house": house, **fields}
    with pytest.raises(RegistryError) as exc:
        actions.create(Resident, actor=None, **data)
    assert exc.value.code == "invalid"
    assert field in exc.value.details
    if message:
        assert exc.value.details[field] == [message]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)
    assert (Resident.objects.count(), AuditEvent.objects.count()) == before


def test_duplicate_id_number(make_resident, numbers):
    number = numbers.id_number()
    first = make_resident(id_number=number)
    with pytest.raises(RegistryError) as exc:
        make_resident(house=first.house, id_number=number)
    assert exc.value.code == "duplicate" and exc.value.http_status == 409


def test_outside_the_town(demo_town):
    with pytest.raises(RegistryError) as exc:
        actions.create(House, actor=None, road="某路", lng=100.0, lat=20.0)
    assert exc.value.code == "outside_town"
    with pytest.raises(RegistryError) as exc:
        actions.create(House, actor=None, road="某路")
    assert exc.value.code == "invalid" and "位置" in exc.value.message


def test_explicit_grid_and_group_rules(micro, other_micro):
    from towngrid.grids.models import GridNode, Level

    house = actions.create(House, actor=None, road="某路", grid=micro.code)
    assert house.grid_code == micro.code and house.lng is None
    with pytest.raises(RegistryError) as exc:
        actions.create(House, actor=None, road="某路", grid=micro.code[:12])
    assert "不是微网格" in exc.value.message
    group = GridNode.objects.filter(level=Level.GROUP, code__startswith=other_micro.code).first()
    if group is not None:
        with pytest.raises(RegistryError) as exc:
            actions.create(House, actor=None, road="某路", grid=micro.code, group=group.code)
        assert "不属于" in exc.value.message


def test_grid_worker_cannot_write_outside_scope(demo_user, other_micro):
    lng, lat = point_in(other_micro)
    before = House.objects.count()
    with pytest.raises(RegistryError) as exc:
        actions.create(House, actor=demo_user("grid_worker"), road="某路", lng=lng, lat=lat)
    assert exc.value.code == "forbidden"
    with pytest.raises(RegistryError) as exc:
        actions.create(House, actor=demo_user("town_leader"), road="某路", lng=lng, lat=lat)
    assert exc.value.code == "forbidden"  # town_leader has no registry.edit
    assert House.objects.count() == before


def test_update_moves_and_audits(make_resident, demo_user, numbers, other_micro):
    resident = make_resident()
    new_phone = numbers.phone()
    actions.update(
        resident, actor=demo_user("grid_worker"), phone=new_phone, name="张三丰", reason="核实"
    )
    resident.refresh_from_db()
    assert resident.version == 1 and resident.name == "张三丰"
    assert Resident.objects.filter(phone_hash=lookup_hash("phone", new_phone)).get() == resident
    event = _audits(resident, "registry.update").get()
    assert event.reason == "核实" and event.changes["name"] == ["张三", "张三丰"]
    assert new_phone not in str(event.changes)
    # A house moved by the system (import) takes its residents with it.
    lng, lat = point_in(other_micro)
    actions.update(resident.house, actor=None, lng=lng, lat=lat)
    resident.refresh_from_db()
    assert resident.grid_code == other_micro.code


def test_update_nothing_changed_writes_nothing(make_house):
    house = make_house()
    actions.update(house, actor=None, road=house.road)
    house.refresh_from_db()
    assert house.version == 0 and not _audits(house, "registry.update").exists()


def test_concurrent_updates_the_second_is_a_conflict(make_house):
    house = make_house()
    mine, theirs = House.objects.get(pk=house.pk), House.objects.get(pk=house.pk)
    actions.update(theirs, actor=None, owner_name="先到")
    with pytest.raises(RegistryError) as exc:
        actions.update(mine, actor=None, owner_name="后到")
    assert exc.value.code == "conflict" and exc.value.http_status == 409
    house.refresh_from_db()
    assert house.owner_name == "先到" and house.version == 1
    with pytest.raises(RegistryError) as exc:
        actions.update(house, actor=None, expected_version=0, owner_name="过期")
    assert exc.value.code == "conflict"
    actions.update(house, actor=None, expected_version=1, owner_name="最新")
    house.refresh_from_db()
    assert house.owner_name == "最新" and house.version == 2


def test_failed_update_leaves_the_instance_untouched(make_house):
    house = make_house()
    with pytest.raises(RegistryError):
        actions.update(house, actor=None, owner_name="新名字", lease_start="2024-05-01",
                       lease_end="2024-01-01")  # fmt: skip
    assert house.owner_name == "" and house.lease_start is None
    house.refresh_from_db()
    assert house.owner_name == "" and house.version == 0


# --- reveal ----------------------------------------------------------------------------------


def test_reveal_in_scope_is_audited(make_resident, demo_user, numbers):
    number = numbers.id_number()
    resident = make_resident(id_number=number)
    worker = demo_user("grid_worker")
    assert actions.reveal(resident, "id_number", actor=worker, reason="核对低保") == number
    event = _audits(resident, "registry.reveal").get()
    assert event.actor_id == worker.pk and event.actor_name == worker.username
    assert event.reason == "核对低保" and event.changes == {"field": "id_number"}
    assert event.at is not None
    for role in ("grid_leader", "community_staff", "area_staff"):
        assert actions.reveal(resident, "phone", actor=demo_user(role), reason="回访")


@pytest.mark.parametrize("role", ["resident", "town_leader", "sysadmin", "dept_handler"])
def test_roles_without_reveal_are_refused(make_resident, demo_user, role):
    resident = make_resident()
    with pytest.raises(RegistryError) as exc:
        actions.reveal(resident, "phone", actor=demo_user(role), reason="看看")
    assert exc.value.code == "forbidden"
    assert not _audits(resident, "registry.reveal").exists()


def test_grid_worker_cannot_reveal_outside_scope(make_resident, make_house, other_micro, demo_user):
    resident = make_resident(house=make_house(other_micro))
    with pytest.raises(RegistryError) as exc:
        actions.reveal(resident, "id_number", actor=demo_user("grid_worker"), reason="看看")
    assert exc.value.code == "forbidden"
    with pytest.raises(RegistryError):
        actions.reveal(resident, "id_number", actor=None, reason="系统")
    assert not _audits(resident, "registry.reveal").exists()


def test_reveal_needs_a_reason_and_a_personal_field(make_resident, demo_user):
    resident = make_resident()
    with pytest.raises(RegistryError) as exc:
        actions.reveal(resident, "phone", actor=demo_user("grid_worker"), reason="  ")
    assert exc.value.code == "reason_required" and "事由" in exc.value.message
    with pytest.raises(RegistryError) as exc:
        actions.reveal(resident, "name", actor=demo_user("grid_worker"), reason="看看")
    assert exc.value.code == "invalid"
    assert not _audits(resident, "registry.reveal").exists()


# --- enterprises, components, parcels ---------------------------------------------------------


def test_enterprise_credit_code_and_visits(micro, numbers, demo_user):
    code = numbers.credit_code()
    enterprise = actions.create(
        Enterprise, actor=None, name="北蔡精密", credit_code=code.lower(), grid=micro.code,
        contact_phone="021-61234567", is_above_scale=True,
    )  # fmt: skip
    assert enterprise.credit_code == code and enterprise.contact_phone_masked == "021****4567"
    with pytest.raises(RegistryError) as exc:
        actions.create(Enterprise, actor=None, name="重复", credit_code=code, grid=micro.code)
    assert exc.value.code == "duplicate"
    with pytest.raises(RegistryError) as exc:
        actions.create(
            Enterprise, actor=None, name="错码", credit_code=code[:-1] + ("0" if code[-1] != "0" else "1"),
            grid=micro.code,
        )  # fmt: skip
    assert exc.value.details["credit_code"] == ["统一社会信用代码校验位不正确，请核对。"]
    visit = actions.add_visit(
        enterprise, actor=demo_user("grid_worker"), findings="用工需求", problems=["招工难"],
        needs_followup=True,
    )  # fmt: skip
    assert visit.visitor_name and EnterpriseVisit.objects.filter(enterprise=enterprise).count() == 1
    assert _audits(enterprise, "registry.visit").exists()
    with pytest.raises(RegistryError):
        actions.add_visit(enterprise, actor=demo_user("grid_worker"))


def _component_category(name="窨井盖"):
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Category

    qs = Category.objects.filter(name=name, major__kind="component")
    if not qs.exists():
        install_catalogue()
    return qs.first()


def test_component_codes_kind_and_status(micro, demo_user):
    category = _component_category()
    first = actions.create(Component, actor=None, category=category, grid=micro.code)
    second = actions.create(Component, actor=None, category=category.full_code, grid=micro.code)
    prefix = f"310115{category.major.code}{category.code}"
    assert first.code.startswith(prefix) and len(first.code) == 16
    assert int(second.code[-6:]) == int(first.code[-6:]) + 1
    assert first.kind == ComponentKind.MANHOLE
    assert first.owner_department_id == category.default_department_id
    actions.set_component_status(first, "damaged", actor=demo_user("grid_worker"), note="破损")
    first.refresh_from_db()
    assert first.status == "damaged"
    assert _audits(first, "registry.component_status").get().changes["status"] == [
        "good",
        "damaged",
    ]
    with pytest.raises(RegistryError) as exc:
        actions.set_component_status(first, "melted", actor=None)
    assert exc.value.code == "invalid" and "status" in exc.value.details
    with pytest.raises(RegistryError) as exc:
        actions.create(Component, actor=None, category=category, grid=micro.code, code="123")
    assert "16 位" in exc.value.message


def test_event_category_is_not_a_component(micro):
    from towngrid.cases.models import Category

    _component_category()
    event = Category.objects.filter(major__kind="event").first()
    with pytest.raises(RegistryError) as exc:
        actions.create(Component, actor=None, category=event, grid=micro.code)
    assert "不是部件小类" in exc.value.message


def test_parcel_progress_and_centroid(micro):
    lng, lat = point_in(micro)
    square = {
        "type": "Polygon",
        "coordinates": [[[lng - 1e-4, lat - 1e-4], [lng + 1e-4, lat - 1e-4],
                         [lng + 1e-4, lat + 1e-4], [lng - 1e-4, lat + 1e-4],
                         [lng - 1e-4, lat - 1e-4]]],
    }  # fmt: skip
    parcel = actions.create(
        LandParcel, actor=None, name="901 单元 15-04 地块", unit="901", stage="signing",
        households_total=120, households_signed=87, boundary=square,
    )  # fmt: skip
    assert parcel.grid_code == micro.code and abs(parcel.lng - lng) < 1e-6
    assert parcel.signed_rate == pytest.approx(87 / 120)
    with pytest.raises(RegistryError) as exc:
        actions.update(parcel, actor=None, households_signed=121)
    assert exc.value.details["households_signed"] == ["已签约户数不能大于应签约户数。"]


def test_a_house_outside_scope_reads_as_missing(make_house, other_micro, demo_user):
    outside = make_house(other_micro)
    with pytest.raises(RegistryError) as exc:
        actions.create(Resident, actor=demo_user("grid_worker"), name="某人", house=outside.pk)
    assert exc.value.code == "invalid" and exc.value.details == {"house": ["所选房屋不存在。"]}
