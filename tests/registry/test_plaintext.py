"""The raw database holds no identity or phone number in plain text: every personal value
written through the actions, the bulk path and an update is searched for in every column of
every table (registry tables, the audit trail, everything), as stored."""

from __future__ import annotations

from datetime import date

from django.db import connection

from towngrid.core.checksums import make_id_number
from towngrid.core.personal import set_personal
from towngrid.registry import actions
from towngrid.registry.models import (
    Enterprise,
    House,
    LandParcel,
    Resident,
    Shop,
    UndergroundSpace,
)


def _all_text(table: str) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (table names from Django)
        return "\n".join("\t".join("" if v is None else str(v) for v in row) for row in cursor)


def test_no_plaintext_anywhere(make_house, micro, numbers, demo_user, settings):
    worker = demo_user("grid_worker")
    secrets: list[str] = []
    house = make_house(owner_phone="13966667777")
    secrets.append("13966667777")
    for i in range(5):
        number, phone = numbers.id_number(), numbers.phone()
        secrets += [number, phone]
        resident = actions.create(
            Resident, actor=worker, name=f"测试{i}", house=house, id_number=number, phone=phone
        )
    # An update (audited with masked values) and a reveal (audited without the value).
    new_phone = "13544445555"
    secrets.append(new_phone)
    actions.update(resident, actor=worker, phone=new_phone)
    actions.reveal(resident, "phone", actor=worker, reason="核对")
    # The bulk path the import and the demo use.
    bulk = []
    for i in range(20):
        r = Resident(name=f"批量{i}", house=house, grid=micro, grid_code=micro.code)
        number = make_id_number("310115", date(1980, 1, 1), 500 + i)
        phone = f"1331234{i:04d}"
        set_personal(r, "id_number", number, check=False)
        set_personal(r, "phone", phone, check=False)
        secrets += [number, phone]
        bulk.append(r)
    Resident.objects.bulk_create(bulk)
    for model, value in (
        (Enterprise, "02164440001"),
        (Shop, "13611112222"),
        (UndergroundSpace, "02164440002"),
    ):
        extra = {"credit_code": numbers.credit_code()} if model is Enterprise else {}
        actions.create(model, actor=worker, name="样例", grid=micro.code, contact_phone=value,
                       **extra)  # fmt: skip
        secrets.append(value)
    actions.create(LandParcel, actor=worker, name="901 单元 15-04 地块", grid=micro.code)

    tables = connection.introspection.table_names()
    assert "registry_resident" in tables
    dump = {table: _all_text(table) for table in tables}
    assert "registry_resident" in dump and dump["registry_resident"]
    for secret in secrets:
        # Digits only, and the significant part of a fixed line without its 021.
        probes = {secret, secret[-8:]} if secret.startswith("021") else {secret}
        for table, text in dump.items():
            for probe in probes:
                assert probe not in text, f"{probe} in plain text in {table}"
    # The masked forms are computed, not stored either.
    assert "****" not in dump["registry_resident"]
    assert House.objects.get(pk=house.pk).owner_phone_masked == "139****7777"
