"""Registry rows in the scope matrix's fixture town (tests/accounts/scope_world.py): one object
of every type in every micro-grid (every other one in its first 楼组), with personal values set,
and an enterprise visit each, so the matrix can tell a leak from an empty list on every registry
endpoint."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from towngrid.core.checksums import make_credit_code, make_id_number

T0 = datetime(2023, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_samples(world) -> None:
    from towngrid.cases.models import Category, CategoryClass, CategoryKind
    from towngrid.registry.models import (
        Component,
        Enterprise,
        EnterpriseVisit,
        House,
        Household,
        LandParcel,
        Resident,
        Shop,
        UndergroundSpace,
    )

    major, _ = CategoryClass.objects.get_or_create(
        kind=CategoryKind.COMPONENT, code="98", defaults={"name": "矩阵测试部件"}
    )
    category, _ = Category.objects.get_or_create(
        full_code="C9801", defaults={"major": major, "code": "01", "name": "矩阵测试井盖"}
    )
    for i, micro in enumerate(world.micro_grids):
        group = world.nodes[micro.code + "001"] if i % 2 else None
        where = {
            "grid": micro,
            "grid_code": micro.code,
            "group": group,
            "lng": 121.5 + i * 0.001,
            "lat": 31.2,
        }
        house = House(road="矩阵路", lane=str(i + 1), number="1", room="101", **where)
        house.set_personal("owner_phone", f"1380000{i:04d}")
        house.save()
        household = Household.objects.create(house=house, number=f"H{i}", head_name="户主", **where)
        resident = Resident(house=house, household=household, name=f"居民{i}", **where)
        resident.set_personal("id_number", make_id_number("310115", date(1960, 1, 1), i + 1))
        resident.set_personal("phone", f"1390000{i:04d}")
        resident.save()
        enterprise = Enterprise(
            name=f"矩阵企业{i}", credit_code=make_credit_code("310115", 9_100_000 + i), **where
        )
        enterprise.set_personal("contact_phone", f"1370000{i:04d}")
        enterprise.save()
        EnterpriseVisit.objects.create(
            enterprise=enterprise, visited_at=T0, visitor_name="走访人", findings="正常"
        )
        shop = Shop(name=f"矩阵商户{i}", street="矩阵路", **where)
        shop.set_personal("contact_phone", f"1360000{i:04d}")
        shop.save()
        Component.objects.create(
            category=category, code=f"3101159801{i + 1:06d}", name="井盖", **where
        )
        space = UndergroundSpace(name=f"地下车库{i}", **where)
        space.set_personal("contact_phone", f"1350000{i:04d}")
        space.save()
        LandParcel.objects.create(name=f"矩阵地块{i}", unit="901", households_total=10, **where)
