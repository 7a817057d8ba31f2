"""The programs part of the Beicai demo town (see towngrid/demo/extras.py for the contract): the
seed report's ten 实事项目 of 2023 with their exact descriptions, budgets, departments and
推进情况 (as of the end of June), its annual targets and its pipelines.

Figures the seed gives are used as it gives them. Where it gives only a rate, the missing number
is the smallest round figure that reproduces the rate as the report prints it, and is marked
here (ASSUMED) and in docs/programs.md:
- annual targets: 税收收入 30 亿元 (11.68 → 39%), 推荐就业 1800 人 (also 实事项目 9's title;
  1035 → 58%), 长期失业青年 61 人 (38 → 62%), 就业困难人员 464 人 (320 → 69%);
- 加梯 tasks assigned by the district (新区下达): 签约 55, 开工 39, 竣工 38 (52/29/24 →
  95%/74%/63%);
- 中界、杨桥 households: 500, of which 499 signed (签约率 99.8%);
- each project's percentage (the seed writes progress as text): read from that text.
Milestone dates the seed gives as a month are the month's last day; "by the end of June" facts
are dated 2023-06-30.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

YEAR = 2023
AS_OF = date(2023, 6, 30)
# A department this step had to create (the town's own list lacked it) carries this prefix, so
# that remove() deletes exactly those.
CREATED_PREFIX = "programs-demo-"

PARTY = "党群工作办公室"
PLANNING = "规划建设和生态环境办公室"
ECONOMY = "经济发展办公室"
SOCIAL = "社会事业发展办公室"
GENERAL = "党政办公室"
ARMED = "人民武装部"
SERVICE = "社区事务受理服务中心"
CITY_OPS = "城市运行管理中心"
HOUSING = "房屋管理办事处"


@dataclass(frozen=True)
class MilestoneSpec:
    name: str
    planned_on: date | None = None
    actual_on: date | None = None
    note: str = ""


@dataclass(frozen=True)
class ProjectSpec:
    number: int
    name: str
    description: str
    budget: str  # 万元
    department: str
    progress: str
    percent: int  # ASSUMED from the progress text
    cooperating: tuple[str, ...] = ()
    units: str = ""
    places: tuple[str, ...] = ()  # names of level-3 grid nodes (居委 / 村)
    milestones: tuple[MilestoneSpec, ...] = field(default_factory=tuple)


M = MilestoneSpec
D = date

PROJECTS: list[ProjectSpec] = [
    ProjectSpec(
        1,
        "居民小区电子信息屏更新建设项目",
        "在全镇 30 余个居民小区安装社区电子信息屏，作为社区信息宣传的数字化载体和小区宣传栏的"
        "动态补充。",
        "400",
        PARTY,
        "已通过预审。",
        10,
        units="宣传统战",
        milestones=(
            M("项目预审", actual_on=AS_OF),
            M("电子信息屏安装完成", planned_on=D(2023, 12, 31)),
        ),
    ),
    ProjectSpec(
        2,
        "“家门口”社区影院服务项目",
        "对已经建设“社区放映室”的 55 个居村，继续提供宣发放映服务，把优质公共文化资源和服务"
        "下沉到基层，提供“学习强国”内容展示和集体学习、点单式社区放映和宣传信息服务，让老百姓"
        "在家门口就能了解中央精神、学习强国的内容、看电影和政府宣传信息。",
        "200",
        PARTY,
        "项目已完成。",
        100,
        units="宣传统战",
        milestones=(M("项目完成", planned_on=D(2023, 12, 31), actual_on=AS_OF, note="提前完成"),),
    ),
    ProjectSpec(
        3,
        "小区雨污混接改造项目",
        "本工程主要对玉兰小区等 17 个小区实施雨污混接改造，对北蔡苑等 60 个小区进行阳台立管"
        "改造，对莲园路（锦绣路-沪南公路）进行雨污水管补建工程。",
        "29354",
        PLANNING,
        "已完成工程量的 95%（其中小区部分已完成工程量的 99%，计划 6月底完工，市政道路莲园路"
        "计划 8月完工）。",
        95,
        places=("玉兰居委", "北蔡苑居委"),
        milestones=(
            M("小区部分完工", planned_on=D(2023, 6, 30), note="已完成工程量的 99%"),
            M("市政道路莲园路完工", planned_on=D(2023, 8, 31)),
        ),
    ),
    ProjectSpec(
        4,
        "缤纷社区改造项目",
        "试点推进莲宏苑小区缤纷社区改造工程，拟对小区主要出入口、活动空间、绿化布局、建筑立面"
        "等进行整体改造，形成具有可推广性的缤纷社区改造试点项目。",
        "600",
        PLANNING,
        "已完成立项审批流转，计划 7月启动施工招标，8月进场施工。",
        15,
        places=("莲宏苑居委",),
        milestones=(
            M("立项审批流转", actual_on=AS_OF),
            M("启动施工招标", planned_on=D(2023, 7, 31)),
            M("进场施工", planned_on=D(2023, 8, 31)),
            M("竣工验收", planned_on=D(2023, 10, 31)),
        ),
    ),
    ProjectSpec(
        5,
        "美丽街区改造项目",
        "1、计划实施北中路双拥一条街改造项目，涉及人行铺装、绿化景观、双拥特色标识等改造。\n"
        "2、推进实施陈春路美丽街区提升工程，涉及绿化景观提升、立面道路更新、特色标识标牌等"
        "内容，打造高品质城市街区道路。",
        "1000",
        PLANNING,
        "1、已完成立项审批流转，计划 7 月启动施工招标，8月进场施工。\n"
        "2、已启动陈春东路周边绿化提升项目立项审批。",
        15,
        milestones=(
            M("北中路：立项审批流转", actual_on=AS_OF),
            M("北中路：启动施工招标", planned_on=D(2023, 7, 31)),
            M("北中路：进场施工", planned_on=D(2023, 8, 31)),
            M("陈春东路周边绿化提升：启动立项审批", actual_on=AS_OF),
        ),
    ),
    ProjectSpec(
        6,
        "鹏海菜市场改造",
        "为有效改善居民购菜环境和生活水平，推进镇“菜篮子”工程继续往更高质量发展，对鹏海菜"
        "市场开展提升改造工作。",
        "480",
        ECONOMY,
        "施工招标手续已经完成，外立面施工基本完成，内部拆旧已基本完成，下一步将进行隐蔽工程改造。",
        60,
        places=("鹏海居委",),
        milestones=(
            M("施工招标", actual_on=AS_OF),
            M("外立面施工", actual_on=AS_OF, note="基本完成"),
            M("内部拆旧", actual_on=AS_OF, note="基本完成"),
            M("隐蔽工程改造"),
            M("改造全面完成", planned_on=D(2023, 12, 31)),
        ),
    ),
    ProjectSpec(
        7,
        "华绣路综合为老分中心建设",
        "调整和完善华绣路综合为老服务分中心设计方案，根据设计方案进行内部施工和装修。初步拟定"
        "运营方案，打造集助餐、日托、服务、康乐等为一体的社区嵌入式养老服务。",
        "1400",
        SOCIAL,
        "全力推进华绣路综合为老分中心项目工程，已完成抗震检测并追加项目预算和政采指标，下半年"
        "将继续推进设计、施工招投标，年内启动施工。",
        10,
        cooperating=(PLANNING, GENERAL),
        places=("华绣居委",),
        milestones=(
            M("抗震检测", actual_on=AS_OF),
            M("追加项目预算和政采指标", actual_on=AS_OF, note="增加结构性加固工程"),
            M("设计、施工招投标", planned_on=D(2023, 9, 30)),
            M("启动施工", planned_on=D(2023, 12, 31)),
        ),
    ),
    ProjectSpec(
        8,
        "地下空间综合整新工程",
        "计划通过三年时间对镇域内老旧小区、动迁房小区和享有政府补贴的早期商品房小区进行消防、"
        "防汛、人防设施全面整新。2023 年拟在“博华居委-陆家嘴锦绣里”试点完成小区地下空间综合"
        "整新工程。",
        "200",
        ARMED,
        "7 月初已立项，将加快工程进度，年内完工。",
        10,
        places=("博华居委",),
        milestones=(
            M("立项", planned_on=D(2023, 7, 10), note="7 月初已立项"),
            M("试点工程完工", planned_on=D(2023, 12, 31)),
        ),
    ),
    ProjectSpec(
        9,
        "新增就业岗位 1800 个",
        "完成新区、镇下达的各项就业目标，通过开展线上、线下招聘活动，做好职业指导、创业指导。"
        "充分宣传市、区、镇三级政府各项促进就业政策，开展辖区内各类失、无业人员、就业困难人员、"
        "应届毕业生调查摸底，并提供各项就业服务，进一步促进和提升我镇就业率和就业服务满意度。",
        "371.6",
        SERVICE,
        "已完成新增就业岗位 1035 个，帮扶初创人员 33 人，服务新老企业 77 家、完成长期失业青年"
        "就业 27 人，就业困难人员安置 220人。",
        58,
        milestones=(M("新增就业岗位 1800 个", planned_on=D(2023, 12, 31), note="已完成 1035 个"),),
    ),
    ProjectSpec(
        10,
        "城中村物业化管理",
        "完善联勤村物业化管理服务，有序推进一六村、卫行村、御桥村、南新村、五星村的物业化管理。",
        "1660",
        CITY_OPS,
        "已完成一六、卫行两村整区域物业化管理工作推进；御桥、五星、南新三村封闭化基建项目正在"
        "推进中，预计 7 月中下旬全面完工。",
        60,
        units="莲溪物业、联勤村、一六村、卫行村、御桥村、南新村、五星村",
        places=("联勤村", "一六村", "卫行村", "御桥村", "南新村", "五星村"),
        milestones=(
            M("一六村、卫行村整区域物业化管理", actual_on=AS_OF),
            M("御桥、五星、南新三村封闭化基建完工", planned_on=D(2023, 7, 31)),
        ),
    ),
]


@dataclass(frozen=True)
class TargetSpec:
    code: str
    metric: str
    unit: str
    actual: str
    annual_target: str | None
    department: str
    source: str = ""
    key: bool = True
    note: str = ""
    as_of: date = AS_OF


# Targets with a completion rate first (the big screen shows the first few), then the figures
# the town follows without an annual target.
TARGETS: list[TargetSpec] = [
    TargetSpec(
        "tax-revenue", "税收收入", "亿元", "11.68", "30", ECONOMY, "年初目标", note="同比增长 18%"
    ),
    TargetSpec("job-placement", "推荐就业", "人", "1035", "1800", SERVICE, "全年目标"),
    TargetSpec("youth-employment", "长期失业青年就业创业", "人", "38", "61", SERVICE, "全年目标"),
    TargetSpec("hard-to-employ", "市就业困难人员就业", "人", "320", "464", SERVICE, "全年目标"),
    TargetSpec("startups", "帮扶引领成功创业", "人", "38", None, SERVICE),
    TargetSpec("district-fiscal-revenue", "区级地方财政收入", "亿元", "3.48", None, ECONOMY),
    TargetSpec("town-fiscal-revenue", "镇级地方财政收入", "亿元", "2.82", None, ECONOMY),
    TargetSpec("industrial-output", "规上工业总产值", "亿元", "29.62", None, ECONOMY),
    TargetSpec("fixed-asset-investment", "全社会固定资产投资", "亿元", "29.36", None, ECONOMY),
    TargetSpec(
        "domestic-enterprises",
        "引进内资企业",
        "家",
        "369",
        None,
        ECONOMY,
        key=False,
        note="1-5 月，注册资本 12.36 亿元",
        as_of=date(2023, 5, 31),
    ),
]


@dataclass(frozen=True)
class StageSpec:
    name: str
    actual: str
    target: str | None = None
    note: str = ""


@dataclass(frozen=True)
class PipelineSpec:
    code: str
    name: str
    unit: str
    department: str
    source: str
    description: str
    stages: tuple[StageSpec, ...]


PIPELINES: list[PipelineSpec] = [
    PipelineSpec(
        "elevator-retrofit",
        "既有多层住宅加装电梯",
        "台",
        HOUSING,
        "新区下达任务",
        "大幅提高既有多层住宅加梯速度，解决“悬空老人”下楼问题。",
        (
            StageSpec("签约", "52", "55"),
            StageSpec("开工", "29", "39"),
            StageSpec("竣工", "24", "38"),
        ),
    ),
    PipelineSpec(
        "village-relocation",
        "中界、杨桥等“城中村”拔点改造征收",
        "户",
        PLANNING,
        "",
        "中界、杨桥等“城中村”拔点改造项目基本完成清盘，总签约率达到 99.8%。",
        (StageSpec("签约", "499", "500", "户数为演示假设；报告给出签约率 99.8%"),),
    ),
    PipelineSpec(
        "land-reserve-15-04",
        "御桥社区 901 单元 15-04 地块土地储备（五星村、御桥村部分地块）",
        "户",
        PLANNING,
        "",
        "在签约期内实现清盘，37 户全部完成签约，选房签约圆满收官。",
        (StageSpec("签约", "37", "37"), StageSpec("选房签约", "37", "37")),
    ),
    PipelineSpec(
        "old-town-village",
        "老集镇“城中村”项目收尾",
        "户",
        PLANNING,
        "",
        "老集镇“城中村”项目进入收尾工作，剩余 37 户居民中已签约 18 户，2 户完成司法强制执行。",
        (StageSpec("签约", "18", "37"), StageSpec("司法强制执行", "2")),
    ),
    PipelineSpec(
        "elder-care-beds",
        "新增养老床位",
        "张",
        SOCIAL,
        "",
        "杨莲路敬老院项目已完工，预计 8 月综合验收；鹏海养护院装修项目预计 8 月完成并交付。",
        (
            StageSpec("杨莲路敬老院", "306", note="已完工，预计 8 月综合验收"),
            StageSpec("鹏海养护院", "283", note="装修预计 8 月完成并交付"),
        ),
    ),
]

# Cases linked per place: the first few demo cases located there (by number).
CASES_PER_PLACE = 2


def _departments() -> dict[str, object]:
    """Every department the specs name, by name; a missing one is created (marked)."""
    from towngrid.accounts.models import Department

    names = {p.department for p in PROJECTS} | {n for p in PROJECTS for n in p.cooperating}
    names |= {t.department for t in TARGETS} | {p.department for p in PIPELINES}
    found = {d.name: d for d in Department.objects.filter(name__in=names)}
    for index, name in enumerate(sorted(names - set(found)), start=1):
        found[name] = Department.objects.create(
            code=f"{CREATED_PREFIX}{index}", name=name, short_name=name[:40]
        )
    return found


def build(*, seed: int = 2023, scale: float = 1.0, progress: bool = False) -> dict:
    from django.db import transaction

    from towngrid.cases.models import Case
    from towngrid.grids.models import GridNode

    from . import actions
    from .models import Pipeline, PipelineStage, Target

    with transaction.atomic():
        departments = _departments()
        links = 0
        for spec in PROJECTS:
            project = actions.create_project(
                year=YEAR,
                number=spec.number,
                name=spec.name,
                description=spec.description,
                budget=Decimal(spec.budget),
                department=departments[spec.department],
                cooperating_units=spec.units,
                cooperating_departments=[departments[n] for n in spec.cooperating],
            )
            for order, m in enumerate(spec.milestones, start=1):
                actions.add_milestone(
                    project,
                    name=m.name,
                    planned_on=m.planned_on,
                    actual_on=m.actual_on,
                    note=m.note,
                    order=order,
                )
            actions.add_progress(
                project, text=spec.progress, percent=spec.percent, reported_on=AS_OF
            )
            for name in spec.places:
                node = GridNode.objects.filter(name=name, level=3).order_by("code").first()
                if node is None:
                    continue
                actions.link(project, grid=node)
                links += 1
                cases = Case.objects.filter(grid_code__startswith=node.code).order_by("number")
                for case in cases[:CASES_PER_PLACE]:
                    actions.link(project, case=case, note=node.name)
                    links += 1
        for order, spec in enumerate(TARGETS, start=1):
            target = Target.objects.create(
                year=YEAR,
                code=spec.code,
                order=order,
                metric=spec.metric,
                unit=spec.unit,
                annual_target=Decimal(spec.annual_target) if spec.annual_target else None,
                target_source=spec.source,
                department=departments[spec.department],
                key_figure=spec.key,
                note=spec.note,
            )
            actions.record_target(target, value=spec.actual, as_of=spec.as_of)
        for order, spec in enumerate(PIPELINES, start=1):
            pipeline = Pipeline.objects.create(
                year=YEAR,
                code=spec.code,
                order=order,
                name=spec.name,
                unit=spec.unit,
                target_source=spec.source,
                department=departments[spec.department],
                description=spec.description,
            )
            for stage_order, s in enumerate(spec.stages, start=1):
                stage = PipelineStage.objects.create(
                    pipeline=pipeline,
                    order=stage_order,
                    name=s.name,
                    target=Decimal(s.target) if s.target else None,
                    note=s.note,
                )
                actions.record_stage(stage, value=s.actual, as_of=AS_OF)
    return {
        "projects": len(PROJECTS),
        "targets": len(TARGETS),
        "pipelines": len(PIPELINES),
        "links": links,
    }


def exists() -> bool:
    from .models import Project

    return Project.objects.filter(year=YEAR, number__in=[p.number for p in PROJECTS]).exists()


def remove() -> None:
    from django.db import transaction

    from towngrid.accounts.models import Department

    from .models import Pipeline, ProgressPhoto, Project, Target

    with transaction.atomic():
        projects = Project.objects.filter(year=YEAR, number__in=[p.number for p in PROJECTS])
        for photo in ProgressPhoto.objects.filter(entry__project__in=projects):
            for f in (photo.file, photo.thumbnail):
                if f:
                    f.storage.delete(f.name)
        projects.delete()
        Target.objects.filter(year=YEAR, code__in=[t.code for t in TARGETS]).delete()
        Pipeline.objects.filter(year=YEAR, code__in=[p.code for p in PIPELINES]).delete()
        Department.objects.filter(
            code__startswith=CREATED_PREFIX,
            led_projects__isnull=True,
            cooperating_projects__isnull=True,
            targets__isnull=True,
            pipelines__isnull=True,
            users__isnull=True,
        ).delete()
