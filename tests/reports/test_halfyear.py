"""The half-year report (半年工作报告): the document model on the demo town reproduces the seed's
实事项目 table and key figures; PDF, DOCX and XLSX carry them; bad periods are refused."""

from __future__ import annotations

import io
import re
import warnings
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from towngrid.programs import actions as program_actions
from towngrid.programs.models import Target
from towngrid.reports.halfyear import charts
from towngrid.reports.halfyear.document import build_document
from towngrid.reports.halfyear.generator import FormatError, check_format, generate
from towngrid.reports.halfyear.period import Period, PeriodError, parse_period

H1 = Period(2023, 1)
SEED_NAMES = [
    "居民小区电子信息屏更新建设项目",
    "“家门口”社区影院服务项目",
    "小区雨污混接改造项目",
    "缤纷社区改造项目",
    "美丽街区改造项目",
    "鹏海菜市场改造",
    "华绣路综合为老分中心建设",
    "地下空间综合整新工程",
    "新增就业岗位 1800 个",
    "城中村物业化管理",
]
SEED_BUDGETS = ["400", "200", "29354", "600", "1000", "480", "1400", "200", "371.6", "1660"]
SEED_DEPARTMENTS = [
    "党群工作办公室(宣传统战)",
    "党群工作办公室(宣传统战)",
    "规划建设和生态环境办公室",
    "规划建设和生态环境办公室",
    "规划建设和生态环境办公室",
    "经济发展办公室",
    "社会事业发展办公室(规划建设和生态环境办公室、党政办公室)",
    "人民武装部",
    "社区事务受理服务中心",
    "城市运行管理中心(莲溪物业、联勤村、一六村、卫行村、御桥村、南新村、五星村)",
]
SEED_COLUMNS = ["序号", "项目名称", "任务描述", "预算金额", "实施部门", "推进情况"]
SEED_RATES = {
    "税收收入": ("11.68", "39%"),
    "推荐就业": ("1035", "58%"),
    "长期失业青年就业创业": ("38", "62%"),
    "市就业困难人员就业": ("320", "69%"),
    "既有多层住宅加装电梯 · 签约": ("52", "95%"),
    "既有多层住宅加装电梯 · 开工": ("29", "74%"),
    "既有多层住宅加装电梯 · 竣工": ("24", "63%"),
    "中界、杨桥等“城中村”拔点改造征收 · 签约": ("499", "99.8%"),
    "新增养老床位 · 杨莲路敬老院": ("306", "—"),
    "新增养老床位 · 鹏海养护院": ("283", "—"),
}


# The demo town is committed once per session and these tests only read it: each format is
# generated once per module (charts make a document take seconds).
_GENERATED: dict[str, object] = {}


def generated(fmt: str):
    if fmt not in _GENERATED:
        _GENERATED[fmt] = generate("2023H1", fmt)
    return _GENERATED[fmt]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def project_table(document):
    return next(t for t in document.tables if t.sheet == "实事项目推进情况")


# ---- the period ---------------------------------------------------------------------------


def test_periods_are_read_strictly():
    assert parse_period("2023H1", today=date(2024, 1, 1)) == Period(2023, 1)
    assert parse_period(" 2023h2 ", today=date(2024, 1, 1)).end == date(2024, 1, 1)
    assert Period(2023, 1).last_day == date(2023, 6, 30)
    for bad in ["", "2023", "2023H3", "2023-06", "23H1", "2023H1x", "H1"]:
        with pytest.raises(PeriodError, match="无法识别"):
            parse_period(bad)
    with pytest.raises(PeriodError, match="尚未开始"):
        parse_period("2030H2", today=date(2030, 6, 30))
    with pytest.raises(PeriodError, match="超出范围"):
        parse_period("1999H1")
    with pytest.raises(FormatError, match="不支持的格式"):
        check_format("doc")


# ---- the document model -------------------------------------------------------------------


def test_project_table_has_the_seeds_ten_rows(demo_town):
    document = generated("pdf").document
    table = project_table(document)
    assert table.columns == SEED_COLUMNS
    assert table.title == "2023 年北蔡镇政府实事项目推进情况"
    assert [r[0] for r in table.rows] == [str(n) for n in range(1, 11)]
    assert [r[1] for r in table.rows] == SEED_NAMES
    assert [r[3] for r in table.rows] == [f"{b}万元" for b in SEED_BUDGETS]
    assert [r[4] for r in table.rows] == SEED_DEPARTMENTS
    assert table.rows[1][5] == "项目已完成。"
    assert table.rows[7][5] == "7 月初已立项，将加快工程进度，年内完工。"
    assert table.rows[4][2].startswith("1、计划实施北中路双拥一条街改造项目")


def test_key_figures_and_rates_equal_the_seeds(demo_town):
    document = generated("pdf").document
    figures = {f.label: (f.value, f.rate_text) for f in document.key_figures}
    for label, expected in SEED_RATES.items():
        assert figures[label] == expected, label
    text = "".join(p for s in document.sections for p in s.paragraphs)
    assert (
        "截至 6 月底，税收收入 11.68 亿元，完成年初目标的 39%；推荐就业 1035 人，完成全年目标的 58%"
        in text
    )
    assert "签约 52 台、开工 29 台、竣工 24 台，分别完成新区下达任务的 95%、74%、63%" in text
    assert "新增养老床位：杨莲路敬老院 306 张、鹏海养护院 283 张，合计 589 张" in text


def test_figures_are_those_at_the_end_of_the_period(demo_town):
    tax = Target.objects.get(year=2023, code="tax-revenue")
    program_actions.record_target(tax, value="20.5", as_of=date(2023, 9, 30))
    h1 = {f.label: f for f in build_document(H1, with_charts=False).key_figures}
    h2 = {f.label: f for f in build_document(Period(2023, 2), with_charts=False).key_figures}
    assert (h1["税收收入"].value, h1["税收收入"].rate_text) == ("11.68", "39%")
    assert (h2["税收收入"].value, h2["税收收入"].rate_text) == ("20.5", "68%")


def test_cases_of_the_period_are_summarised(demo_town):
    from tests.cases.test_pages import make_case
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Case, Category

    if not Category.objects.exists():
        install_catalogue()
    make_case(demo_town)
    make_case(demo_town, source="resident", actor="resident")
    # Back-date both reports into the first half of 2023.
    Case.objects.update(reported_at=datetime(2023, 3, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    document = build_document(H1, with_charts=False)
    sources = next(t for t in document.tables if t.sheet == "案件来源")
    assert sources.rows[-1] == ["合计", str(Case.objects.count())]
    assert {"网格员上报", "居民上报"} <= {r[0] for r in sources.rows}
    areas = next(t for t in document.tables if t.sheet == "区域评价")
    assert areas.rows[-1][0] == "合计"
    assert "联勤南新片区" in {r[0] for r in areas.rows}


def test_charts_draw_every_chinese_glyph(demo_town):
    from towngrid.programs import queries

    rows = [queries.target_row(t) for t in queries.targets(2023)]
    projects = [queries.project_row(p) for p in queries.projects(2023)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pngs = [charts.target_rates(rows).png, charts.project_progress(projects).png]
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing
    assert all(p.startswith(b"\x89PNG") for p in pngs)


# ---- the three formats ------------------------------------------------------------------


def test_pdf_text_holds_the_project_names(demo_town):
    from pypdf import PdfReader

    result = generated("pdf")
    assert result.data.startswith(b"%PDF") and result.file_name == "halfyear-2023H1.pdf"
    reader = PdfReader(io.BytesIO(result.data))
    text = squeeze("".join(page.extract_text() for page in reader.pages))
    for name in SEED_NAMES:
        assert squeeze(name) in text, name
    for phrase in ["实事项目推进情况", "29354万元", "城市运行管理中心", "完成率"]:
        assert phrase in text
    fonts = {
        str(f["/BaseFont"])
        for page in reader.pages
        for f in (page["/Resources"].get("/Font") or {}).values()
    }
    assert any("WQYMicroHei" in f or "WenQuanYi" in f for f in fonts), fonts
    assert "\ufffd" not in text


def test_docx_opens_and_holds_the_table(demo_town):
    from docx import Document

    result = generated("docx")
    doc = Document(io.BytesIO(result.data))
    tables = [t for t in doc.tables if [c.text for c in t.rows[0].cells] == SEED_COLUMNS]
    assert len(tables) == 1
    rows = [[c.text for c in r.cells] for r in tables[0].rows[1:]]
    assert [r[1] for r in rows] == SEED_NAMES
    assert [r[3] for r in rows] == [f"{b}万元" for b in SEED_BUDGETS]
    assert [r[4] for r in rows] == SEED_DEPARTMENTS
    assert doc.paragraphs[0].text == "北蔡镇 2023 年上半年工作情况报告"
    east_asia = doc.styles["Normal"].element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
    )
    assert east_asia == "宋体"
    assert len(doc.inline_shapes) >= 3  # the charts


def test_xlsx_has_one_sheet_per_table(demo_town):
    from openpyxl import load_workbook

    result = generated("xlsx")
    book = load_workbook(io.BytesIO(result.data))
    assert {"主要指标", "重点任务", "实事项目推进情况", "区域评价", "部门评价"} <= set(
        book.sheetnames
    )
    sheet = book["实事项目推进情况"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == SEED_COLUMNS
    assert [r[1] for r in rows[1:]] == SEED_NAMES
    assert [r[3] for r in rows[1:]] == [f"{b}万元" for b in SEED_BUDGETS]
    targets = {r[0]: r for r in book["主要指标"].iter_rows(min_row=2, values_only=True)}
    assert targets["税收收入"][1] == 11.68 and targets["税收收入"][4] == pytest.approx(0.39)


# ---- the command --------------------------------------------------------------------------


def test_command_writes_the_file(demo_town, tmp_path):
    out = tmp_path / "h1.xlsx"
    stdout = io.StringIO()
    call_command(
        "report", "half-year", "--period", "2023H1", "--format", "xlsx", "-o", str(out),
        "--no-progress", stdout=stdout,
    )  # fmt: skip
    assert out.read_bytes().startswith(b"PK")
    assert "10 实事项目" in stdout.getvalue()
    call_command("report", "half-year", "--period=2023H1", "--format=pdf", "-o", str(tmp_path),
                 "--no-progress", stdout=io.StringIO())  # fmt: skip
    assert (tmp_path / "halfyear-2023H1.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--period", "2023Q1"], "无法识别"),
        (["--period", "2099H1"], "尚未开始"),
        (["--period", "2023H1", "--format", "odt"], "不支持的格式"),
        (["--period", "2023H1", "-o", "/nonexistent/dir/x.pdf"], "输出目录不存在"),
    ],
)
def test_command_refuses_bad_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("report", "half-year", *args, "--no-progress", stdout=io.StringIO())


def test_pipeline_sentences_follow_the_seeds_wording():
    from towngrid.reports.halfyear.document import _pipeline_sentence

    def stage(name, actual, target):
        from towngrid.programs.queries import rate, rate_text

        r = rate(actual, target)
        return {
            "name": name,
            "actual": actual,
            "target": target,
            "rate": r,
            "rate_text": rate_text(r),
        }

    p = {"name": "老集镇", "unit": "户", "target_source": "", "total": 20}
    one = _pipeline_sentence(p, [stage("签约", 499, 500)])
    assert one == "老集镇：签约 499 户，完成任务的 99.8%。"
    mixed = _pipeline_sentence(p, [stage("签约", 18, 37), stage("司法强制执行", 2, None)])
    assert mixed == "老集镇：签约 18 户（完成任务的 49%）、司法强制执行 2 户。"
