"""The standard category catalogue (案件分类) as data, and its installer.

Follows GB/T 30428.2 / CJ/T 214: 部件 (components) and 事件 (events), each in top classes
(大类) with subclasses (小类), two-digit codes per level, ``full_code`` = kind letter (C or E) +
class code + subclass code (``E0102`` 事件 · 市容环境 · 暴露垃圾). The standard top classes keep
their standard numbers (01–06 for components, 01–05 for events); Beicai's local extension classes
start at 10, as the standard reserves the higher numbers for local use. Subclass numbers within a
class are the town's; once installed they are stable (cases and Open311 service codes refer to
them), so new subclasses take the next free number and nothing is renumbered.

Time limits. The town defaults (``TOWN_DEFAULT_LIMITS``, rows with no category) cover every
step; a subclass carries its own row where it differs: always for 处置 (handle), and for every
step of the urgent 突发事件 (in natural hours: a burst water main does not wait for office
hours). Published examples kept as published: 暴露垃圾 4 working hours, 私搭乱建 20 working days
(stop in 4 working hours, penalty decision in 7 working days, see its closing conditions),
违法搭建 15 working days, 道路不洁 5 working hours.

``install_catalogue()`` writes all of it, idempotently (matched by codes, only changed rows are
written), creating any department it refers to that does not exist yet, with one audit event.
Run it with ``towngrid cases_catalogue``; the demo build calls it too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from pypinyin import Style, lazy_pinyin, load_phrases_dict

from .models import Category, CategoryClass, CategoryKind, LimitUnit, Step, TimeLimit

# pypinyin reads 窨 as xūn; in 窨井 (manhole) it is yìn. Registered once, process-wide, which is
# right for every caller: the word has no other reading.
load_phrases_dict({"窨井": [["yìn"], ["jǐng"]]})

# The departments the catalogue dispatches to, by their stable slug (the same codes and names as
# the demo town's towngrid.demo.data.DEPARTMENTS; kept here so that installing the catalogue in a
# real town does not import the demo).
DEPARTMENT_NAMES: dict[str, tuple[str, str]] = {
    "city-operations": ("城市运行管理中心", "城运中心"),
    "urban-management": ("城管执法中队", "城管中队"),
    "market-regulation": ("北蔡市场监督管理所", "市场监管所"),
    "housing": ("房屋管理办事处", "房管办"),
    "water-affairs": ("水务管理站", "水务站"),
    "work-safety": ("安全生产监督管理办公室", "安监办"),
    "planning-environment": ("规划建设和生态环境办公室", "规建办"),
    "public-safety": ("平安建设办公室", "平安办"),
    "social-affairs": ("社会事业发展办公室", "社发办"),
}

CO = "city-operations"
UM = "urban-management"
MR = "market-regulation"
HS = "housing"
WA = "water-affairs"
WS = "work-safety"
PE = "planning-environment"
PS = "public-safety"
SA = "social-affairs"

_UNITS = {
    "wh": LimitUnit.WORK_HOURS,
    "wd": LimitUnit.WORK_DAYS,
    "h": LimitUnit.HOURS,
    "d": LimitUnit.DAYS,
}


def limit(text: str) -> tuple[Decimal, str]:
    """``"4wh"`` → (4, work_hours); units wh, wd (working hours/days), h, d (natural)."""
    for suffix in ("wh", "wd", "h", "d"):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]), _UNITS[suffix].value
    raise ValueError(f"bad limit {text!r}")


# The town's default limit for each step (TimeLimit rows with category NULL).
TOWN_DEFAULT_LIMITS: dict[str, str] = {
    Step.ACCEPT: "1wh",
    Step.VERIFY: "2wh",
    Step.OPEN: "1wh",
    Step.DISPATCH: "1wh",
    Step.HANDLE: "3wd",
    Step.RECHECK: "4wh",
    Step.CLOSE: "2wh",
}

# 突发事件: every step in natural hours, round the clock.
URGENT_LIMITS: dict[str, str] = {
    Step.ACCEPT: "0.5h",
    Step.VERIFY: "1h",
    Step.OPEN: "0.5h",
    Step.DISPATCH: "0.5h",
    Step.RECHECK: "2h",
    Step.CLOSE: "1h",
}

DEFAULT_CLOSING = "处置后照片显示问题已消除，网格员现场核查确认。"


@dataclass(frozen=True)
class Sub:
    """One subclass. ``handle`` is the 处置 limit; ``limits`` other steps that differ from the
    town defaults."""

    code: str
    name: str
    department: str
    handle: str
    synonyms: tuple[str, ...] = ()
    closing: str = DEFAULT_CLOSING
    after_photo: bool = True
    public: bool = True
    description: str = ""
    limits: dict[str, str] = field(default_factory=dict)

    def step_limits(self) -> dict[str, tuple[Decimal, str]]:
        return {step: limit(text) for step, text in {**self.limits, "handle": self.handle}.items()}


@dataclass(frozen=True)
class Major:
    kind: str
    code: str
    name: str
    subs: tuple[Sub, ...]
    local: bool = False

    @property
    def letter(self) -> str:
        return "C" if self.kind == CategoryKind.COMPONENT else "E"


C, E = CategoryKind.COMPONENT.value, CategoryKind.EVENT.value
_U = URGENT_LIMITS

# The table is kept one subclass a line (or two) for reading; the formatter would explode it.
# fmt: off
CATALOGUE: tuple[Major, ...] = (
    # ---- 部件 components -------------------------------------------------------------------
    Major(C, "01", "公用设施", (
        Sub("01", "上水井盖", WA, "1wd", ("自来水井盖", "给水井盖")),
        Sub("02", "污水井盖", WA, "1wd", ("污水窨井",)),
        Sub("03", "雨水井盖", WA, "1wd", ("雨水窨井",)),
        Sub("04", "雨水箅子", WA, "1wd", ("雨水篦子", "雨水口", "进水口堵塞")),
        Sub("05", "窨井盖", WA, "1wd", ("井盖破损", "井盖松动", "井盖异响", "检查井"),
            "井盖已更换或复位，平稳无异响，附处置后照片。"),
        Sub("06", "消防栓", WS, "2wd", ("消火栓", "消防栓漏水", "消防栓损坏")),
        Sub("07", "路灯", CO, "3wd", ("路灯不亮", "路灯损坏", "灯杆倾斜", "照明")),
        Sub("08", "电力设施", CO, "3wd", ("变电箱", "配电箱", "电线杆", "箱式变电站")),
        Sub("09", "通信设施", CO, "5wd", ("通信交接箱", "通信线缆", "飞线", "弱电箱")),
        Sub("10", "燃气设施", WS, "1wd", ("燃气调压箱", "燃气管道标志")),
        Sub("11", "雨水泵站设施", WA, "2wd", ("泵站", "排涝泵站"), public=False,
            description="水务站维护的雨水泵站设备，由巡检与物联感知发现。"),
    )),
    Major(C, "02", "道路交通", (
        Sub("01", "交通信号灯", CO, "1wd", ("红绿灯", "信号灯故障")),
        Sub("02", "交通标志牌", CO, "3wd", ("路名牌", "指路牌", "交通标志")),
        Sub("03", "道路护栏", CO, "3wd", ("隔离护栏", "栏杆损坏")),
        Sub("04", "隔离桩", CO, "3wd", ("阻车桩", "隔离墩", "石墩")),
        Sub("05", "公交站亭", CO, "3wd", ("公交站台", "候车亭")),
        Sub("06", "人行道板", CO, "5wd", ("人行道破损", "道板松动", "盲道")),
        Sub("07", "车行道路面", CO, "5wd", ("道路破损", "坑塘", "路面坑洼", "路面沉降")),
    )),
    Major(C, "03", "市容环境", (
        Sub("01", "公共厕所", CO, "1wd", ("公厕", "厕所脏", "公厕设施损坏")),
        Sub("02", "废物箱", CO, "2wd", ("垃圾桶", "果壳箱", "垃圾箱损坏")),
        Sub("03", "垃圾房", CO, "2wd", ("小压站", "垃圾箱房", "分类投放点")),
        Sub("04", "户外广告设施", UM, "5wd", ("广告牌", "店招店牌", "灯箱")),
        Sub("05", "公共座椅", CO, "5wd", ("休闲椅", "座椅损坏")),
    )),
    Major(C, "04", "园林绿化", (
        Sub("01", "行道树", PE, "3wd", ("树木缺株", "树枝断裂", "树木修剪", "枯树")),
        Sub("02", "绿地", PE, "5wd", ("草坪", "绿化带", "绿地破损", "黄土裸露")),
        Sub("03", "护树设施", PE, "5wd", ("树池", "树箅", "护树板")),
        Sub("04", "花箱花坛", PE, "5wd", ("花坛", "花箱", "花钵")),
        Sub("05", "古树名木", PE, "2wd", ("古树", "名木")),
    )),
    Major(C, "05", "房屋土地", (
        Sub("01", "直管公房", HS, "5wd", ("公房", "售后公房")),
        Sub("02", "空置房屋", HS, "10wd", ("空关房", "闲置房屋")),
        Sub("03", "农村自建房", HS, "10wd", ("自建房", "宅基地房屋", "农民房")),
        Sub("04", "地下空间", HS, "5wd", ("地下室", "民防工程", "地下车库")),
        Sub("05", "闲置地块", PE, "10wd", ("待建地块", "空地", "拆平地块")),
        Sub("06", "加装电梯设施", HS, "3wd", ("加梯", "既有多层住宅加装电梯")),
    )),
    Major(C, "06", "其他设施", (
        Sub("01", "健身设施", SA, "5wd", ("健身器材", "健身苑点", "器材损坏")),
        Sub("02", "宣传栏", CO, "5wd", ("公示栏", "宣传橱窗")),
        Sub("03", "治安监控", PS, "3wd", ("监控探头", "电子眼", "摄像头损坏")),
        Sub("04", "电动自行车充电设施", WS, "2wd", ("充电桩", "充电棚", "非机动车充电")),
        Sub("05", "门楼牌", PS, "5wd", ("门牌", "楼牌", "门牌号")),
    )),
    Major(C, "10", "智能感知设施", local=True, subs=(
        Sub("01", "AI视频摄像头", CO, "2wd", ("智能摄像头", "视频离线"), public=False,
            description="小包垃圾智能发现等 AI 视频点位的设备故障或离线。"),
        Sub("02", "水质监测站", WA, "2wd", ("水务管家", "水质传感器"), public=False),
        Sub("03", "积水监测点", WA, "1wd", ("液位计", "积水传感器"), public=False),
        Sub("04", "燃气泄漏报警器", WS, "1wd", ("燃气报警器", "可燃气体探测器"), public=False),
        Sub("05", "电梯阻车感知设备", WS, "2wd", ("电梯阻入", "电动车识别"), public=False),
        Sub("06", "智能烟感", WS, "1wd", ("烟感报警器", "独立烟感"), public=False),
    )),
    # ---- 事件 events -----------------------------------------------------------------------
    Major(E, "01", "市容环境", (
        Sub("01", "违法搭建", UM, "15wd", ("违章建筑", "违建", "违法建筑"),
            "违法建筑已拆除或依法处理完毕，附拆除后照片及处理文书编号。"),
        Sub("02", "暴露垃圾", CO, "4wh", ("垃圾暴露", "垃圾散落", "垃圾满溢", "垃圾未清运")),
        Sub("03", "积存垃圾渣土", CO, "1wd", ("积存垃圾", "渣土堆积", "建筑垃圾堆放")),
        Sub("04", "道路不洁", CO, "5wh", ("路面不洁", "道路脏", "保洁不到位")),
        Sub("05", "小包垃圾", CO, "4wh", ("小包垃圾落地", "袋装垃圾", "垃圾袋乱扔"),
            description="AI 视频“小包垃圾智能发现”的主要发现类型。"),
        Sub("06", "私搭乱建", UM, "20wd", ("乱搭建", "搭棚", "违章搭建"),
            "4 个工作时内责令停止施工，7 个工作日内作出处罚决定，20 个工作日内拆除；"
            "附拆除后照片。"),
        Sub("07", "乱堆物堆料", UM, "1wd", ("乱堆放", "堆物", "杂物堆放")),
        Sub("08", "乱贴乱画", CO, "1wd", ("乱涂写", "乱刻画", "涂鸦", "乱张贴")),
        Sub("09", "焚烧垃圾", UM, "4wh", ("露天焚烧", "焚烧秸秆", "烧垃圾")),
        Sub("10", "水域不洁", WA, "1wd", ("河道漂浮物", "河面垃圾", "水面漂浮物")),
        Sub("11", "绿地脏乱", PE, "1wd", ("绿地垃圾", "绿化带垃圾")),
        Sub("12", "餐饮油烟", PE, "5wd", ("油烟扰民", "油烟污染"), after_photo=False,
            closing="油烟净化设施已安装或整改到位，附整改记录。"),
        Sub("13", "社会生活噪声", UM, "2wd", ("噪声扰民", "噪音", "广场舞噪声"),
            after_photo=False, closing="噪声源已消除，回访上报人确认。"),
        Sub("14", "建筑垃圾乱倒", UM, "1wd", ("偷倒建筑垃圾", "装修垃圾乱倒")),
        Sub("15", "动物尸体", CO, "4wh", ("死猫", "死狗", "动物死体")),
    )),
    Major(E, "02", "宣传广告", (
        Sub("01", "非法小广告", CO, "1wd", ("小广告", "牛皮癣", "乱贴广告")),
        Sub("02", "违规户外广告", UM, "5wd", ("违法广告", "未经审批广告")),
        Sub("03", "占道广告牌", UM, "1wd", ("落地广告牌", "占道招牌")),
        Sub("04", "非法悬挂横幅", UM, "1wd", ("横幅", "条幅", "乱挂横幅")),
        Sub("05", "广告设施破损", UM, "2wd", ("广告牌破损", "店招破损", "灯箱破损")),
    )),
    Major(E, "03", "施工管理", (
        Sub("01", "施工扰民", UM, "1wd", ("夜间施工", "施工噪声", "违规施工"),
            after_photo=False, closing="施工已停止或取得夜间施工许可，回访上报人确认。"),
        Sub("02", "渣土撒漏", UM, "4wh", ("渣土车撒漏", "道路遗撒", "泥浆车")),
        Sub("03", "施工占道", UM, "1wd", ("占道施工", "施工围挡占道")),
        Sub("04", "工地扬尘", PE, "1wd", ("扬尘", "工地未覆盖", "裸土未覆盖")),
        Sub("05", "道路挖掘未恢复", CO, "3wd", ("挖掘道路", "路面未修复", "掘路")),
        Sub("06", "施工废弃料", UM, "1wd", ("施工废料", "工程垃圾")),
    )),
    Major(E, "04", "突发事件", (
        Sub("01", "道路积水", WA, "4h", ("积水", "内涝", "路面积水", "下立交积水"),
            "积水已排除，道路恢复通行，附排水后照片。", limits=_U),
        Sub("02", "水管爆裂", WA, "4h", ("自来水管爆裂", "爆管", "漏水", "停水"),
            "已关阀止水并修复，恢复供水，附修复后照片。", limits=_U),
        Sub("03", "井盖缺失", WA, "2h", ("井盖丢失", "井盖被盗", "窨井无盖"),
            "现场已设警示并补装井盖，附补装后照片。", limits=_U),
        Sub("04", "燃气泄漏", WS, "2h", ("煤气泄漏", "闻到煤气味", "燃气管道泄漏"),
            "燃气公司已关阀抢修，检测无泄漏。", limits=_U),
        Sub("05", "路面塌陷", CO, "4h", ("地面塌陷", "道路塌陷", "空洞"),
            "塌陷处已围挡并修复，恢复通行，附修复后照片。", limits=_U),
        Sub("06", "树木倒伏", PE, "4h", ("倒树", "树木倾倒", "断枝"),
            "倒伏树木已清理或扶正，道路畅通，附处置后照片。", limits=_U),
        Sub("07", "火情", WS, "1h", ("着火", "冒烟", "火灾"), after_photo=False,
            closing="明火已扑灭，消防救援部门确认；附现场情况说明。", limits=_U),
        Sub("08", "电梯困人", WS, "1h", ("电梯故障困人", "困梯"), after_photo=False,
            closing="被困人员已解救，电梯维保单位出具处置记录。", limits=_U),
        Sub("09", "危险化学品泄漏", WS, "2h", ("化学品泄漏", "危化品"), limits=_U),
    )),
    Major(E, "05", "街面秩序", (
        Sub("01", "占道经营", UM, "4wh", ("占道设摊", "乱设摊", "流动摊贩", "马路市场")),
        Sub("02", "无证无照经营", MR, "5wd", ("无照经营", "黑作坊", "无证经营")),
        Sub("03", "店外经营", UM, "4wh", ("跨门经营", "出店经营", "超门窗经营")),
        Sub("04", "车辆乱停放", PS, "4wh", ("机动车乱停", "违停", "乱停车")),
        Sub("05", "非机动车乱停放", CO, "4wh", ("共享单车乱停", "电动车乱停", "自行车乱停")),
        Sub("06", "占道洗车", UM, "1wd", ("洗车占道", "占道修车")),
        Sub("07", "废弃车辆", PS, "5wd", ("僵尸车", "无主车辆", "废弃自行车")),
        Sub("08", "露天烧烤", UM, "4wh", ("占道烧烤", "夜宵烧烤")),
        Sub("09", "乞讨卖艺", SA, "1wd", ("流浪乞讨", "街头卖艺"), after_photo=False,
            closing="已劝离或转介救助站，附处置记录。"),
        Sub("10", "违规晾晒", CO, "1wd", ("沿街晾晒", "乱晾晒")),
    )),
    Major(E, "10", "房屋安全与基层治理", local=True, subs=(
        Sub("01", "群租", HS, "10wd", ("群租房", "隔断出租", "按床位出租", "分租"),
            "已拆除隔断、恢复原始房型，每间居住不超过 2 人且人均不少于 5 平方米；附整改后照片。"),
        Sub("02", "三合一场所", WS, "5wd", ("三合一", "住人仓库", "前店后宅", "居住生产储存混合"),
            "住宿与生产、经营、储存场所已分隔或人员已清退，附整改后照片。"),
        Sub("03", "破坏承重墙", HS, "5wd", ("拆改承重墙", "敲承重墙", "破坏房屋结构"),
            "4 个工作时内责令停工；承重结构已恢复并经房屋安全鉴定，附鉴定意见。",
            limits={Step.DISPATCH: "0.5wh"}),
        Sub("04", "违规装修", HS, "5wd", ("装修违规", "未申报装修", "装修扰民")),
        Sub("05", "房屋安全隐患", HS, "3wd", ("危房", "墙体开裂", "外墙脱落", "房屋倾斜")),
        Sub("06", "擅自改变房屋用途", HS, "10wd", ("居改非", "住改商", "违规出租")),
        Sub("07", "高空坠物隐患", HS, "1wd", ("高空抛物", "空调外机松动", "外墙空鼓")),
        Sub("08", "楼道堆物", HS, "2wd", ("楼道杂物", "公共部位堆物", "占用楼道")),
        Sub("09", "毁绿种菜", PE, "5wd", ("侵占绿地", "私占绿地", "绿地种菜")),
        Sub("10", "邻里纠纷", PS, "5wd", ("矛盾纠纷", "邻里矛盾", "居民纠纷"),
            after_photo=False, closing="已调解并回访当事人，附调解记录。"),
    )),
    Major(E, "11", "安全生产", local=True, subs=(
        Sub("01", "燃气安全隐患", WS, "4wh", ("燃气隐患", "液化气隐患", "燃气软管老化"),
            "隐患已消除（软管更换、报警器安装或停用），附整改后照片。"),
        Sub("02", "电动自行车进电梯", WS, "1wd", ("电瓶车进电梯", "电动车上楼", "电梯阻车")),
        Sub("03", "消防通道堵塞", WS, "4wh", ("占用消防通道", "消防车道堵塞", "生命通道")),
        Sub("04", "飞线充电", WS, "1wd", ("私拉电线充电", "楼道充电", "电动车违规充电")),
        Sub("05", "消防设施损坏", WS, "2wd", ("灭火器过期", "应急灯损坏", "消防设施缺失")),
        Sub("06", "企业安全隐患", WS, "3wd", ("重点企业隐患", "生产安全隐患", "厂房隐患")),
        Sub("07", "违规使用液化气瓶", WS, "1wd", ("液化气钢瓶", "煤气罐", "瓶装燃气")),
        Sub("08", "违规存放易燃易爆品", WS, "4wh", ("易燃易爆", "违规储存危险品")),
        Sub("09", "电梯安全隐患", MR, "2wd", ("电梯故障", "电梯维保", "特种设备")),
    )),
    Major(E, "12", "水务环境", local=True, subs=(
        Sub("01", "雨污混接", WA, "20wd", ("雨污混流", "污水接入雨水管", "阳台污水"),
            "混接点已改接，经水务站复核，附改接后照片。"),
        Sub("02", "河道水质异常", WA, "2wd", ("黑臭水体", "河水发黑", "河道异味", "水质超标"),
            "水质复测恢复至水功能区目标，附监测数据。", public=False,
            description="水务管家等水质监测告警生成。"),
        Sub("03", "泵站故障", WA, "4h", ("雨水泵站故障", "泵站停机"), public=False,
            closing="泵站恢复运行，附运行记录。", limits=_U),
        Sub("04", "排水不畅", WA, "1wd", ("下水道堵塞", "管道堵塞", "窨井冒溢")),
        Sub("05", "违法排污", PE, "3wd", ("偷排", "污水直排", "排污口")),
        Sub("06", "侵占河道", WA, "10wd", ("河道违章", "填河", "河道搭建")),
    )),
)
# fmt: on


# ---- keywords -----------------------------------------------------------------------------


def initials(text: str) -> str:
    """Pinyin initials: 暴露垃圾 → bllj (non-Chinese characters are kept, lower-cased)."""
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()


def full_pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


def keywords_for(sub: Sub, max_length: int = 200) -> str:
    """Synonyms, then the name's pinyin initials and full pinyin, then the synonyms' initials,
    space-separated, without repeats, cut at a word boundary to fit the field."""
    words: list[str] = [*sub.synonyms, initials(sub.name), full_pinyin(sub.name)]
    words += [initials(s) for s in sub.synonyms]
    out: list[str] = []
    length = 0
    for word in words:
        if not word or word in out or word == sub.name:
            continue
        extra = len(word) + (1 if out else 0)
        if length + extra > max_length:
            break
        out.append(word)
        length += extra
    return " ".join(out)


# ---- installer ----------------------------------------------------------------------------


def subclass_count() -> int:
    return sum(len(major.subs) for major in CATALOGUE)


def _sync(model, lookup: dict[str, Any], values: dict[str, Any], counts: Counter, label: str):
    """update_or_create that writes only when something changed, counting what it did."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values)
        counts[f"{label}_created"] += 1
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        counts[f"{label}_updated"] += 1
    else:
        counts[f"{label}_unchanged"] += 1
    return obj


def _departments(counts: Counter) -> dict[str, Any]:
    from towngrid.accounts.models import Department

    wanted = {sub.department for major in CATALOGUE for sub in major.subs}
    found = {d.code: d for d in Department.objects.filter(code__in=wanted)}
    for code in sorted(wanted - found.keys()):
        name, short = DEPARTMENT_NAMES[code]
        # A town may have entered the department by hand under another code: reuse it by name.
        dept = Department.objects.filter(name=name).first()
        if dept is None:
            dept = Department.objects.create(code=code, name=name, short_name=short)
            counts["departments_created"] += 1
        found[code] = dept
    return found


class _DryRun(Exception):
    pass


def install_catalogue(*, actor=None, dry_run: bool = False) -> dict[str, int]:
    """Install or update the catalogue, the town default limits and each subclass's limits.

    Idempotent: matched by (kind, class code), full_code and (category, step); only rows whose
    values differ are written. Time-limit rows the catalogue does not define (a town's own
    additions) are left alone. Returns counts such as ``{"subclasses_created": 116, …}``;
    with ``dry_run`` nothing is written and the counts say what would be.
    """
    from towngrid.core import audit

    counts: Counter = Counter()
    try:
        with transaction.atomic():
            departments = _departments(counts)
            for step, text in TOWN_DEFAULT_LIMITS.items():
                amount, unit = limit(text)
                _sync(
                    TimeLimit,
                    {"category": None, "step": step},
                    {"amount": amount, "unit": unit},
                    counts,
                    "limits",
                )
            for class_sort, major in enumerate(CATALOGUE, start=1):
                top = _sync(
                    CategoryClass,
                    {"kind": major.kind, "code": major.code},
                    {"name": major.name, "is_local": major.local, "sort": class_sort},
                    counts,
                    "classes",
                )
                for sub_sort, sub in enumerate(major.subs, start=1):
                    category = _sync(
                        Category,
                        {"full_code": f"{major.letter}{major.code}{sub.code}"},
                        {
                            "major": top,
                            "code": sub.code,
                            "name": sub.name,
                            "keywords": keywords_for(sub),
                            "description": sub.description,
                            "default_department": departments[sub.department],
                            "requires_after_photo": sub.after_photo,
                            "closing_conditions": sub.closing,
                            "is_public": sub.public,
                            "is_local": major.local,
                            "sort": sub_sort,
                        },
                        counts,
                        "subclasses",
                    )
                    for step, (amount, unit) in sub.step_limits().items():
                        _sync(
                            TimeLimit,
                            {"category": category, "step": step},
                            {"amount": amount, "unit": unit},
                            counts,
                            "limits",
                        )
            result = dict(sorted(counts.items()))
            changed = any(k.endswith(("_created", "_updated")) for k in result)
            if changed:
                audit.record(
                    actor,
                    "cases.catalogue.install",
                    object_type="cases.category",
                    object_repr=f"案件分类目录（{subclass_count()} 个小类）",
                    changes=result,
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result
