"""The Beicai (北蔡镇) demo town as data: areas, residential committees, villages, parks and
buildings, departments, demo logins, and the name pools for grid staff.

Names the seed report gives are used as it gives them (联勤村, 一六村, 卫行村, 御桥村, 南新村, 五星村,
同福村, 大华一居, 博华, 莲溪二村, 北蔡苑, 玉兰, 莲宏苑, 宏莲馨苑, 虞泽苑, 锦绣华城, 池上锦苑, 鹏海, 华绣,
康琳, 京浦, 御桥产业园区, 御河企业公馆, 北蔡产业社区 …); the rest are invented in the same style.
The report's figures fix the counts: 9 行政村, 55 居村 with a 社区放映室 (so 46 居委 + 9 村),
311 micro-grids in 居村 and 6 in 园区楼宇.

The order of the lists matters: it is the order in which the generator lays the pieces out
(west before east, north before south), and so the order of the codes.
"""

from dataclasses import dataclass, field

from towngrid.grids.models import Kind

# GB/T 2260 Pudong New Area (310115) + town 125 (see grids/models.py).
TOWN_CODE = "310115125"
TOWN_NAME = "北蔡镇"

# Around the real town: 31.19 N, 121.54 E, about 25 km².
CENTER_LAT = 31.19
CENTER_LNG = 121.54

# The report's figures.
MICRO_GRIDS_IN_COMMUNITIES = 311
MICRO_GRIDS_IN_PARKS = 6
GRID_LEADERS = 323
FULL_TIME_WORKERS = 315
PART_TIME_WORKERS = 316

DEMO_PASSWORD = "towngrid-demo"


@dataclass(frozen=True)
class Community:
    """A level-3 node: 居委, 村, 园区 or 楼宇. ``micro`` fixes the number of micro-grids for parks
    and buildings; for 居委 and 村 the generator spreads the report's 311 between them."""

    name: str
    kind: str
    micro: int | None = None


@dataclass(frozen=True)
class Area:
    name: str
    slug: str
    communities: list[Community] = field(default_factory=list)


def _res(*names: str) -> list[Community]:
    return [Community(n, Kind.RESIDENTIAL) for n in names]


def _vil(*names: str) -> list[Community]:
    return [Community(n, Kind.VILLAGE) for n in names]


AREAS: list[Area] = [
    Area(
        "六里片区",
        "liuli",
        _res(
            "六里一居",
            "六里二居",
            "六里新村居委",
            "浦建居委",
            "杨高居委",
            "鹏海居委",
            "鹏飞居委",
            "鹏欣居委",
            "绿川居委",
        ),
    ),
    Area(
        "产业社区片区",
        "chanye",
        [
            Community("北蔡产业社区", Kind.PARK, micro=2),
            *_res("绿园居委", "绿科居委", "北新居委", "京浦居委", "康琳居委"),
            Community("YU·创北蔡科技孵化器", Kind.BUILDING, micro=1),
        ],
    ),
    Area(
        "莲溪片区",
        "lianxi",
        _res(
            "莲溪一村居委",
            "莲溪二村居委",
            "莲溪三村居委",
            "莲溪四村居委",
            "莲宏苑居委",
            "宏莲馨苑居委",
            "莲中居委",
            "莲园居委",
            "莲安居委",
        ),
    ),
    Area(
        "北蔡中心片区",
        "zhongxin",
        _res(
            "大华一居",
            "大华二居",
            "大华三居",
            "北蔡苑居委",
            "玉兰居委",
            "北中居委",
            "北城居委",
            "中兴居委",
            "华绣居委",
            "陈春居委",
            "杨莲居委",
        ),
    ),
    Area(
        "御桥片区",
        "yuqiao",
        [
            Community("御桥产业园区", Kind.PARK, micro=2),
            *_res(
                "博华居委",
                "博文居委",
                "锦绣华城居委",
                "池上锦苑居委",
                "虞泽苑居委",
                "御青居委",
                "御北居委",
                "御景居委",
                "御水居委",
                "御翠居委",
                "高科居委",
                "金桂居委",
            ),
            Community("御河企业公馆", Kind.BUILDING, micro=1),
            # 五星村 and 御桥村 share 御桥社区 901 单元 in the report.
            *_vil("御桥村", "五星村"),
        ],
    ),
    Area(
        "联勤南新片区",
        "lianqin",
        _vil("联勤村", "南新村", "一六村", "卫行村", "中界村", "杨桥村", "同福村"),
    ),
]

# Land weight per micro-grid by kind: village and park grids cover more ground than the blocks of
# flats in a residential committee, so the map does not look like a uniform chessboard.
LAND_WEIGHT = {
    Kind.RESIDENTIAL: 1.0,
    Kind.VILLAGE: 2.4,
    Kind.PARK: 3.0,
    Kind.BUILDING: 1.2,
}

# Micro-grids per 居委 / 村, before the generator tops them up to 311 (seeded).
MICRO_RANGE = {Kind.RESIDENTIAL: (4, 8), Kind.VILLAGE: (4, 7)}
# 楼组 per micro-grid in 居委 (and parks/buildings); 队组 per micro-grid in 村.
GROUPS_PER_MICRO = (3, 8)


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    short_name: str


# The report's departments first (党政办公室 … 人民武装部), then the ones every Shanghai town has and
# the case workflow dispatches to. Codes are stable slugs: fixtures and rules refer to them.
DEPARTMENTS: list[DepartmentSpec] = [
    DepartmentSpec("general-office", "党政办公室", "党政办"),
    DepartmentSpec("party-masses", "党群工作办公室", "党群办"),
    DepartmentSpec("economy", "经济发展办公室", "经发办"),
    DepartmentSpec("planning-environment", "规划建设和生态环境办公室", "规建办"),
    DepartmentSpec("social-affairs", "社会事业发展办公室", "社发办"),
    DepartmentSpec("city-operations", "城市运行管理中心", "城运中心"),
    DepartmentSpec("service-center", "社区事务受理服务中心", "受理中心"),
    DepartmentSpec("armed-forces", "人民武装部", "武装部"),
    DepartmentSpec("public-safety", "平安建设办公室", "平安办"),
    DepartmentSpec("work-safety", "安全生产监督管理办公室", "安监办"),
    DepartmentSpec("petitions", "信访办公室", "信访办"),
    DepartmentSpec("urban-management", "城管执法中队", "城管中队"),
    DepartmentSpec("market-regulation", "北蔡市场监督管理所", "市场监管所"),
    DepartmentSpec("housing", "房屋管理办事处", "房管办"),
    DepartmentSpec("water-affairs", "水务管理站", "水务站"),
    DepartmentSpec("collective-assets", "经济联合社", "经联社"),
]


@dataclass(frozen=True)
class DemoLogin:
    """One demo account. ``scope`` is "area", "community", "micro" or "" (see build.py)."""

    username: str
    role: str
    display_name: str
    scope: str = ""
    department: str = ""


# One login per role in accounts/roles.py DEFAULT_ROLES; the scoped ones nest (area ⊃ community
# ⊃ micro-grid) so a demo shows the same place narrowing from role to role.
DEMO_SCOPE_AREA = "联勤南新片区"
DEMO_SCOPE_COMMUNITY = "联勤村"
DEMO_LOGINS: list[DemoLogin] = [
    DemoLogin("leader", "town_leader", "镇领导（演示）"),
    DemoLogin("registrar", "ops_registrar", "城运受理员（演示）"),
    DemoLogin("shiftlead", "ops_shift_lead", "城运值班长（演示）"),
    DemoLogin("dispatcher", "ops_dispatcher", "城运派遣员（演示）"),
    DemoLogin("handler", "dept_handler", "部门处置员（演示）", department="city-operations"),
    DemoLogin("area", "area_staff", "片区工作人员（演示）", scope="area"),
    DemoLogin("community", "community_staff", "村委工作人员（演示）", scope="community"),
    DemoLogin("gridleader", "grid_leader", "", scope="micro"),
    DemoLogin("gridworker", "grid_worker", "", scope="micro"),
    DemoLogin("resident", "resident", "居民（演示）"),
    DemoLogin("sysadmin", "sysadmin", "系统管理员（演示）"),
    DemoLogin("secadmin", "security_admin", "安全管理员（演示）"),
    DemoLogin("auditor", "audit_admin", "审计管理员（演示）"),
]
SUPERUSER = DemoLogin("admin", "", "超级管理员（演示）")

# Name pools for grid staff. Surnames are weighted towards those common in Shanghai; given names
# are drawn from characters common in names of the generations now working in the grid.
SURNAMES = (
    "张" * 9
    + "王" * 9
    + "陈" * 9
    + "李" * 7
    + "徐" * 7
    + "朱" * 6
    + "沈" * 6
    + "顾" * 5
    + "陆" * 5
    + "周" * 5
    + "吴" * 5
    + "胡" * 4
    + "杨" * 4
    + "黄" * 4
    + "金" * 4
    + "倪" * 3
    + "蒋" * 3
    + "钱" * 3
    + "孙" * 3
    + "刘" * 3
    + "姚" * 3
    + "曹" * 3
    + "施" * 3
    + "唐" * 3
    + "汤" * 2
    + "奚" * 2
    + "瞿" * 2
    + "潘" * 2
    + "龚" * 2
    + "马" * 2
    + "高" * 2
    + "赵" * 2
    + "郁" * 2
    + "费" * 2
    + "蔡" * 2
    + "卫"
    + "许"
    + "秦"
    + "宋"
    + "严"
    + "丁"
    + "叶"
    + "范"
    + "凌"
    + "邵"
    + "谈"
    + "须"
    + "翁"
    + "俞"
    + "闵"
    + "郭"
    + "何"
    + "林"
    + "董"
    + "谢"
)
GIVEN_CHARS = (
    "建国华明伟芳丽敏静军强勇磊洋艳红霞燕玲娟英平杰峰刚斌辉涛鹏亮超俊文彬"
    "海波云雯佳琳琪晨晓婷颖慧倩雪梅兰凤秀桂珍萍宏志德忠良春秋冬雨欣怡嘉"
    "浩宇轩泽睿哲瑜瑾蕾莉蓉晴立新卫东利民永祥荣福根生宝林森元凯"
)
