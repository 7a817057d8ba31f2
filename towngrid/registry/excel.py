"""Excel import of the registry: one column spec per registry type, a template per type, a dry
run that reports every rejected row with its reason, and an all-or-nothing commit.

The flow, the same from the page, the API and the CLI::

    report = run_import("house", path_or_file, actor=user, dry_run=True, progress=p)
    report.errors      # every rejected cell: row, column, value, code, reason (Chinese)
    report = run_import("house", path_or_file, actor=user)   # writes only if no row is rejected

Reading (``read_sheet``) maps the header row onto the type's columns (a trailing ``*`` marks a
required column in the template and is ignored), then every row is parsed column by column;
locations are resolved in bulk (grid codes from one query, coordinates through the grid index's
vectorised ``lookup_many``), references (a household's house, a resident's household) from one
query per kind, duplicates within the file and against the database by each type's natural key
(address, identity number through the blind index, credit code, component code …). Nothing is
written while any row is rejected.

The commit writes in one transaction with ``bulk_create`` (no per-row signals or audit events),
records one audit event for the whole import, and afterwards asks the colour engine to recompute
the new objects in bulk (``towngrid.codes.colours.recompute_many`` when it exists).

Personal values in reports are masked: an error report is shown and downloaded, and it must not
become a side channel for identity numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from towngrid.core import checksums, personal

# The most rows one workbook may hold: far above a town's registry of one type (Beicai has about
# 250,000 residents), low enough that a mistaken upload cannot exhaust the server.
MAX_ROWS = 300_000
# Rows per INSERT batch: large batches amortise the round trips; SQLite's variable limit (32,766
# since 3.32) allows ~1,000 rows of 30 columns.
WRITE_BATCH = 1000
# Values per ``IN (…)`` query when checking duplicates against the database.
QUERY_CHUNK = 900
SEPARATORS = re.compile(r"[、,，;；/\n]+")
CRS_LABELS = {"": "wgs84", "WGS84": "wgs84", "WGS-84": "wgs84", "CGCS2000": "wgs84",
              "GPS": "wgs84", "GCJ02": "gcj02", "GCJ-02": "gcj02", "高德": "gcj02",
              "腾讯": "gcj02", "BD09": "bd09", "BD-09": "bd09", "百度": "bd09"}  # fmt: skip
TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓", "有"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "无", ""}


class ImportError_(Exception):
    """The workbook cannot be read at all (not an xlsx, no header row, too many rows)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- error codes (stable, for the API) and their Chinese wording ------------------------------

MISSING = "missing_field"
CHECKSUM = "bad_checksum"
INVALID = "invalid_value"
CHOICE = "unknown_choice"
UNKNOWN_GRID = "unknown_grid"
OUTSIDE = "outside_town"
MISMATCH = "grid_mismatch"
SCOPE = "out_of_scope"
DUP_FILE = "duplicate_in_file"
DUP_DB = "duplicate_in_db"
REFERENCE = "unknown_reference"

ERROR_LABELS = {
    MISSING: "缺少必填项",
    CHECKSUM: "校验位错误",
    INVALID: "格式错误",
    CHOICE: "不在可选值内",
    UNKNOWN_GRID: "网格不存在",
    OUTSIDE: "坐标不在本镇",
    MISMATCH: "坐标与网格不符",
    SCOPE: "超出管辖范围",
    DUP_FILE: "文件内重复",
    DUP_DB: "系统中已存在",
    REFERENCE: "关联对象不存在",
}


# --- column specs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a type's workbook.

    ``field`` is the model field it fills, or a pseudo field starting with ``_`` that the
    importer resolves (``_grid``, ``_lng``, ``_lat``, ``_crs``, ``_house``, ``_household``).
    ``kind`` decides the parsing: text, int, decimal, bool, date, year, choice, choices (a list
    of choice labels), list (free words), id_number, phone, credit_code, category, department,
    component_code.
    """

    header: str
    field: str
    kind: str = "text"
    required: bool = False
    help: str = ""
    example: str = ""
    max_length: int | None = None

    @property
    def personal(self) -> bool:
        return self.kind in {"id_number", "phone"}


LOCATION_COLUMNS = (
    Column("网格编码", "_grid", "grid", help="微网格（15 位）或楼组/队组（18 位）编码；与经纬度至少填一项",
           example="310115125601001"),
    Column("经度", "_lng", "decimal", help="WGS-84 经度（坐标系另有说明时按该坐标系）",
           example="121.5421"),
    Column("纬度", "_lat", "decimal", help="WGS-84 纬度", example="31.1893"),
    Column("坐标系", "_crs", "crs", help="WGS-84（默认，含 GPS、CGCS2000）、GCJ-02（高德、腾讯）、BD-09（百度）",
           example="WGS-84"),
)  # fmt: skip


@dataclass
class RegistryType:
    """A registry type as the importer and the exports know it."""

    key: str
    label: str
    model_name: str
    columns: tuple[Column, ...]
    located: bool = True  # has the location columns (a household takes its house's location)

    @property
    def model(self):
        return apps.get_model("registry", self.model_name)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + (LOCATION_COLUMNS if self.located else ())

    def column(self, field_name: str) -> Column | None:
        return next((c for c in self.all_columns if c.field == field_name), None)


HOUSE_COLUMNS = (
    Column("路/街/村", "road", required=True, max_length=100, example="北中路",
           help="道路、街巷或村名"),
    Column("弄", "lane", "part", max_length=20, example="100"),
    Column("号", "number", "part", required=True, max_length=20, example="5"),
    Column("幢", "building", "part", max_length=20, example="3"),
    Column("室", "room", "part", max_length=20, example="201"),
    Column("房屋类型", "house_type", "choice", required=True, example="商品房"),
    Column("建筑面积(m²)", "floor_area", "decimal", required=True, example="68.5"),
    Column("居住面积(m²)", "living_area", "decimal", example="45"),
    Column("原始设计房间数", "rooms", "int", example="2"),
    Column("使用情况", "use", "choice", required=True, example="自住"),
    Column("是否出租", "is_rented", "bool", example="否"),
    Column("承租人数", "tenant_count", "int", example="0"),
    Column("出租房间数", "rented_rooms", "int", example="0"),
    Column("租赁起始日期", "lease_start", "date", example="2023-01-01"),
    Column("租赁截止日期", "lease_end", "date", example="2024-12-31"),
    Column("房东姓名", "landlord_name", max_length=50),
    Column("实住人数", "occupants", "int", example="3"),
    Column("家庭居住", "is_family_occupancy", "bool", example="是",
           help="实住人员之间均有法定赡养、抚养、扶养关系"),
    Column("非居住空间住人", "non_bedroom_sleeping", "choices",
           help="厨房、卫生间、阳台、地下室，可填多项，用顿号分隔"),
    Column("标记", "flags", "list", help="如 三合一场所、违法建筑，可填多项，用顿号分隔"),
    Column("产权人姓名", "owner_name", max_length=50, example="张建国"),
    Column("产权人电话", "owner_phone", "phone", example="13900000001"),
    Column("层数", "storeys", "int", help="农村自建房填写", example="3"),
    Column("建成年份", "built_year", "year", example="1998"),
)  # fmt: skip

HOUSEHOLD_COLUMNS = (
    Column("房屋地址", "_house", "house", required=True, example="北中路100弄5号3幢201室",
           help="系统中已登记房屋的完整地址"),
    Column("户号", "number", required=True, max_length=30, example="H0001"),
    Column("户主姓名", "head_name", required=True, max_length=50, example="张建国"),
    Column("户类型", "household_type", "choice", required=True, example="户籍户"),
    Column("户籍地址", "registered_address", max_length=200),
)  # fmt: skip

RESIDENT_COLUMNS = (
    Column("姓名", "name", required=True, max_length=50, example="张建国"),
    Column("身份证号", "id_number", "id_number", required=True, example="310115198001010013",
           help="18 位公民身份号码，请以文本格式填写"),
    Column("手机号", "phone", "phone", example="13900000001"),
    Column("性别", "gender", "choice", help="不填时按身份证号推定", example="男"),
    Column("出生日期", "birth_date", "date", help="不填时按身份证号推定"),
    Column("户籍地", "registered_residence", max_length=200, example="上海市浦东新区"),
    Column("居住房屋地址", "_house", "house", example="北中路100弄5号3幢201室",
           help="系统中已登记房屋的完整地址；填写后按房屋定位，可不填网格和经纬度"),
    Column("户号", "_household", "text", max_length=30, help="居住房屋中已登记的户号"),
    Column("与户主关系", "relation_to_head", max_length=20, example="本人"),
    Column("标签", "tags", "choices", help="如 60岁以上、独居，可填多项，用顿号分隔"),
)  # fmt: skip

ENTERPRISE_COLUMNS = (
    Column("企业名称", "name", required=True, max_length=200, example="上海某某科技有限公司"),
    Column("统一社会信用代码", "credit_code", "credit_code", required=True,
           example="91310115000000017J"),
    Column("行业", "industry", max_length=100, example="软件和信息技术服务业"),
    Column("规上企业", "is_above_scale", "bool", example="否"),
    Column("地址", "address", required=True, max_length=200, example="御桥路1000号"),
    Column("联系人", "contact_name", max_length=50),
    Column("联系电话", "contact_phone", "phone"),
    Column("从业人数", "employees", "int"),
    Column("重点企业", "is_key", "bool", example="否"),
)  # fmt: skip

SHOP_COLUMNS = (
    Column("商户名称", "name", required=True, max_length=200, example="北中路便利店"),
    Column("所在道路", "street", max_length=100, example="北中路"),
    Column("地址", "address", required=True, max_length=200, example="北中路88号"),
    Column("经营类别", "business_type", max_length=100, example="餐饮"),
    Column("联系人", "contact_name", max_length=50),
    Column("联系电话", "contact_phone", "phone"),
    Column("商户联盟成员", "is_alliance_member", "bool", example="是"),
    Column("所属联盟", "alliance", max_length=100, example="北中路商户联盟"),
)  # fmt: skip

COMPONENT_COLUMNS = (
    Column("部件类别", "category", "category", required=True, example="C0105",
           help="部件小类的完整编码（如 C0105）或名称（如 窨井盖）"),
    Column("部件编码", "code", "component_code", example="3101150105000001",
           help="16 位：310115 + 大类 + 小类 + 6 位序号；不填时自动编号"),
    Column("名称", "name", required=True, max_length=100, example="北中路88号窨井盖"),
    Column("状态", "status", "choice", example="完好", help="不填为 完好"),
    Column("主管部门", "owner_department", "department", help="部门名称、简称或编码"),
    Column("养护单位", "maintainer", max_length=100),
    Column("设置日期", "installed_on", "date"),
    Column("地址", "address", max_length=200),
)  # fmt: skip

UNDERGROUND_COLUMNS = (
    Column("名称", "name", required=True, max_length=100, example="莲溪二村民防工程"),
    Column("用途", "use", max_length=100, example="停车"),
    Column("面积(m²)", "area", "decimal", example="1200"),
    Column("管理单位", "manager", max_length=100),
    Column("联系电话", "contact_phone", "phone"),
    Column("地址", "address", required=True, max_length=200),
)  # fmt: skip

PARCEL_COLUMNS = (
    Column("地块名称", "name", required=True, max_length=100, example="901 单元 15-04 地块"),
    Column("单元", "unit", max_length=50, example="御桥社区 901 单元"),
    Column("阶段", "stage", "choice", required=True, example="签约"),
    Column("总户数", "households_total", "int", example="37"),
    Column("已签约户数", "households_signed", "int", example="37"),
    Column("地址", "address", max_length=200),
)  # fmt: skip

TYPES: dict[str, RegistryType] = {
    t.key: t
    for t in (
        RegistryType("house", "房屋", "House", HOUSE_COLUMNS),
        RegistryType("household", "户", "Household", HOUSEHOLD_COLUMNS, located=False),
        RegistryType("resident", "实有人口", "Resident", RESIDENT_COLUMNS),
        RegistryType("enterprise", "企业", "Enterprise", ENTERPRISE_COLUMNS),
        RegistryType("shop", "商户", "Shop", SHOP_COLUMNS),
        RegistryType("component", "部件", "Component", COMPONENT_COLUMNS),
        RegistryType("underground", "地下空间", "UndergroundSpace", UNDERGROUND_COLUMNS),
        RegistryType("parcel", "地块", "LandParcel", PARCEL_COLUMNS),
    )
}


def get_type(key: str) -> RegistryType:
    try:
        return TYPES[key]
    except KeyError:
        names = "、".join(f"{k}（{t.label}）" for k, t in TYPES.items())
        raise ImportError_("unknown_type", f"未知的登记类型：{key}。可选：{names}") from None


# What people append to the parts of an address; the house stores the bare part and
# ``House.full_address`` adds the word back (100 → 100弄).
PART_SUFFIXES = {
    "lane": ("弄",),
    "number": ("号",),
    "building": ("号楼", "幢", "栋", "号"),
    "room": ("室", "号"),
}


def strip_part(field_name: str, text: str) -> str:
    text = normalise_address(text)
    for suffix in PART_SUFFIXES.get(field_name, ()):
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def compose_house_address(road="", lane="", number="", building="", room="") -> str:
    """The house address as stored and matched: ``House.full_address`` of the parts, without
    spaces (北中路100弄5号3幢201室). Households and residents refer to houses by it."""
    House = apps.get_model("registry", "House")
    # The property's own code on a plain namespace: a model instance per row costs 20 µs.
    parts = SimpleNamespace(road=road or "", lane=lane or "", number=number or "",
                            building=building or "", room=room or "", address="")  # fmt: skip
    return normalise_address(House.full_address.fget(parts))


def normalise_address(text: str) -> str:
    return re.sub(r"\s+", "", str(text or ""))


def choices_of(rtype: RegistryType, column: Column) -> dict[str, str]:
    """label → value for a choice column, plus the values themselves (case-insensitive keys).
    Labels are read in Chinese whatever the request language: the workbook is Chinese."""
    if column.field == "tags":
        from . import models as registry_models

        pairs = list(getattr(registry_models, "RESIDENT_TAGS", {}).items())
    elif column.field == "non_bedroom_sleeping":
        pairs = [("kitchen", "厨房"), ("bathroom", "卫生间"), ("balcony", "阳台"),
                 ("basement", "地下室")]  # fmt: skip
    else:
        with translation.override("zh-hans"):
            pairs = [
                (v, str(label)) for v, label in rtype.model._meta.get_field(column.field).choices
            ]
    mapping: dict[str, str] = {}
    for value, label in pairs:
        mapping[str(label).lower()] = value
        mapping[str(value).lower()] = value
    return mapping


def choice_labels(rtype: RegistryType, column: Column) -> list[str]:
    """The Chinese labels, in order, for templates and messages."""
    seen: dict[str, None] = {}
    reverse: dict[str, str] = {}
    for key, value in choices_of(rtype, column).items():
        reverse.setdefault(value, key)
    if column.field == "tags":
        from . import models as registry_models

        return list(getattr(registry_models, "RESIDENT_TAGS", {}).values())
    if column.field == "non_bedroom_sleeping":
        return ["厨房", "卫生间", "阳台", "地下室"]
    with translation.override("zh-hans"):
        for _value, label in rtype.model._meta.get_field(column.field).choices:
            seen[str(label)] = None
    return list(seen)


# --- reports --------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int  # the Excel row number (the header is row 1)
    column: str  # the column header ("" for a whole-row problem)
    value: str
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "code": self.code,
                "reason": self.reason}  # fmt: skip


@dataclass
class ImportReport:
    type: str
    file_name: str = ""
    total: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = True
    committed: bool = False
    created: int = 0
    seconds: float = 0.0

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.errors if e.row})

    @property
    def valid(self) -> int:
        return self.total - self.rejected_rows

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts_by_code(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for e in self.errors:
            counts[e.code] += 1
        return dict(counts)

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "file_name": self.file_name,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "total": self.total,
            "valid": self.valid,
            "rejected": self.rejected_rows,
            "created": self.created,
            "seconds": round(self.seconds, 2),
            "error_counts": self.counts_by_code(),
            "warnings": self.warnings,
            "errors": [e.as_dict() for e in self.errors],
        }


# --- progress -------------------------------------------------------------------------------


class NullProgress:
    """The progress interface of ``core.jobs.JobProgress``; the CLI wraps tqdm in the same."""

    def set_total(self, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def say(self, message: str) -> None:
        pass


# --- reading --------------------------------------------------------------------------------


def _header_key(text: Any) -> str:
    return re.sub(r"[\s*＊]|（必填）|\(必填\)", "", str(text or ""))


def read_sheet(source: str | Path | bytes | IO[bytes]) -> tuple[list[str], Iterator[tuple]]:
    """The header row and an iterator over the data rows (tuples of cell values) of the first
    worksheet. Raises ImportError_ for a file that is not a readable xlsx workbook.

    The sheet is streamed with lxml (``_fast_rows``): openpyxl's reader builds an object per
    cell and reads 100,000 rows about ten times slower. Values are what openpyxl would give
    (shared and inline strings, numbers, booleans, dates by their cell style); a workbook the
    fast reader cannot follow is read by openpyxl instead.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        rows = _fast_rows(source)
        first = next(rows, None)
    except ImportError_:
        raise
    except Exception:
        if hasattr(source, "seek"):
            source.seek(0)
        rows, first = _openpyxl_rows(source)
    while first is not None:
        if any(v not in (None, "") for v in first):
            return [_header_key(h) for h in first], rows
        first = next(rows, None)
    raise ImportError_("empty", "工作表为空：第一行应为表头。")


def _unreadable(exc: Exception) -> ImportError_:
    return ImportError_(
        "unreadable",
        f"无法读取文件：请上传 Excel 工作簿（.xlsx）。（{exc.__class__.__name__}）",
    )


def _openpyxl_rows(source) -> tuple[Iterator[tuple], tuple | None]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, KeyError, InvalidFileException …: all mean "not xlsx"
        raise _unreadable(exc) from None
    rows = wb.worksheets[0].iter_rows(values_only=True)
    return rows, next(rows, None)


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# SpreadsheetML rows and cells, with or without a namespace prefix (x:row from some writers).
_ROW = re.compile(r"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_CELL = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_VALUE = re.compile(r"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
# Text runs of an inline string, phonetic runs (rPh) left out.
_TEXT = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>")


_FAST_CELL = re.compile(
    r'<c r="([A-Z]{1,3})\d+"([^>]*?)(?:/>|>(?:<f\b[^>]*?(?:/>|>[^<]*</f>))?'
    r"(?:<v>([^<]*)</v>|<is>(.*?)</is>)?</c>)",
    re.S,
)
_CHARREF = re.compile(r"&#(\d+);")


def _number(text: str) -> int | float:
    number = float(text)
    if number.is_integer() and "." not in text and "E" not in text.upper():
        return int(number)
    return number


@functools.lru_cache(maxsize=65536)  # the same labels and names come back row after row
def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    # openpyxl writes every non-ASCII character as a decimal reference: the common case first.
    text = _CHARREF.sub(lambda m: chr(int(m.group(1))), text)
    if "&" not in text:
        return text
    import html

    return html.unescape(text)


_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _column_index(ref: str) -> int:
    index = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            index = index * 26 + ord(ch) - 64
        else:
            break
    return index - 1


def _fast_rows(source) -> Iterator[tuple]:
    """Rows of the first worksheet as tuples, streamed with lxml.iterparse."""
    import posixpath
    import zipfile

    from lxml import etree
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
    from openpyxl.utils.datetime import from_excel

    try:
        archive = zipfile.ZipFile(source)
        workbook = etree.fromstring(archive.read("xl/workbook.xml"))
    except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError) as exc:
        raise _unreadable(exc) from None
    sheet = workbook.find(f"{_NS}sheets/{_NS}sheet")
    rel_id = sheet.get(f"{_REL_NS}id")
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target") for r in rels if r.get("Id") == rel_id)
    path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    path = posixpath.normpath(path)

    shared: list[str] = []
    if "xl/sharedStrings.xml" in archive.namelist():
        for si in etree.fromstring(archive.read("xl/sharedStrings.xml")).iterfind(f"{_NS}si"):
            # Rich text: the runs' texts (phonetic runs excluded).
            shared.append("".join(t.text or "" for t in si.iter(f"{_NS}t")
                                  if t.getparent().tag != f"{_NS}rPh"))  # fmt: skip
    date_styles: set[int] = set()
    epoch_1904 = False
    pr = workbook.find(f"{_NS}workbookPr")
    if pr is not None and pr.get("date1904") in {"1", "true"}:
        epoch_1904 = True
    if "xl/styles.xml" in archive.namelist():
        styles = etree.fromstring(archive.read("xl/styles.xml"))
        custom = {int(f.get("numFmtId")): f.get("formatCode") or ""
                  for f in styles.iterfind(f"{_NS}numFmts/{_NS}numFmt")}  # fmt: skip
        xfs = styles.find(f"{_NS}cellXfs")
        for index, xf in enumerate(xfs if xfs is not None else []):
            fmt_id = int(xf.get("numFmtId") or 0)
            code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id) or ""
            if code and is_date_format(code):
                date_styles.add(index)
    from datetime import datetime as _datetime

    epoch = _datetime(1904, 1, 1) if epoch_1904 else None

    def value_of(cell) -> Any:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            node = cell.find(f"{_NS}is")
            return "".join(t.text or "" for t in node.iter(f"{_NS}t")) if node is not None else ""
        v = cell.find(f"{_NS}v")
        if v is None or v.text is None:
            return None
        text = v.text
        if kind == "s":
            return shared[int(text)]
        if kind in {"str", "e"}:
            return text
        if kind == "b":
            return text == "1"
        if kind == "d":
            return _datetime.fromisoformat(text)
        number = float(text)
        style = cell.get("s")
        if style is not None and int(style) in date_styles:
            return from_excel(number, epoch) if epoch else from_excel(number)
        return int(number) if number.is_integer() and "." not in text and "E" not in text \
            else number  # fmt: skip

    def cells_of(body: str) -> list:
        values: list = []
        for position, match in enumerate(_CELL.finditer(body)):
            attrs = dict(_ATTR.findall(match.group(1)))
            inner = match.group(2) or ""
            ref = attrs.get("r")
            col = _column_index(ref) if ref else position
            if col >= len(values):
                values.extend([None] * (col - len(values) + 1))
            values[col] = cell_value(attrs.get("t", "n"), attrs.get("s"), inner)
        return values

    columns: dict[str, int] = {}
    kinds: dict[str, tuple[str, str | None]] = {}

    def cells_fast(body: str) -> list:
        """The common shape (``<c r="B2" …><v>…</v></c>``, inline strings, formulas) by one
        findall per row; anything else goes through ``cells_of``."""
        found = _FAST_CELL.findall(body)
        if len(found) != body.count("<c "):
            return cells_of(body)
        values: list = []
        for letters, attrs, v, inline in found:
            col = columns.get(letters)
            if col is None:
                col = columns[letters] = _column_index(letters)
            kind_style = kinds.get(attrs)
            if kind_style is None:
                parsed = dict(_ATTR.findall(attrs))
                kind_style = kinds[attrs] = (parsed.get("t", "n"), parsed.get("s"))
            kind, style = kind_style
            if col >= len(values):
                values.extend([None] * (col - len(values) + 1))
            if kind == "s" and v:
                values[col] = shared[int(v)]
            elif kind == "inlineStr":
                values[col] = _unescape("".join(_TEXT.findall(inline)))
            elif kind == "n" and v and style is None:
                values[col] = int(v) if v.isdigit() else _number(v)
            else:
                values[col] = cell_value(kind, style, f"<v>{v}</v>" if v else "")
        return values

    def cell_value(kind: str, style: str | None, inner: str) -> Any:
        if kind == "inlineStr":
            return _unescape("".join(_TEXT.findall(inner)))
        found = _VALUE.search(inner)
        if found is None:
            return None
        text = found.group(1)
        if kind == "s":
            return shared[int(text)]
        if kind in {"str", "e"}:
            return _unescape(text)
        if kind == "b":
            return text == "1"
        if kind == "d":
            return _datetime.fromisoformat(text)
        number = float(text)
        if style is not None and int(style) in date_styles:
            return from_excel(number, epoch) if epoch else from_excel(number)
        if number.is_integer() and "." not in text and "E" not in text.upper():
            return int(number)
        return number

    def rows() -> Iterator[tuple]:
        # The sheet XML is read in blocks and cut at the last complete row: regular expressions
        # over the text are about ten times faster than an XML parser's per-element objects,
        # and memory stays at one block however long the sheet.
        with archive.open(path) as raw:
            stream = io.TextIOWrapper(raw, encoding="utf-8")
            expected = 1
            buffer = ""
            while True:
                block = stream.read(1 << 22)
                buffer += block
                end = buffer.rfind("row>") if block else len(buffer)
                if end < 0:
                    if not block:
                        break
                    continue
                end = end + 4 if block else end
                segment, buffer = buffer[:end], buffer[end:]
                for match in _ROW.finditer(segment):
                    attrs = dict(_ATTR.findall(match.group(1)))
                    number = int(attrs.get("r") or expected)
                    while expected < number:  # rows left out of the file are empty rows
                        yield ()
                        expected += 1
                    yield tuple(cells_fast(match.group(2) or ""))
                    expected = number + 1
                if not block:
                    break

    return rows()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M") if value.time() != dt.time() else f"{value:%Y-%m-%d}"
        )
    return str(value).strip()


class _CellError(Exception):
    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason


def _parse_int(value: Any, column: Column) -> int:
    if isinstance(value, bool):
        raise _CellError(INVALID, f"{column.header}应为整数")
    if isinstance(value, int):
        number = value
    else:
        try:
            as_float = float(_text(value))
        except ValueError:
            raise _CellError(INVALID, f"{column.header}应为整数") from None
        if not as_float.is_integer():
            raise _CellError(INVALID, f"{column.header}应为整数")
        number = int(as_float)
    limit = INT_LIMITS.get(column.field, 32767)  # PositiveSmallIntegerField unless listed
    if number < 0 or number > limit:
        raise _CellError(INVALID, f"{column.header}应在 0–{limit} 之间")
    return number


# Integer columns stored in wider fields than a small integer.
INT_LIMITS = {"employees": 10_000_000, "households_total": 1_000_000,
              "households_signed": 1_000_000}  # fmt: skip


def _parse_decimal(value: Any, column: Column) -> Decimal:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise _CellError(INVALID, f"{column.header}应为数字") from None
    if not number.is_finite():
        raise _CellError(INVALID, f"{column.header}应为数字")
    if column.field in {"_lng", "_lat"}:
        return number
    if number < 0 or number >= Decimal("100000000"):
        raise _CellError(INVALID, f"{column.header}应为不小于 0 的数字")
    return number.quantize(Decimal("0.01"))


def _parse_bool(value: Any, column: Column) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _CellError(INVALID, f"{column.header}应填 是 或 否")


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


def _parse_date(value: Any, column: Column) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _CellError(INVALID, f"{column.header}应为日期，如 2023-03-01")


def _parse_year(value: Any, column: Column) -> int:
    year = _parse_int(value, column)
    if not 1800 <= year <= timezone.localdate().year:
        raise _CellError(INVALID, f"{column.header}应为四位年份")
    return year


def _validated(func: Callable[[str], str], value: Any, column: Column) -> str:
    if isinstance(value, float):
        # An 18-digit number typed as a number has lost its last digits: say so.
        raise _CellError(INVALID, f"{column.header}须以文本格式填写（数字格式会丢失末位）")
    try:
        return func(_text(value))
    except ValidationError as exc:
        codes = {getattr(e, "code", "") for e in exc.error_list}
        code = CHECKSUM if any(c and c.endswith("checksum") for c in codes) else INVALID
        return _raise(code, personal.validation_message(exc))


def _raise(code: str, reason: str):
    raise _CellError(code, reason)


def display_value(column: Column, value: Any) -> str:
    """The cell as shown in a report: personal values masked (PIPL), long text cut."""
    if _blank(value):
        return ""
    text = _text(value)
    if column.kind == "id_number":
        return personal.mask_id_number(checksums.normalize_id_number(text))
    if column.kind == "phone":
        return personal.mask_phone(checksums.normalize_phone(text))
    return text[:100]


# --- reference data loaded once per import ----------------------------------------------------


@dataclass
class _GridInfo:
    id: int
    code: str
    level: int
    micro_id: int
    micro_code: str
    group_id: int | None
    lng: float | None
    lat: float | None


def _grid_table() -> dict[str, _GridInfo]:
    """Micro-grids and building groups by code (a few thousand rows: one query)."""
    from towngrid.grids.models import GridNode, Level

    rows = list(
        GridNode.objects.filter(level__in=(Level.MICRO, Level.GROUP)).values_list(
            "id", "code", "level", "parent_id", "centroid_lng", "centroid_lat"
        )
    )
    by_id = {r[0]: r for r in rows}
    table: dict[str, _GridInfo] = {}
    for node_id, code, level, parent_id, lng, lat in rows:
        if level == Level.MICRO:
            table[code] = _GridInfo(node_id, code, level, node_id, code, None, lng, lat)
        else:
            parent = by_id.get(parent_id)
            if parent is None:
                continue
            table[code] = _GridInfo(node_id, code, level, parent[0], parent[1], node_id, lng, lat)
    return table


class _Context:
    """What one import needs besides the rows: the actor, grids, categories, departments."""

    def __init__(self, rtype: RegistryType, actor):
        self.rtype = rtype
        self.actor = actor
        self._grids: dict[str, _GridInfo] | None = None
        self._categories: dict[str, Any] | None = None
        self._departments: dict[str, int] | None = None
        self.choice_maps = {
            c.field: choices_of(rtype, c)
            for c in rtype.all_columns
            if c.kind in {"choice", "choices"}
        }
        # The model's own limits win over the spec's (one source of truth for lengths).
        self.max_lengths: dict[str, int] = {}
        for column in rtype.all_columns:
            try:
                limit = rtype.model._meta.get_field(column.field).max_length
            except Exception:  # pseudo fields (_house …) are not model fields
                continue
            if limit:
                self.max_lengths[column.field] = limit

    @property
    def grids(self) -> dict[str, _GridInfo]:
        if self._grids is None:
            self._grids = _grid_table()
        return self._grids

    @property
    def categories(self) -> dict[str, Any]:
        """Component subclasses by full code, name and class+subclass digits."""
        if self._categories is None:
            from towngrid.cases.models import Category, CategoryKind

            table: dict[str, Any] = {}
            for cat in Category.objects.filter(major__kind=CategoryKind.COMPONENT).select_related(
                "major"
            ):
                table[cat.full_code.upper()] = cat
                table.setdefault(cat.name, cat)
                table[f"{cat.major.code}{cat.code}"] = cat
            self._categories = table
        return self._categories

    @property
    def departments(self) -> dict[str, int]:
        if self._departments is None:
            from towngrid.accounts.models import Department

            table: dict[str, int] = {}
            for dep in Department.objects.all():
                for key in (dep.code, dep.name, getattr(dep, "short_name", "")):
                    if key:
                        table[str(key)] = dep.pk
            self._departments = table
        return self._departments

    def in_scope(self, grid_code: str) -> bool:
        if self.actor is None:
            return True  # the CLI and the demo act as the system
        from towngrid.accounts.access import in_grid_scope

        if getattr(self.actor, "is_superuser", False):
            return True
        return in_grid_scope(self.actor, grid_code)


def _parse_cell(ctx: _Context, column: Column, value: Any) -> Any:
    kind = column.kind
    if kind in {"text", "house", "part"}:
        text = _text(value)
        if kind == "part":
            text = strip_part(column.field, text)
        limit = ctx.max_lengths.get(column.field) or column.max_length
        if limit and len(text) > limit:
            raise _CellError(INVALID, f"{column.header}不能超过 {limit} 个字")
        return text
    if kind == "int":
        return _parse_int(value, column)
    if kind == "decimal":
        return _parse_decimal(value, column)
    if kind == "bool":
        return _parse_bool(value, column)
    if kind == "date":
        return _parse_date(value, column)
    if kind == "year":
        return _parse_year(value, column)
    if kind == "choice":
        mapping = ctx.choice_maps[column.field]
        found = mapping.get(_text(value).lower())
        if found is None:
            labels = "、".join(choice_labels(ctx.rtype, column))
            raise _CellError(CHOICE, f"{column.header}只能填：{labels}")
        return found
    if kind == "choices":
        mapping = ctx.choice_maps[column.field]
        values = []
        for word in SEPARATORS.split(_text(value)):
            word = word.strip()
            if not word:
                continue
            found = mapping.get(word.lower())
            if found is None:
                labels = "、".join(choice_labels(ctx.rtype, column))
                raise _CellError(CHOICE, f"{column.header}中的“{word}”不是可选值（{labels}）")
            if found not in values:
                values.append(found)
        return values
    if kind == "list":
        return [w.strip() for w in SEPARATORS.split(_text(value)) if w.strip()][:20]
    if kind == "id_number":
        return _validated(checksums.validate_id_number, value, column)
    if kind == "phone":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 11 digits survive a numeric cell
        return _validated(checksums.validate_phone, value, column)
    if kind == "credit_code":
        return _validated(checksums.validate_credit_code, value, column)
    if kind == "grid":
        code = _text(value)
        info = ctx.grids.get(code)
        if info is None:
            raise _CellError(UNKNOWN_GRID, f"网格编码 {code} 不存在（应为微网格或楼组/队组编码）")
        return info
    if kind == "crs":
        crs = CRS_LABELS.get(_text(value).upper().replace(" ", ""))
        if crs is None:
            raise _CellError(CHOICE, "坐标系只能填 WGS-84、GCJ-02 或 BD-09")
        return crs
    if kind == "category":
        text = _text(value)
        cat = ctx.categories.get(text.upper()) or ctx.categories.get(text)
        if cat is None:
            raise _CellError(REFERENCE, f"部件类别 {text} 不存在（填小类编码如 C0105 或名称）")
        return cat
    if kind == "department":
        text = _text(value)
        dep = ctx.departments.get(text)
        if dep is None:
            raise _CellError(REFERENCE, f"部门 {text} 不存在")
        return dep
    if kind == "component_code":
        text = _text(value)
        if not re.fullmatch(r"\d{16}", text):
            raise _CellError(INVALID, "部件编码应为 16 位数字")
        return text
    raise AssertionError(f"unknown column kind {kind}")


# --- validation -----------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    cells: tuple  # the sheet's cells, as read
    index_of: dict[str, int]  # field → cell position (shared by the rows of one sheet)
    errors: list[RowError] = field(default_factory=list)

    def raw(self, field_name: str) -> Any:
        i = self.index_of.get(field_name)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def fail(self, column: Column | None, code: str, reason: str) -> None:
        header = column.header if column else ""
        value = display_value(column, self.raw(column.field)) if column else ""
        self.errors.append(RowError(self.number, header, value, code, reason))


@dataclass
class Checked:
    """The outcome of checking a workbook: the report and the rows ready to write."""

    report: ImportReport
    rows: list[_Row]
    rtype: RegistryType


def check_workbook(
    type_key: str,
    source: str | Path | bytes | IO[bytes],
    *,
    actor=None,
    progress=None,
    file_name: str = "",
    phases: int = 1,
) -> Checked:
    """Read and check every row; nothing is written. Raises ImportError_ for an unreadable file."""
    import time

    started = time.perf_counter()
    progress = progress or NullProgress()
    rtype = get_type(type_key)
    report = ImportReport(type=type_key, file_name=file_name)
    progress.say("正在读取工作簿…")
    headers, data = read_sheet(source)
    by_header = {_header_key(c.header): c for c in rtype.all_columns}
    positions: list[tuple[int, Column]] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        column = by_header.get(header)
        if column is None:
            report.warnings.append(f"未识别的列“{header}”已忽略")
        else:
            positions.append((index, column))
    present = {c.field for _, c in positions}
    missing = [c.header for c in rtype.all_columns if c.required and c.field not in present]
    if missing:
        raise ImportError_(
            "missing_columns",
            f"缺少必填列：{'、'.join(missing)}。请使用{rtype.label}导入模板。",
        )
    if (
        rtype.located
        and not ({"_grid"} & present or {"_lng", "_lat"} <= present)
        and "_house" not in present
    ):
        raise ImportError_("missing_columns", "缺少定位列：须有“网格编码”列或“经度”“纬度”两列。")

    ctx = _Context(rtype, actor)
    rows: list[_Row] = []
    index_of = {c.field: i for i, c in positions}
    for number, cells in enumerate(data, start=2):
        if not cells or all(_blank(v) for v in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportError_("too_many_rows", f"一次最多导入 {MAX_ROWS:,} 行，请分批导入。")
        rows.append(_Row(number, {}, cells, index_of))
        if len(rows) % 10_000 == 0:
            progress.say(f"正在读取工作簿…已读 {len(rows):,} 行")
    report.total = len(rows)
    # Phases: check; then, for a commit, write and colour.
    progress.set_total(len(rows) * phases)
    progress.say("正在校验…")

    step = max(1, len(rows) // 100)
    plan = [(i, column, column.field) for i, column in positions]
    for i, row in enumerate(rows, start=1):
        cells, values, width = row.cells, row.values, len(row.cells)
        for index, column, name in plan:
            value = cells[index] if index < width else None
            if value is None or (value.__class__ is str and not value.strip()):
                if column.required:
                    row.fail(column, MISSING, f"{column.header}为必填项")
                continue
            try:
                values[name] = _parse_cell(ctx, column, value)
            except _CellError as exc:
                row.fail(column, exc.code, exc.reason)
        if i % step == 0:
            progress.advance(step)
    progress.advance(len(rows) % step)

    progress.say("正在定位并检查重复…")
    CHECKS[type_key](ctx, rows)
    if rtype.located:
        _check_scope(ctx, rows)

    for row in rows:
        report.errors.extend(row.errors)
    report.errors.sort(key=lambda e: e.row)
    report.seconds = time.perf_counter() - started
    return Checked(report, rows, rtype)


def _locate(ctx: _Context, rows: list[_Row], *, optional: bool = False) -> None:
    """Fill ``grid``/``grid_code``/``group``/``lng``/``lat`` from the grid code or the point.

    A point is placed by the grid index (in bulk); outside every grid → rejected. A grid code
    alone places the object at the grid's centroid. Both given: the point must lie in that grid.
    """
    import numpy as np

    from towngrid.grids.crs import to_wgs84
    from towngrid.grids.index import get_index

    lng_col, grid_col = ctx.rtype.column("_lng"), ctx.rtype.column("_grid")
    with_point = [r for r in rows if "_lng" in r.values and "_lat" in r.values]
    index = get_index() if with_point else None
    if with_point:
        for crs in {r.values.get("_crs", "wgs84") for r in with_point}:
            group = [r for r in with_point if r.values.get("_crs", "wgs84") == crs]
            lngs = np.array([float(r.values["_lng"]) for r in group])
            lats = np.array([float(r.values["_lat"]) for r in group])
            if crs != "wgs84":
                lngs, lats = to_wgs84(lngs, lats, crs)
            leaves = index.lookup_many(np.asarray(lngs), np.asarray(lats))
            for row, leaf, x, y in zip(group, leaves.tolist(), lngs, lats, strict=True):
                if leaf < 0:
                    row.fail(lng_col, OUTSIDE, f"坐标（{x:.6f}, {y:.6f}）不在本镇任何网格内")
                    row.values["_located"] = False
                    continue
                path = index.paths[leaf]
                micro = path[3]
                group_node = path[4] if len(path) > 4 else None
                given = row.values.get("_grid")
                if given is not None and given.micro_code != micro.code:
                    row.fail(grid_col, MISMATCH, f"坐标位于网格 {micro.code}，与所填网格编码不符")
                    row.values["_located"] = False
                    continue
                row.values.update(
                    grid_id=micro.id, grid_code=micro.code,
                    group_id=group_node.id if group_node else None,
                    lng=round(float(x), 7), lat=round(float(y), 7), _located=True,
                )  # fmt: skip
    for row in rows:
        if "_located" in row.values or "grid_id" in row.values:
            continue
        half = ("_lng" in row.values) != ("_lat" in row.values)
        info = row.values.get("_grid")
        if info is not None and not half:
            row.values.update(
                grid_id=info.micro_id, grid_code=info.micro_code, group_id=info.group_id,
                lng=info.lng, lat=info.lat, _located=True,
            )  # fmt: skip
        elif half:
            row.fail(lng_col, MISSING, "经度和纬度须同时填写")
        elif not optional and not _has_error_in(row, {"_grid", "_lng", "_lat"}):
            row.fail(grid_col, MISSING, "须填写网格编码或经纬度")


def _has_error_in(row: _Row, fields: set[str]) -> bool:
    headers = {c.header for c in LOCATION_COLUMNS if c.field in fields}
    return any(e.column in headers for e in row.errors)


def _check_scope(ctx: _Context, rows: list[_Row]) -> None:
    if ctx.actor is None:
        return
    grid_col = ctx.rtype.column("_grid")
    cache: dict[str, bool] = {}
    for row in rows:
        code = row.values.get("grid_code")
        if not code:
            continue
        if code not in cache:
            cache[code] = ctx.in_scope(code)
        if not cache[code]:
            row.fail(grid_col, SCOPE, f"网格 {code} 不在您的管辖范围内")


def _mark_duplicates(
    rows: list[_Row],
    key_of: Callable[[_Row], Any],
    column: Column,
    label: str,
    existing: set | None = None,
) -> None:
    """Reject a row whose key an earlier row of the file (or the database) already holds."""
    first: dict[Any, int] = {}
    for row in rows:
        key = key_of(row)
        if key is None:
            continue
        if existing is not None and key in existing:
            row.fail(column, DUP_DB, f"系统中已有相同{label}的记录")
        elif key in first:
            row.fail(column, DUP_FILE, f"与第 {first[key]} 行的{label}重复")
        else:
            first[key] = row.number


def _existing(model, field_name: str, values: Iterable, **extra) -> set:
    """The values of ``field_name`` among ``values`` that the table already holds."""
    values = list({v for v in values if v})
    found: set = set()
    for start in range(0, len(values), QUERY_CHUNK):
        chunk = values[start : start + QUERY_CHUNK]
        found.update(
            model.objects.filter(**{f"{field_name}__in": chunk}, **extra).values_list(
                field_name, flat=True
            )
        )
    return found


def _houses_by_address(addresses: Iterable[str]) -> dict[str, dict]:
    """Registered houses by normalised address, for the addresses asked. A house stores its full
    address (the importer and the demo write it); one registered without it (by hand, with the
    parts only) is found through its road and ``House.full_address``."""
    House = apps.get_model("registry", "House")
    found: dict[str, dict] = {}
    values = list({a for a in addresses if a})
    fields = ("id", "address", "grid_id", "grid_code", "group_id", "lng", "lat")
    for start in range(0, len(values), QUERY_CHUNK):
        chunk = values[start : start + QUERY_CHUNK]
        for house in House.objects.filter(address__in=chunk).values(*fields):
            found.setdefault(normalise_address(house["address"]), house)
    missing = [a for a in values if a not in found]
    if missing:
        roads = [
            r
            for r in House.objects.filter(address="").values_list("road", flat=True).distinct()
            if r and any(a.startswith(normalise_address(r)) for a in missing)
        ]
        parts = ("road", "lane", "number", "building", "room")
        for house in House.objects.filter(address="", road__in=roads).values(*fields, *parts):
            key = compose_house_address(*(house[p] for p in parts))
            found.setdefault(key, house)
    return found


def _check_house(ctx: _Context, rows: list[_Row]) -> None:
    _locate(ctx, rows)
    for row in rows:
        v = row.values
        v["address"] = compose_house_address(
            v.get("road"), v.get("lane"), v.get("number"), v.get("building"), v.get("room")
        )
        if v.get("is_rented") is None:
            v["is_rented"] = v.get("use") == "rented" or bool(v.get("tenant_count"))
        start, end = v.get("lease_start"), v.get("lease_end")
        if start and end and end < start:
            row.fail(ctx.rtype.column("lease_end"), INVALID, "租赁截止日期早于起始日期")
        living, floor = v.get("living_area"), v.get("floor_area")
        if living is not None and floor is not None and living > floor:
            row.fail(ctx.rtype.column("living_area"), INVALID, "居住面积不能大于建筑面积")
    existing = set(_houses_by_address(r.values.get("address") for r in rows))
    _mark_duplicates(
        rows,
        lambda r: r.values.get("address") if "road" in r.values and "number" in r.values else None,
        ctx.rtype.column("road"),
        "地址",
        existing,
    )


def _check_household(ctx: _Context, rows: list[_Row]) -> None:
    house_col = ctx.rtype.column("_house")
    houses = _houses_by_address(normalise_address(r.values.get("_house")) for r in rows)
    for row in rows:
        address = normalise_address(row.values.get("_house"))
        if not address:
            continue
        house = houses.get(address)
        if house is None:
            row.fail(house_col, REFERENCE, f"找不到地址为“{address}”的房屋，请先导入房屋")
            continue
        row.values.update(
            house_id=house["id"], grid_id=house["grid_id"], grid_code=house["grid_code"],
            group_id=house["group_id"], lng=house["lng"], lat=house["lat"], address=address,
        )  # fmt: skip
    Household = ctx.rtype.model
    pairs = set()
    house_ids = [r.values["house_id"] for r in rows if "house_id" in r.values]
    for start in range(0, len(house_ids), QUERY_CHUNK):
        pairs.update(
            Household.objects.filter(
                house_id__in=house_ids[start : start + QUERY_CHUNK]
            ).values_list("house_id", "number")
        )
    _mark_duplicates(
        rows,
        lambda r: (
            (r.values["house_id"], r.values.get("number"))
            if "house_id" in r.values and r.values.get("number")
            else None
        ),
        ctx.rtype.column("number"),
        "房屋和户号",
        pairs,
    )
    _check_scope(ctx, rows)


def _check_resident(ctx: _Context, rows: list[_Row]) -> None:
    house_col = ctx.rtype.column("_house")
    household_col = ctx.rtype.column("_household")
    houses = _houses_by_address(normalise_address(r.values.get("_house")) for r in rows)
    Household = apps.get_model("registry", "Household")
    for row in rows:
        v = row.values
        address = normalise_address(v.get("_house"))
        if address:
            house = houses.get(address)
            if house is None:
                row.fail(house_col, REFERENCE, f"找不到地址为“{address}”的房屋")
            else:
                v["house_id"] = house["id"]
                v["actual_residence"] = address
                if "_lng" not in v and "_grid" not in v:
                    v.update(
                        grid_id=house["grid_id"], grid_code=house["grid_code"],
                        group_id=house["group_id"], lng=house["lng"], lat=house["lat"],
                        _located=True,
                    )  # fmt: skip
        elif v.get("_household"):
            row.fail(household_col, MISSING, "填写户号时须同时填写居住房屋地址")
        number = v.get("id_number")
        if number:
            v.setdefault("gender", checksums.id_number_gender(number))
            v.setdefault("birth_date", checksums.id_number_birth_date(number))
    _locate(ctx, rows)
    wanted = {(r.values["house_id"], r.values["_household"]) for r in rows
              if r.values.get("_household") and "house_id" in r.values}  # fmt: skip
    households: dict[tuple, int] = {}
    wanted_houses = list({h for h, _ in wanted})
    for start in range(0, len(wanted_houses), QUERY_CHUNK):
        for hid, house_id, number in Household.objects.filter(
            house_id__in=wanted_houses[start : start + QUERY_CHUNK]
        ).values_list("id", "house_id", "number"):
            households[(house_id, number)] = hid
    for row in rows:
        v = row.values
        if v.get("_household") and "house_id" in v:
            hid = households.get((v["house_id"], v["_household"]))
            if hid is None:
                row.fail(household_col, REFERENCE, f"该房屋中没有户号为“{v['_household']}”的户")
            else:
                v["household_id"] = hid
    Resident = ctx.rtype.model
    hashes = {}
    for row in rows:
        if row.values.get("id_number"):
            hashes[row.number] = personal.lookup_hash("id_number", row.values["id_number"])
    existing = _existing(Resident, "id_number_hash", hashes.values())
    _mark_duplicates(
        rows, lambda r: hashes.get(r.number), ctx.rtype.column("id_number"), "身份证号", existing
    )


def _check_enterprise(ctx: _Context, rows: list[_Row]) -> None:
    _locate(ctx, rows)
    existing = _existing(
        ctx.rtype.model, "credit_code", (r.values.get("credit_code") for r in rows)
    )
    _mark_duplicates(
        rows, lambda r: r.values.get("credit_code"), ctx.rtype.column("credit_code"),
        "统一社会信用代码", existing,
    )  # fmt: skip


def _check_named_at_address(ctx: _Context, rows: list[_Row], label: str) -> None:
    """Shops and underground spaces: the same name at the same address is a duplicate."""
    _locate(ctx, rows)
    for row in rows:
        if row.values.get("address"):
            row.values["address"] = normalise_address(row.values["address"])
    model = ctx.rtype.model
    addresses = list({r.values.get("address") for r in rows if r.values.get("address")})
    pairs: set = set()
    for start in range(0, len(addresses), QUERY_CHUNK):
        pairs.update(
            model.objects.filter(address__in=addresses[start : start + QUERY_CHUNK]).values_list(
                "name", "address"
            )
        )
    _mark_duplicates(
        rows,
        lambda r: (
            (r.values.get("name"), r.values.get("address"))
            if r.values.get("name") and r.values.get("address")
            else None
        ),
        ctx.rtype.column("name"),
        label,
        pairs,
    )


def _check_shop(ctx: _Context, rows: list[_Row]) -> None:
    _check_named_at_address(ctx, rows, "名称和地址")
    for row in rows:
        v = row.values
        if v.get("alliance") and "is_alliance_member" not in v:
            v["is_alliance_member"] = True


def _check_underground(ctx: _Context, rows: list[_Row]) -> None:
    _check_named_at_address(ctx, rows, "名称和地址")


def _check_parcel(ctx: _Context, rows: list[_Row]) -> None:
    _locate(ctx, rows)
    for row in rows:
        total, signed = row.values.get("households_total"), row.values.get("households_signed")
        if total is not None and signed is not None and signed > total:
            row.fail(ctx.rtype.column("households_signed"), INVALID, "已签约户数不能大于总户数")
    existing = _existing(ctx.rtype.model, "name", (r.values.get("name") for r in rows))
    _mark_duplicates(
        rows, lambda r: r.values.get("name"), ctx.rtype.column("name"), "地块名称", existing
    )


def division_code() -> str:
    """The 6-digit division prefix of component codes (the registry's own constant)."""
    from .actions import DIVISION

    return DIVISION


def _check_component(ctx: _Context, rows: list[_Row]) -> None:
    _locate(ctx, rows)
    code_col = ctx.rtype.column("code")
    division = division_code()
    for row in rows:
        v = row.values
        v.setdefault("status", "good")
        cat = v.get("category")
        code = v.get("code")
        if cat is not None and code:
            prefix = f"{division}{cat.major.code}{cat.code}"
            if not code.startswith(prefix):
                row.fail(code_col, INVALID, f"部件编码应以 {prefix}（区划+大类+小类）开头")
    existing = _existing(ctx.rtype.model, "code", (r.values.get("code") for r in rows))
    _mark_duplicates(rows, lambda r: r.values.get("code"), code_col, "部件编码", existing)


CHECKS: dict[str, Callable[[_Context, list[_Row]], None]] = {
    "house": _check_house,
    "household": _check_household,
    "resident": _check_resident,
    "enterprise": _check_enterprise,
    "shop": _check_shop,
    "component": _check_component,
    "underground": _check_underground,
    "parcel": _check_parcel,
}


# --- writing --------------------------------------------------------------------------------


def _model_fields(model) -> set[str]:
    return {f.attname for f in model._meta.concrete_fields} | {
        f.name for f in model._meta.concrete_fields
    }


def _next_component_serials(ctx: _Context, rows: list[_Row]) -> None:
    """Number the components given without a code: the next free serial per subclass."""
    model = ctx.rtype.model
    division = division_code()
    taken: dict[str, int] = {}
    for row in rows:
        cat = row.values.get("category")
        if cat is None or row.values.get("code"):
            continue
        prefix = f"{division}{cat.major.code}{cat.code}"
        if prefix not in taken:
            codes = list(
                model.objects.filter(code__startswith=prefix).values_list("code", flat=True)
            )
            codes += [
                r.values["code"] for r in rows if str(r.values.get("code", "")).startswith(prefix)
            ]
            taken[prefix] = max((int(c[-6:]) for c in codes), default=0)
        taken[prefix] += 1
        row.values["code"] = f"{prefix}{taken[prefix]:06d}"


def build_objects(rtype: RegistryType, rows: list[_Row]) -> list:
    """Unsaved model instances for checked rows, personal values sealed (encrypted + hashed)."""
    from .models import kind_for_category

    model = rtype.model
    personal_fields = [c.field for c in rtype.columns if c.personal]
    # The row keys that are plain column values (pseudo fields and personal ones excluded).
    direct = {n for n in _model_fields(model) if not n.startswith("_")} - set(personal_fields)
    direct -= {"category", "owner_department"}
    objs = []
    for row in rows:
        v = row.values
        kwargs = {k: v[k] for k in direct.intersection(v)}
        if rtype.key == "component" and "category" in v:
            kwargs["category_id"] = v["category"].pk
            kwargs["kind"] = kind_for_category(v["category"])
            if "owner_department" not in v and v["category"].default_department_id:
                kwargs["owner_department_id"] = v["category"].default_department_id
        if rtype.key == "component" and "owner_department" in v:
            kwargs["owner_department_id"] = v["owner_department"]
        obj = new_row(model, **kwargs)
        for name in personal_fields:
            if v.get(name):
                # Already validated: seal without checking again.
                personal.set_personal(obj, name, v[name], check=False)
        objs.append(obj)
    return objs


# Field types whose Python values both drivers take as they are (no per-value preparation).
_PASSTHROUGH = {
    "CharField", "TextField", "SlugField", "IntegerField", "SmallIntegerField",
    "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "PositiveBigIntegerField", "FloatField", "BooleanField", "ForeignKey", "DecimalField",
}  # fmt: skip


def new_row(model, **values: Any):
    """An unsaved instance holding exactly ``values`` (attnames), without ``Model.__init__``
    (which costs more than the insert at 100,000 rows); ``insert_rows`` fills in the defaults
    of the fields not given. Only for rows written by ``insert_rows``: do not read fields you did
    not set (Django would fetch them from the database)."""
    from django.db.models.base import ModelState

    obj = model.__new__(model)
    obj._state = ModelState()
    obj.__dict__[model._meta.pk.attname] = None
    obj.__dict__.update(values)
    return obj


_MISSING = object()


def insert_rows(model, objs: list, *, batch_size: int = 5000) -> list[int]:
    """INSERT many new rows fast and give each object its primary key.

    ``bulk_create`` prepares every value of every row through the SQL compiler, which costs more
    than the insert itself at 100,000 rows. Here each column's preparation is decided once (most
    values pass to the driver unchanged), the ids are reserved up front (PostgreSQL: ``nextval``
    of the table's sequence, safe under concurrency; SQLite: past both MAX(id) and the
    AUTOINCREMENT counter — SQLite has one writer, and a concurrent commit makes ours fail rather
    than collide), and the rows go in with ``executemany``. ``objs`` are unsaved model instances;
    no signals are sent (callers recompute what listens to them in bulk). Other databases fall
    back to ``bulk_create``."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.models import DateTimeField

    if not objs:
        return []
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor not in {"sqlite", "postgresql"}:
        created = model.objects.bulk_create(objs, batch_size=batch_size)
        return [o.pk for o in created]
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.local_concrete_fields if f is not pk]
    now = timezone.now()
    prepare: list[Callable[[Any], Any] | None] = []
    for f in fields:
        internal = f.get_internal_type()
        if isinstance(f, DateTimeField):
            prepare.append(conn.ops.adapt_datetimefield_value)
        elif internal == "DateField":
            prepare.append(conn.ops.adapt_datefield_value)
        elif internal in _PASSTHROUGH:
            prepare.append(None)
        else:
            prepare.append(lambda value, f=f: f.get_db_prep_save(value, conn))
    # Per column: (attname, prepare, prepared default, timestamp rule). A timestamp is the same
    # for every row, so it is prepared once; so are the defaults.
    now_db = conn.ops.adapt_datetimefield_value(now)
    plan = []
    for f, prep in zip(fields, prepare, strict=True):
        default = f.get_default()
        prepared = default if prep is None or default is None else prep(default)
        stamp = "always" if getattr(f, "auto_now", False) else (
            "add" if getattr(f, "auto_now_add", False) else "")  # fmt: skip
        plan.append((f.attname, prep, prepared, stamp))
    quote = conn.ops.quote_name
    table = meta.db_table
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(table), pk.column, len(objs)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        else:
            cursor.execute(f"SELECT COALESCE(MAX({quote(pk.column)}), 0) FROM {quote(table)}")
            top = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            start = max(top, row[0] if row else 0) + 1
            ids = list(range(start, start + len(objs)))
        columns = ", ".join(quote(c) for c in [pk.column, *(f.column for f in fields)])
        sql = (
            f"INSERT INTO {quote(table)} ({columns}) "
            f"VALUES ({', '.join(['%s'] * (len(fields) + 1))})"
        )
        rows = []
        for obj, new_id in zip(objs, ids, strict=True):
            values = obj.__dict__
            row = [new_id]
            for name, prep, prepared, stamp in plan:
                value = values.get(name, _MISSING)
                if stamp and (stamp == "always" or value is _MISSING or value is None):
                    values[name] = now
                    row.append(now_db)
                elif value is _MISSING:
                    row.append(prepared)
                else:
                    row.append(value if prep is None or value is None else prep(value))
            rows.append(row)
            obj.pk = new_id
            obj._state.adding = False
            obj._state.db = conn.alias
        for start in range(0, len(rows), batch_size):
            cursor.executemany(sql, rows[start : start + batch_size])
    return ids


def _recompute_colours(model, ids: list[int], progress) -> str:
    """Ask the colour engine (codes) to colour the new objects in bulk, after the commit; the
    import stands if it fails (the colours are recomputed by the engine's own sweep)."""
    import logging

    try:
        from towngrid.codes.colours import recompute_many
    except ImportError:
        return ""
    if not ids or getattr(model, "colour_kind", "") == "":
        return ""
    # The new ids are one reserved block: a range query, not 100,000 parameters. Rows another
    # writer slipped in between are recomputed too, which is harmless.
    objects = model._default_manager.filter(pk__gte=min(ids), pk__lte=max(ids))
    try:
        with transaction.atomic():
            recompute_many(objects, progress=progress.advance)
    except Exception:  # the import is committed; the colour sweep will catch up
        logging.getLogger(__name__).exception("colour recompute after import failed")
        return "failed"
    return "ok"


def commit(checked: Checked, *, actor=None, progress=None) -> ImportReport:
    """Write every checked row in one transaction, or nothing when any row was rejected."""
    import time

    from towngrid.core import audit

    started = time.perf_counter()
    progress = progress or NullProgress()
    report = checked.report
    report.dry_run = False
    if not report.ok or not checked.rows:
        return report
    rtype = checked.rtype
    model = rtype.model
    progress.say("正在写入…")
    rows = checked.rows
    total = len(rows)
    ids: list[int] = []
    try:
        with transaction.atomic():
            if rtype.key == "component":
                _next_component_serials(_Context(rtype, actor), rows)
            for start in range(0, total, WRITE_BATCH):
                batch = build_objects(rtype, rows[start : start + WRITE_BATCH])
                ids.extend(insert_rows(model, batch))
                progress.advance(len(batch))
            report.created = total
            audit.record(
                actor,
                "registry.import",
                object_type=model._meta.label_lower,
                object_repr=f"导入{rtype.label} {total} 条",
                changes={
                    "type": rtype.key,
                    "rows": total,
                    "created": total,
                    "file": report.file_name,
                },  # fmt: skip
            )
    except IntegrityError as exc:
        report.created = 0
        report.errors.append(
            RowError(
                0, "", "", DUP_DB, f"写入时与系统中已有记录冲突，未写入任何数据（{exc}）"[:300]
            )
        )
        return report
    report.committed = True
    progress.say("正在计算颜色…")
    if _recompute_colours(model, ids, progress) == "failed":
        report.warnings.append("已导入，但颜色计算失败，将由定时任务补算。")
    report.seconds += time.perf_counter() - started
    return report


def run_import(
    type_key: str,
    source: str | Path | bytes | IO[bytes],
    *,
    actor=None,
    dry_run: bool = False,
    progress=None,
    file_name: str = "",
) -> ImportReport:
    """Check a workbook and, unless ``dry_run`` or any row is rejected, write it all."""
    checked = check_workbook(
        type_key, source, actor=actor, progress=progress, file_name=file_name,
        phases=1 if dry_run else 3,
    )  # fmt: skip
    if dry_run:
        return checked.report
    return commit(checked, actor=actor, progress=progress)


# --- templates and error reports ---------------------------------------------------------------


def _column_help(rtype: RegistryType, column: Column) -> str:
    if column.kind in {"choice", "choices"}:
        labels = "、".join(choice_labels(rtype, column))
        extra = "（可多选，用顿号分隔）" if column.kind == "choices" else ""
        return f"可选：{labels}{extra}" + (f"；{column.help}" if column.help else "")
    formats = {"int": "整数", "decimal": "数字", "bool": "是 / 否", "date": "日期，如 2023-03-01",
               "year": "四位年份", "id_number": "18 位身份证号（文本格式）",
               "phone": "11 位手机号或 021 开头的固定电话", "credit_code": "18 位统一社会信用代码"}  # fmt: skip
    parts = [p for p in (formats.get(column.kind, ""), column.help) if p]
    return "；".join(parts)


def template_bytes(type_key: str) -> bytes:
    """The import template of a type: the header row (required columns marked *), drop-down lists
    for choice columns, text format for identifiers, and a 说明 sheet describing every column."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    rtype = get_type(type_key)
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    notes = wb.create_sheet("说明")
    notes.append(["列名", "必填", "格式或可选值", "示例"])
    red = Font(bold=True, color="C00000")
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEF3FA")
    for i, column in enumerate(rtype.all_columns, start=1):
        letter = get_column_letter(i)
        cell = ws.cell(row=1, column=i, value=column.header + ("*" if column.required else ""))
        cell.font = red if column.required else bold
        cell.fill = fill
        help_text = _column_help(rtype, column)
        if help_text:
            cell.comment = Comment(help_text, "towngrid")
        ws.column_dimensions[letter].width = max(10, min(30, len(column.header) * 2 + 4))
        if column.kind in {"id_number", "phone", "credit_code", "component_code", "grid", "text"}:
            ws.column_dimensions[letter].number_format = "@"
        if column.kind == "choice" or column.kind == "bool":
            labels = ["是", "否"] if column.kind == "bool" else choice_labels(rtype, column)
            formula = '"' + ",".join(labels) + '"'
            if len(formula) <= 255:
                dv = DataValidation(type="list", formula1=formula, allow_blank=True)
                dv.add(f"{letter}2:{letter}{MAX_ROWS}")
                ws.add_data_validation(dv)
        notes.append([column.header, "是" if column.required else "", help_text, column.example])
    notes.append([])
    notes.append(
        [
            "说明",
            "",
            "第一行为表头，从第二行起每行一条记录；须填写网格编码或经纬度（户按房屋定位）。",
        ]
    )
    notes.append(
        ["", "", "先试导入（只校验不写入），全部通过后再正式导入；任何一行有误则整批不写入。"]
    )
    for cell in notes[1]:
        cell.font = bold
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["C"].width = 70
    notes.column_dimensions["D"].width = 26
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def error_report_bytes(report: ImportReport) -> bytes:
    """Every rejected cell as a workbook (行号, 列, 值, 原因, 错误代码)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误报告")
    ws.append(["行号", "列", "填写内容", "原因", "错误代码"])
    for e in report.errors:
        ws.append([e.row or "", e.column, e.value, e.reason, e.code])
    summary = wb.create_sheet("汇总")
    summary.append(["类型", TYPES[report.type].label if report.type in TYPES else report.type])
    summary.append(["文件", report.file_name])
    summary.append(["总行数", report.total])
    summary.append(["通过", report.valid])
    summary.append(["拒绝", report.rejected_rows])
    for code, count in sorted(report.counts_by_code().items()):
        summary.append([ERROR_LABELS.get(code, code), count])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_rows_workbook(type_key: str, rows: Iterable[dict[str, Any]], target) -> None:
    """A workbook in the template's layout from dicts keyed by header (tests, bench, demo
    samples), written in write-only mode so 100,000 rows stay cheap."""
    from openpyxl import Workbook

    rtype = get_type(type_key)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("数据")
    headers = [c.header for c in rtype.all_columns]
    ws.append(
        [h + ("*" if c.required else "") for h, c in zip(headers, rtype.all_columns, strict=True)]
    )
    for row in rows:
        ws.append([row.get(h) for h in headers])
    wb.save(target)


# --- batches: the page's flow (upload → check job → commit job) -----------------------------

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
REPORT_ERRORS_KEPT = 20_000  # errors stored with a batch; the job's error workbook has them all


def uploads_dir() -> Path:
    from django.conf import settings

    path = Path(settings.DATA_DIR) / "registry-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def batch_path(batch) -> Path:
    return uploads_dir() / batch.stored_name


def start_batch(*, actor, type_key: str, upload, file_name: str = ""):
    """Store an uploaded workbook and start its dry run as a background job; returns the batch.
    Raises ImportError_ for a wrong type, a file too large or not an xlsx."""
    import uuid

    from towngrid.core.jobs import start_job

    from .io_models import ImportBatch

    rtype = get_type(type_key)
    name = Path(file_name or getattr(upload, "name", "") or "upload.xlsx").name[:200]
    if not name.lower().endswith((".xlsx", ".xlsm")):
        raise ImportError_("unreadable", "请上传 Excel 工作簿（.xlsx）。")
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ImportError_("too_large", f"文件过大：最大 {MAX_UPLOAD_BYTES // 1024 // 1024} MB。")
    stored = f"{uuid.uuid4().hex}.xlsx"
    with open(uploads_dir() / stored, "wb") as out:
        for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
            out.write(chunk)
    batch = ImportBatch.objects.create(
        type_key=rtype.key, file_name=name, stored_name=stored, created_by=_person(actor)
    )
    job = start_job(
        kind="registry.import.check",
        title=f"校验{rtype.label}导入：{name}",
        actor=actor,
        func=check_batch_job,
        kwargs={"batch_id": batch.pk},
    )
    ImportBatch.objects.filter(pk=batch.pk, check_job__isnull=True).update(check_job=job)
    batch.refresh_from_db()
    return batch


def commit_batch(batch, *, actor):
    """Start the commit of a checked batch as a background job; returns the job."""
    from towngrid.core.jobs import start_job

    from .io_models import ImportBatch, ImportStatus

    updated = ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.CHECKED).update(
        status=ImportStatus.IMPORTING
    )
    if not updated:
        raise ImportError_("not_checked", "该批次未通过校验或已在导入，不能导入。")
    job = start_job(
        kind="registry.import.commit",
        title=f"导入{get_type(batch.type_key).label}：{batch.file_name}",
        actor=actor,
        func=commit_batch_job,
        kwargs={"batch_id": batch.pk},
    )
    ImportBatch.objects.filter(pk=batch.pk).update(commit_job=job)
    return job


def _person(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _store_report(batch, report: ImportReport, status: str) -> dict:
    from .io_models import ImportBatch

    data = report.as_dict()
    data["errors"] = data["errors"][:REPORT_ERRORS_KEPT]
    data["errors_truncated"] = len(report.errors) > REPORT_ERRORS_KEPT
    changes = {"status": status, "total_rows": report.total,
               "rejected_rows": report.rejected_rows, "report": data}  # fmt: skip
    if report.committed:
        changes.update(created_rows=report.created, committed_at=timezone.now())
    ImportBatch.objects.filter(pk=batch.pk).update(**changes)
    return {k: data[k] for k in ("total", "valid", "rejected", "created", "committed")}


def _run_batch(progress, batch_id: int, *, dry_run: bool) -> dict:
    from towngrid.core.jobs import JobError

    from .io_models import ImportBatch, ImportStatus

    batch = ImportBatch.objects.select_related("created_by__role", "created_by__scope").get(
        pk=batch_id
    )
    try:
        report = run_import(
            batch.type_key, batch_path(batch), actor=batch.created_by, dry_run=dry_run,
            progress=progress, file_name=batch.file_name,
        )  # fmt: skip
    except ImportError_ as exc:
        report = ImportReport(type=batch.type_key, file_name=batch.file_name, dry_run=dry_run)
        report.errors.append(RowError(0, "", "", exc.code, exc.message))
        _store_report(batch, report, ImportStatus.REJECTED)
        raise JobError(exc.message) from None
    except Exception:
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED)
        raise
    if report.errors:
        progress.save_file(
            f"错误报告-{Path(batch.file_name).stem}.xlsx", error_report_bytes(report)
        )
        return _store_report(batch, report, ImportStatus.REJECTED)
    status = ImportStatus.CHECKED if dry_run else ImportStatus.DONE
    return _store_report(batch, report, status)


def check_batch_job(progress, *, batch_id: int) -> dict:
    """The dry run of an uploaded batch (a ``core.jobs`` function)."""
    return _run_batch(progress, batch_id, dry_run=True)


def commit_batch_job(progress, *, batch_id: int) -> dict:
    """The commit of a checked batch (a ``core.jobs`` function): checked again, then written
    all or nothing, since the registry may have changed since the dry run."""
    return _run_batch(progress, batch_id, dry_run=False)
