"""Exports of filtered registry lists: the list's own rows (scope, filters), masked personal
values unless a permitted user asks with a reason, and one audit event per export."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from towngrid.core.models import AuditEvent
from towngrid.registry import excel, exports

pytestmark = pytest.mark.django_db


def sheet(content: bytes) -> tuple[list[str], list[tuple]]:
    headers, rows = excel.read_sheet(content)
    return headers, [r for r in rows if r]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def people(demo_town, micro, other_micro, numbers):
    inside_id, outside_id = numbers.id_number(), numbers.id_number()
    for key, rows in [
        ("house", [{"路/街/村": "导出路", "号": "1", "房屋类型": "商品房", "建筑面积(m²)": 50,
                    "使用情况": "出租", "网格编码": micro.code},
                   {"路/街/村": "导出路", "号": "2", "房屋类型": "商品房", "建筑面积(m²)": 50,
                    "使用情况": "自住", "网格编码": other_micro.code}]),
        ("resident", [{"姓名": "甲", "身份证号": inside_id, "居住房屋地址": "导出路1号"},
                      {"姓名": "乙", "身份证号": outside_id, "居住房屋地址": "导出路2号"}]),
    ]:  # fmt: skip
        buf = io.BytesIO()
        excel.write_rows_workbook(key, rows, buf)
        report = excel.run_import(key, buf.getvalue())
        assert report.committed, report.errors
    return {"inside": (None, inside_id), "outside": (None, outside_id)}


def test_export_holds_the_scoped_filtered_list_masked(people, login_as):
    client = login_as("grid_worker")
    response = client.get(reverse("registry:io_export", args=["residents"]), {"q": "导出路"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    headers, rows = sheet(body(response))
    assert headers[0] == "系统编号" and "身份证号" in headers
    assert [r[headers.index("姓名")] for r in rows] == ["甲"]  # the other grid is out of scope
    id_cell = rows[0][headers.index("身份证号")]
    assert "*" in id_cell and id_cell != people["inside"][1]
    event = AuditEvent.objects.filter(action="registry.export").latest("id")
    assert event.changes["rows"] == 1 and event.changes["reveal"] is False
    assert event.changes["filters"] == {"q": "导出路"}


def test_reveal_needs_the_capability_and_a_reason_and_is_audited(people, login_as):
    client = login_as("grid_worker")  # holds personal.reveal in its grid
    url = reverse("registry:io_export", args=["residents"])
    refused = client.get(url, {"q": "导出路", "reveal": "1"})
    assert refused.status_code == 302  # back to the list, with the message
    response = client.get(url, {"q": "导出路", "reveal": "1", "reason": "民政核对"})
    headers, rows = sheet(body(response))
    assert rows[0][headers.index("身份证号")] == people["inside"][1]
    event = AuditEvent.objects.filter(action="registry.export").latest("id")
    assert event.changes["reveal"] is True and event.reason == "民政核对"
    assert event.changes["revealed_values"] >= 1

    leader = login_as("town_leader")  # sees everything, may not reveal
    api = leader.get(reverse("registry-export", args=["residents"]),
                     {"reveal": "true", "reason": "x"})  # fmt: skip
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"
    masked = leader.get(reverse("registry-export", args=["residents"]), {"q": "导出路"})
    headers, rows = sheet(body(masked))
    assert sorted(r[headers.index("姓名")] for r in rows) == ["乙", "甲"]
    assert all("*" in r[headers.index("身份证号")] for r in rows)
    no_reason = login_as("grid_worker").get(
        reverse("registry-export", args=["residents"]), {"reveal": "true"}
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["code"] == "reason_required"


def test_export_applies_the_list_filters(people, login_as):
    client = login_as("town_leader")
    response = client.get(
        reverse("registry-export", args=["houses"]), {"q": "导出路", "use": "rented"}
    )
    headers, rows = sheet(body(response))
    assert [r[headers.index("号")] for r in rows] == ["1"]
    assert rows[0][headers.index("使用情况")] == "出租"
    assert client.get(reverse("registry-export", args=["villas"])).status_code == 404


def test_export_reimports_as_duplicates(people, demo_town):
    """The export is in the template's layout: read back, every house is already registered."""
    handle, count, _ = exports.export("house", {"q": "导出路"}, actor=None)
    data = handle.read()
    assert count == 2
    report = excel.run_import("house", data, dry_run=True)
    assert report.rejected_rows == 2
    assert {e.code for e in report.errors} >= {excel.DUP_DB}


def test_cli_export(people, tmp_path, demo_town):
    out = tmp_path / "r.xlsx"
    call_command("registry", "export", "resident", "-o", str(out), "--q", "导出路",
                 "--user", "gridworker", "--no-progress")  # fmt: skip
    headers, rows = sheet(out.read_bytes())
    assert len(rows) == 1
    with pytest.raises(CommandError):
        call_command("registry", "export", "resident", "-o", str(out), "--reveal", "--no-progress")
    call_command("registry", "export", "resident", "-o", str(out), "--reveal", "--reason", "核对",
                 "--filter", "q=导出路", "--no-progress")  # fmt: skip
    headers, rows = sheet(out.read_bytes())
    assert sorted(r[headers.index("身份证号")] for r in rows) == sorted(
        [people["inside"][1], people["outside"][1]]
    )
