"""The registry's Excel import: templates, the dry run's report of every rejected row, the
all-or-nothing commit, progress, the CLI, the API and the upload pages."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from towngrid.core.models import AuditEvent
from towngrid.registry import excel
from towngrid.registry.models import Component, House, Household, ImportBatch, Resident

from .conftest import point_in

pytestmark = pytest.mark.django_db


def workbook(type_key: str, rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    excel.write_rows_workbook(type_key, rows, buf)
    return buf.getvalue()


def codes_by_row(report) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for e in report.errors:
        found.setdefault(e.row, set()).add(e.code)
    return found


def house_row(i: int, node, **extra) -> dict:
    lng, lat = point_in(node)
    row = {"路/街/村": "导入测试路", "弄": "8", "号": str(i), "室": "101", "房屋类型": "商品房",
           "建筑面积(m²)": 60 + i, "使用情况": "自住", "经度": lng, "纬度": lat}  # fmt: skip
    row.update(extra)
    return row


# --- templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(excel.TYPES))
def test_template_has_every_column_and_reads_back_empty(key):
    data = excel.template_bytes(key)
    headers, rows = excel.read_sheet(data)
    rtype = excel.TYPES[key]
    assert headers == [excel._header_key(c.header) for c in rtype.all_columns]
    assert list(rows) == []
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    first = [c.value for c in wb["数据"][1]]
    required = [c.header + "*" for c in rtype.all_columns if c.required]
    assert set(required) <= set(first)
    assert wb["说明"].max_row >= len(rtype.all_columns) + 1


def test_fast_reader_agrees_with_openpyxl(demo_town, micro):
    data = workbook("house", [house_row(i, micro, 租赁起始日期="2023-01-05") for i in range(1, 30)])
    headers, rows = excel.read_sheet(data)
    fast = list(rows)
    slow_rows, first = excel._openpyxl_rows(io.BytesIO(data))
    assert [excel._header_key(h) for h in first] == headers
    assert fast == list(slow_rows)


def test_reader_handles_dates_and_shared_strings():
    """A workbook as Excel writes it (shared strings, a date-formatted number)."""
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "出生日期", "数"])
    ws.append(["张三", datetime(1980, 5, 6), 1.5])
    buf = io.BytesIO()
    wb.save(buf)  # the normal writer uses shared strings
    headers, rows = excel.read_sheet(buf.getvalue())
    assert headers == ["姓名", "出生日期", "数"]
    assert list(rows) == [("张三", datetime(1980, 5, 6), 1.5)]


# --- the dry run reports every error, the commit writes nothing -----------------------------------


def imported(key: str, rows: list[dict]) -> None:
    report = excel.run_import(key, workbook(key, rows))
    assert report.committed, report.errors


def test_every_error_kind_is_reported_and_nothing_is_written(demo_town, micro, numbers):
    existing_id = numbers.id_number()
    imported("resident", [{"姓名": "已有", "身份证号": existing_id, "网格编码": micro.code}])
    good_id = numbers.id_number()
    bad_checksum = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    lng, lat = point_in(micro)
    rows = [
        {"姓名": "王一", "身份证号": good_id, "网格编码": micro.code},  # row 2: valid
        {"姓名": "王二", "身份证号": bad_checksum, "网格编码": micro.code},  # 3
        {"姓名": "王三", "身份证号": numbers.id_number(), "网格编码": "310115125999999"},  # 4
        {"姓名": "王四", "身份证号": numbers.id_number(), "经度": 120.0, "纬度": 30.0},  # 5
        {"姓名": "王五", "身份证号": good_id, "经度": lng, "纬度": lat},  # 6: as row 2
        {"姓名": "王六", "身份证号": existing_id, "网格编码": micro.code},  # 7: in the database
        {"身份证号": numbers.id_number(), "网格编码": micro.code},  # 8: no name
        {
            "姓名": "王八",
            "身份证号": numbers.id_number(),
            "手机号": "12345",
            "网格编码": micro.code,
        },
        {"姓名": "王九", "身份证号": numbers.id_number(), "性别": "未知", "网格编码": micro.code},
        {"姓名": "王十", "身份证号": numbers.id_number()},  # 11: no place
    ]
    before = Resident.objects.count()
    audits = AuditEvent.objects.filter(action="registry.import").count()
    report = excel.run_import("resident", workbook("resident", rows), dry_run=True)
    found = codes_by_row(report)
    assert 2 not in found
    assert found[3] == {excel.CHECKSUM}
    assert found[4] == {excel.UNKNOWN_GRID}
    assert found[5] == {excel.OUTSIDE}
    assert found[6] == {excel.DUP_FILE}
    assert found[7] == {excel.DUP_DB}
    assert found[8] == {excel.MISSING}
    assert found[9] == {excel.INVALID}
    assert found[10] == {excel.CHOICE}
    assert found[11] == {excel.MISSING}
    assert report.total == 10 and report.rejected_rows == 9 and report.valid == 1
    # Reasons are Chinese; personal values in the report are masked.
    row3 = next(e for e in report.errors if e.row == 3)
    assert "校验" in row3.reason and row3.column == "身份证号"
    assert row3.value != bad_checksum and "*" in row3.value

    committed = excel.run_import("resident", workbook("resident", rows))
    assert not committed.committed and committed.created == 0
    assert codes_by_row(committed) == found
    assert Resident.objects.count() == before
    assert AuditEvent.objects.filter(action="registry.import").count() == audits


def test_house_errors_against_the_database_scope_and_the_grid(
    demo_town, micro, other_micro, make_house, demo_user
):
    make_house(road="莲溪路", lane="100", number="5", room="301")  # registered by hand, no address
    other_lng, other_lat = point_in(other_micro)
    rows = [
        house_row(1, micro),  # 2: valid
        house_row(2, micro, **{"路/街/村": "莲溪路", "弄": "100弄", "号": "5号", "室": "301室"}),
        house_row(3, micro, 房屋类型="别墅"),  # 4
        house_row(4, micro, 网格编码=micro.code, 经度=other_lng, 纬度=other_lat),  # 5
        house_row(5, other_micro),  # 6: outside the community's scope
        house_row(6, micro, 租赁起始日期="2023-05-01", 租赁截止日期="2023-01-01"),  # 7
        house_row(7, micro, 号=None),  # 8
        house_row(1, micro),  # 9: the same address as row 2
        house_row(9, micro, 经度=None),  # 10: half a point
    ]
    community = demo_user("community_staff")
    report = excel.run_import("house", workbook("house", rows), actor=community, dry_run=True)
    found = codes_by_row(report)
    assert 2 not in found
    assert found[3] == {excel.DUP_DB}
    assert found[4] == {excel.CHOICE}
    assert found[5] == {excel.MISMATCH}
    assert found[6] == {excel.SCOPE}
    assert found[7] == {excel.INVALID}
    assert found[8] == {excel.MISSING}
    assert found[9] == {excel.DUP_FILE}
    assert excel.MISSING in found[10]
    # The system (CLI) has no scope limit: row 6 passes for it.
    assert 6 not in codes_by_row(excel.run_import("house", workbook("house", rows), dry_run=True))


def test_unreadable_and_incomplete_workbooks():
    with pytest.raises(excel.ImportError_) as exc:
        excel.run_import("house", b"not a workbook", dry_run=True)
    assert exc.value.code == "unreadable"
    with pytest.raises(excel.ImportError_) as exc:
        excel.run_import("resident", workbook("household", [{"户号": "1"}]), dry_run=True)
    assert exc.value.code == "missing_columns" and "姓名" in exc.value.message
    with pytest.raises(excel.ImportError_) as exc:
        excel.run_import("villa", b"", dry_run=True)
    assert exc.value.code == "unknown_type"


# --- clean workbooks import, all types --------------------------------------------------------


def test_clean_houses_households_and_residents_import(demo_town, micro, numbers):
    houses = [house_row(i, micro, 产权人电话=numbers.phone(), 标记="三合一场所",
                        非居住空间住人="厨房、阳台") for i in range(1, 21)]  # fmt: skip
    report = excel.run_import("house", workbook("house", houses), file_name="h.xlsx")
    assert report.ok and report.committed and report.created == 20
    imported = House.objects.filter(road="导入测试路")
    assert imported.count() == 20
    house = imported.get(number="3")
    assert house.grid_id == micro.pk and house.grid_code == micro.code
    assert house.address == "导入测试路8弄3号101室" == house.full_address
    assert house.flags == ["三合一场所"] and house.non_bedroom_sleeping == ["kitchen", "balcony"]
    assert house.owner_phone_masked.count("*") == 4 and house.version == 0
    assert house.group is not None and house.group.code.startswith(micro.code)
    event = AuditEvent.objects.filter(action="registry.import").latest("id")
    assert event.changes["rows"] == 20 and event.changes["type"] == "house"

    households = [{"房屋地址": f"导入测试路8弄{i}号101室", "户号": f"T{i}", "户主姓名": "李四",
                   "户类型": "户籍户"} for i in range(1, 6)]  # fmt: skip
    report = excel.run_import("household", workbook("household", households))
    assert report.committed, report.errors
    hh = Household.objects.get(number="T2")
    assert hh.house.number == "2" and hh.grid_code == micro.code and hh.lng == hh.house.lng

    id_number = numbers.id_number()
    residents = [
        {"姓名": "李四", "身份证号": id_number, "手机号": numbers.phone(), "居住房屋地址":
         "导入测试路8弄2号101室", "户号": "T2", "与户主关系": "本人", "标签": "60岁以上、独居"},
    ]  # fmt: skip
    report = excel.run_import("resident", workbook("resident", residents))
    assert report.committed, report.errors
    from towngrid.core.personal import lookup_hash

    person = Resident.objects.get(id_number_hash=lookup_hash("id_number", id_number))
    assert person.household == hh and person.house == hh.house and person.grid_code == micro.code
    assert person.tags == ["over_60", "living_alone"]
    assert person.gender in {"male", "female"} and person.birth_date is not None
    # A second import of the same person is a duplicate against the database.
    again = excel.run_import("resident", workbook("resident", residents), dry_run=True)
    assert codes_by_row(again) == {2: {excel.DUP_DB}}


def test_other_types_import(demo_town, micro, numbers):
    from towngrid.cases.catalogue import install_catalogue

    install_catalogue()
    code, code2 = numbers.credit_code(), numbers.credit_code()
    at = {"网格编码": micro.code}
    cases = {
        "enterprise": [{"企业名称": "上海测试科技有限公司", "统一社会信用代码": code,
                        "地址": "御桥路1号", "规上企业": "是", **at},
                       {"企业名称": "坏代码公司", "统一社会信用代码": code2[:-1] + "0"
                        if code2[-1] != "0" else code2[:-1] + "1", "地址": "御桥路2号", **at}],
        "shop": [{"商户名称": "测试面馆", "地址": "北中路1号", "所属联盟": "北中路商户联盟", **at}],
        "component": [{"部件类别": "窨井盖", "名称": "测试井盖", **at},
                      {"部件类别": "C0105", "名称": "测试井盖二", **at},
                      {"部件类别": "C9999", "名称": "不存在", **at}],
        "underground": [{"名称": "测试车库", "地址": "莲溪路1号地下", "面积(m²)": 500, **at}],
        "parcel": [{"地块名称": "测试地块", "阶段": "签约", "总户数": 10, "已签约户数": 11, **at}],
    }  # fmt: skip
    expected_errors = {"enterprise": {3: {excel.CHECKSUM}}, "component": {4: {excel.REFERENCE}},
                       "parcel": {2: {excel.INVALID}}}  # fmt: skip
    for key, rows in cases.items():
        report = excel.run_import(key, workbook(key, rows), dry_run=True)
        assert codes_by_row(report) == expected_errors.get(key, {}), key
    good = [r for r in cases["component"] if r["部件类别"] != "C9999"]
    report = excel.run_import("component", workbook("component", good))
    assert report.committed
    parts = Component.objects.filter(name__startswith="测试井盖").order_by("code")
    assert [p.kind for p in parts] == ["manhole", "manhole"]
    assert parts[0].code.startswith("3101150105") and len(parts[0].code) == 16
    assert parts[0].code != parts[1].code
    shop = excel.run_import("shop", workbook("shop", cases["shop"]))
    assert shop.committed
    from towngrid.registry.models import Shop

    assert Shop.objects.get(name="测试面馆").is_alliance_member


def test_progress_is_reported_through_every_phase(demo_town, micro):
    class Recorder:
        def __init__(self):
            self.total = 0
            self.done = 0
            self.messages = []

        def set_total(self, total):
            self.total = total

        def advance(self, n=1):
            self.done += n

        def say(self, message):
            self.messages.append(message)

    n = 2000
    rows = [house_row(i, micro, 室=str(i % 40 + 101), 号=str(i // 40)) for i in range(n)]
    recorder = Recorder()
    report = excel.run_import("house", workbook("house", rows), progress=recorder)
    assert report.committed and report.created == n
    assert recorder.total == 3 * n
    assert 2 * n <= recorder.done <= 3 * n  # the colour phase reports when rules exist
    assert "正在校验…" in recorder.messages and "正在写入…" in recorder.messages


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_reports_each_row_and_exits_non_zero(demo_town, micro, tmp_path, capsys):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(workbook("house", [house_row(1, micro), house_row(1, micro, 房屋类型="别墅")]))
    with pytest.raises(CommandError) as exc:
        call_command("registry", "import", "houses", str(path), "--no-progress",
                     "--report", str(tmp_path / "errors.xlsx"))  # fmt: skip
    assert exc.value.returncode == 1
    out = capsys.readouterr().out
    assert "第 3 行" in out and "房屋类型" in out
    assert (tmp_path / "errors.xlsx").is_file()
    assert not House.objects.filter(road="导入测试路").exists()

    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook("house", [house_row(1, micro)]))
    call_command("registry", "import", "house", str(good), "--dry-run", "--no-progress")
    assert not House.objects.filter(road="导入测试路").exists()
    call_command("registry", "import", "house", str(good), "--no-progress")
    assert House.objects.filter(road="导入测试路").count() == 1

    template = tmp_path / "t.xlsx"
    call_command("registry", "template", "resident", "-o", str(template))
    assert excel.read_sheet(template.read_bytes())[0][0] == "姓名"


# --- the API ----------------------------------------------------------------------------------


def test_api_dry_run_commit_and_rejection(demo_town, micro, login_as):
    client = login_as("community_staff")
    url = reverse("registry-import", args=["house"])
    data = workbook("house", [house_row(1, micro), house_row(2, micro, **{"建筑面积(m²)": "大"})])

    def post(payload, dry_run):
        return client.post(url, {"file": io.BytesIO(payload), "dry_run": dry_run},
                           format="multipart")  # fmt: skip

    response = post(data, "true")
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] and body["rejected"] == 1 and body["errors"][0]["row"] == 3
    assert body["errors"][0]["code"] == excel.INVALID
    response = post(data, "false")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "rejected"
    assert response.json()["error"]["details"]["errors"][0]["row"] == 3
    assert not House.objects.filter(road="导入测试路").exists()
    response = post(workbook("house", [house_row(1, micro)]), "false")
    assert response.status_code == 200 and response.json()["created"] == 1
    response = post(b"junk", "true")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unreadable"
    template = client.get(reverse("registry-import-template", args=["residents"]))
    assert template.status_code == 200 and template["Content-Type"].startswith("application/vnd")


def test_api_and_pages_refuse_users_without_the_capability(demo_town, login_as):
    client = login_as("grid_worker")  # may edit and reveal, may not import
    response = client.post(reverse("registry-import", args=["house"]), {})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.get(reverse("registry:io")).status_code == 403
    assert client.get(reverse("registry-import", args=["nothing"])).status_code in {403, 405}


# --- the pages: upload → report → commit, as background jobs ------------------------------------


def test_upload_page_reports_errors_then_commits_a_clean_batch(demo_town, micro, login_as):
    client = login_as("community_staff")
    page = client.get(reverse("registry:io"))
    assert page.status_code == 200 and "上传并校验" in page.content.decode()

    bad = workbook("house", [house_row(1, micro), house_row(2, micro, 使用情况="度假")])
    upload = io.BytesIO(bad)
    upload.name = "houses.xlsx"
    response = client.post(reverse("registry:io_upload"), {"type": "house", "file": upload})
    batch = ImportBatch.objects.latest("id")
    assert response.status_code == 302 and response.url == reverse(
        "registry:io_batch", args=[batch.pk]
    )
    assert batch.status == "rejected" and batch.rejected_rows == 1
    page = client.get(response.url).content.decode()
    assert "使用情况只能填" in page and 'data-code="unknown_choice"' in page
    assert batch.check_job.file_name.endswith(".xlsx")  # the error report to download
    refused = client.post(reverse("registry:io_commit", args=[batch.pk]))
    assert refused.status_code == 302 and not House.objects.filter(road="导入测试路").exists()

    upload = io.BytesIO(workbook("house", [house_row(1, micro), house_row(2, micro)]))
    upload.name = "houses.xlsx"
    response = client.post(reverse("registry:io_upload"), {"type": "house", "file": upload})
    batch = ImportBatch.objects.latest("id")
    assert batch.status == "checked"
    assert "确认导入" in client.get(response.url).content.decode()
    client.post(reverse("registry:io_commit", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == "done" and batch.created_rows == 2
    assert House.objects.filter(road="导入测试路").count() == 2
    assert "已导入 2 条" in client.get(response.url).content.decode()
    # Another user cannot see the batch.
    other = login_as("sysadmin")
    assert other.get(reverse("registry:io_batch", args=[batch.pk])).status_code == 404


# --- the fast reader against openpyxl's, on arbitrary cells ---------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Text openpyxl can store: no control characters other than tab and newline.
_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    max_size=12,
)
_cells = st.one_of(
    st.none(),
    _cell_text,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_cells, min_size=1, max_size=5), min_size=1, max_size=6),
       write_only=st.booleans())  # fmt: skip
def test_fast_reader_reads_what_openpyxl_reads(rows, write_only):
    from openpyxl import Workbook

    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("数据") if write_only else wb.active
    ws.append(["表头"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    fast = list(excel._fast_rows(io.BytesIO(data)))
    slow = list(excel._openpyxl_rows(io.BytesIO(data))[0])

    def trim(values):
        values = list(values)
        while values and values[-1] in (None, ""):
            values.pop()
        return [None if v == "" else v for v in values]

    slow_all = [excel._openpyxl_rows(io.BytesIO(data))[1], *slow]
    assert [trim(r) for r in fast] == [trim(r) for r in slow_all]
