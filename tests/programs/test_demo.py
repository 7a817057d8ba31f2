"""The demo town holds the seed report's ten projects, targets and pipelines."""

from decimal import Decimal

from towngrid.programs import demo, queries
from towngrid.programs.models import Pipeline, Project, Target

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


def test_ten_projects_with_budgets_and_departments(demo_town):
    projects = list(queries.projects(2023))
    assert [p.number for p in projects] == list(range(1, 11))
    assert [queries.decimal_text(p.budget) for p in projects] == SEED_BUDGETS
    assert [queries.implementer_label(p) for p in projects] == SEED_DEPARTMENTS
    assert projects[1].status == "completed" and projects[1].percent == 100
    assert projects[2].progress_text.startswith("已完成工程量的 95%")
    assert sum(p.budget for p in projects) == Decimal("35665.6")


def test_targets_and_pipelines_reproduce_the_seed_rates(demo_town):
    rows = {t["code"]: t for t in queries.summary(2023)["targets"]}
    assert (rows["tax-revenue"]["actual"], rows["tax-revenue"]["rate_text"]) == (11.68, "39%")
    assert (rows["job-placement"]["actual"], rows["job-placement"]["rate_text"]) == (1035, "58%")
    assert (rows["youth-employment"]["actual"], rows["youth-employment"]["rate_text"]) == (
        38,
        "62%",
    )
    assert (rows["hard-to-employ"]["actual"], rows["hard-to-employ"]["rate_text"]) == (320, "69%")
    assert rows["startups"]["rate"] is None and rows["startups"]["rate_text"] == "—"
    pipes = {p["code"]: p for p in queries.summary(2023)["pipelines"]}
    elevator = pipes["elevator-retrofit"]["stages"]
    assert [(s["name"], s["actual"], s["rate_text"]) for s in elevator] == [
        ("签约", 52, "95%"),
        ("开工", 29, "74%"),
        ("竣工", 24, "63%"),
    ]
    assert pipes["village-relocation"]["stages"][0]["rate_text"] == "99.8%"
    beds = pipes["elder-care-beds"]
    assert [s["actual"] for s in beds["stages"]] == [306, 283] and beds["total"] == 589


def test_places_are_linked(demo_town):
    project = Project.objects.get(year=2023, number=10)
    names = set(project.links.filter(kind="place").values_list("grid__name", flat=True))
    assert names == {"联勤村", "一六村", "卫行村", "御桥村", "南新村", "五星村"}


def test_remove_and_rebuild(demo_town):
    demo.remove()
    assert not demo.exists()
    assert not Project.objects.exists() and not Target.objects.exists()
    assert not Pipeline.objects.exists()
    summary = demo.build()
    assert summary["projects"] == 10 and demo.exists()


def test_summary_of_an_empty_town(db):
    assert queries.summary() == {
        "year": None,
        "projects": [],
        "targets": [],
        "pipelines": [],
        "totals": {},
    }
