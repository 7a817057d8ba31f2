"""The registry part of the Beicai demo town (see towngrid/demo/extras.py for the contract).

Scale 1.0 is Beicai as its report describes it: tens of thousands of houses and households
(``HOUSES``), about a quarter of a million residents, thousands of enterprises, the 149 shops of
the 北中路商户联盟, the rural self-built houses (农村自建房) of its nine villages, the rain pump
stations, the 200 cameras of the 2023 plan, elevators and manholes, and the land parcels the
report names with their signing figures (901 单元 15-04 地块: 37 产 all signed; 老集镇: 18 of
37; 中界 and 杨桥 together 99.8 %). Figures the report states as counts of named things (149
shops, 200 cameras, the parcels, 10 pump stations) stay the same at every scale; the rest scale.

Everything is placed inside its micro-grid's polygon (points drawn inside the boundary pulled in
by a few metres, so none lands on an edge), and the building group (楼组/队组) comes from the same
grid index the importer and the actions use. Deterministic by ``seed``.

Identity numbers pass the GB 11643 checksum but cannot belong to anyone: their division codes
are of the form ``<province>9099``, a prefecture (90) no province has. Credit codes pass GB 32100
with a 9-prefixed organisation serial. Phone numbers are synthetic, encrypted and masked like
real ones. Rows are written with ``bulk_create`` in batches; personal values go through
``core.personal.set_personal`` on unsaved instances (the bulk path), so the demo's data is
encrypted and searchable exactly like imported data.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db import transaction

from .excel import compose_house_address, insert_rows, new_row

# Beicai at scale 1.0.
HOUSES = 96_000  # dwellings, rural self-built houses included
RURAL_SHARE = 0.12  # of HOUSES, in the villages' micro-grids
RESIDENTS_TARGET = 250_000  # about a quarter of a million (a result, not forced)
ENTERPRISES = 4_200
OTHER_SHOPS = 1_500  # street shops outside the 北中路 alliance
ELEVATORS = 900
MANHOLES = 6_000
STREET_LIGHTS = 2_500
UNDERGROUND = 160
LTC_INSURANCE = 1_411  # 长护险服务 1411 人 (the report)
SPECIAL_FAMILIES = 124  # 为 124 户特殊（失独）家庭提供家政服务
VISITED_ENTERPRISES = 434  # 大走访 受惠企业 434 家
# Fixed at every scale: named figures of the report.
ALLIANCE = "北中路商户联盟"
ALLIANCE_SHOPS = 149
ALLIANCE_MODEL_SHOPS = 10  # 双拥示范创建商户
CAMERAS = 200
PUMP_STATIONS = 10

REFERENCE_DATE = date(2023, 6, 30)  # the report's date: ages and leases are counted from it
BATCH = 2000

ROADS = [
    "沪南路", "莲溪路", "高科西路", "杨高南路", "锦绣路", "御桥路", "北艾路", "陈春路", "鹏飞路",
    "莲园路", "六里路", "川杨河路", "博华路", "御青路", "康琳路", "京浦路", "绿科路", "华绣路",
    "虞泽路", "池上路", "金桂路", "御水路", "大华路", "玉兰路",
]  # fmt: skip
ESTATE_SUFFIX = ["苑", "小区", "新村", "花园", "公寓", "家园"]
SHOP_TYPES = [
    ("餐饮", "小吃"), ("餐饮", "面馆"), ("便利店", "便利店"), ("理发", "美发"), ("药店", "大药房"),
    ("服装", "服饰"), ("五金", "五金店"), ("水果", "水果店"), ("烟酒", "烟酒店"), ("维修", "修理铺"),
    ("快递", "快递驿站"), ("洗衣", "洗衣店"), ("烘焙", "面包房"), ("眼镜", "眼镜店"), ("通讯", "手机店"),
]  # fmt: skip
INDUSTRIES = [
    ("软件和信息技术服务业", "科技"), ("批发和零售业", "贸易"), ("租赁和商务服务业", "商务咨询"),
    ("科学研究和技术服务业", "生物科技"), ("制造业", "机电"), ("建筑业", "建设工程"),
    ("交通运输业", "物流"), ("住宿和餐饮业", "餐饮管理"), ("文化体育和娱乐业", "文化传播"),
    ("房地产业", "物业管理"),
]  # fmt: skip
FIRM_WORDS = "华蔡御莲鹏锦绣浦康北科创联新盛泰安恒信达通源丰合利嘉德瑞祥宏远"
PROVINCES = [  # (division prefix, registered residence) of the migrants
    ("34", "安徽省"), ("32", "江苏省"), ("41", "河南省"), ("51", "四川省"), ("36", "江西省"),
    ("33", "浙江省"), ("42", "湖北省"), ("37", "山东省"), ("43", "湖南省"), ("35", "福建省"),
]  # fmt: skip
PHONE_PREFIXES = ["139", "138", "137", "136", "135", "150", "151", "186", "187", "189", "133"]
# Rain pump stations (the report's 雨水泵站智能化改造), one per drainage area.
PUMP_NAMES = ["北蔡", "莲溪", "六里", "御桥", "联勤", "杨高", "鹏海", "陈春", "南新", "卫行"]


@dataclass(frozen=True)
class Parcel:
    name: str
    unit: str
    stage: str
    total: int
    signed: int
    community: str  # where it lies (a 居委 or 村 of the demo grid)


# The report's parcels and their signing figures (征收动迁, 土地储备).
PARCELS = [
    Parcel("901 单元 15-04 地块", "御桥社区 901 单元", "clearing", 37, 37, "五星村"),
    Parcel("老集镇“城中村”地块", "老集镇", "signing", 37, 18, "北中居委"),
    # 中界、杨桥等“城中村”拔点改造: 总签约率 99.8 % (1,008 of 1,010).
    Parcel("中界“城中村”拔点地块", "中界", "clearing", 612, 611, "中界村"),
    Parcel("杨桥“城中村”拔点地块", "杨桥", "clearing", 398, 397, "杨桥村"),
    Parcel("楔形绿地 A-2 地块", "楔形绿地", "survey", 0, 0, "联勤村"),
    Parcel("楔形绿地 F06-01 地块", "楔形绿地", "survey", 0, 0, "南新村"),
    Parcel("楔形绿地 F03-03 地块", "楔形绿地", "survey", 0, 0, "一六村"),
    Parcel("14-05 地块", "北蔡楔形绿地", "valuation", 52, 0, "卫行村"),
]


@dataclass
class _Micro:
    id: int
    code: str
    name: str
    community: str
    community_kind: str
    polygon: object  # shapely, pulled in by a few metres


@dataclass
class _Place:
    grid_id: int
    grid_code: str
    group_id: int | None
    group_name: str
    lng: float
    lat: float


@dataclass
class _Stats:
    counts: dict = field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


# --- the contract -------------------------------------------------------------------------------


def exists() -> bool:
    from towngrid.demo.data import TOWN_CODE

    from .models import House

    return House.objects.filter(grid_code__startswith=TOWN_CODE).exists()


def remove() -> None:
    """Delete every registry object located in the demo town (dependants first)."""
    from towngrid.demo.data import TOWN_CODE

    from . import models as m

    with transaction.atomic():
        for model in (m.Resident, m.Household, m.EnterpriseVisit, m.House, m.Enterprise, m.Shop,
                      m.Component, m.UndergroundSpace, m.LandParcel):  # fmt: skip
            field_name = "enterprise__grid_code" if model is m.EnterpriseVisit else "grid_code"
            model.objects.filter(**{f"{field_name}__startswith": TOWN_CODE}).delete()


def build(*, seed: int = 2023, scale: float = 1.0, progress: bool = False) -> dict:
    """Build the registry of the demo town at ``scale`` × Beicai; returns the counts."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Category

    if not Category.objects.filter(full_code="C0105").exists():
        install_catalogue()
    builder = _Builder(seed=seed, scale=scale, progress=progress)
    with transaction.atomic():
        builder.run()
    return builder.stats.counts


# --- the builder --------------------------------------------------------------------------------


def _scaled(n: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, int(round(n * scale)))


@contextmanager
def _bar(total: int, enabled: bool, label: str) -> Iterator:
    if enabled:
        from tqdm import tqdm

        with tqdm(total=total, desc=label, unit="条", leave=False) as bar:
            yield bar
    else:

        class _Quiet:
            def update(self, n: int = 1) -> None:
                pass

        yield _Quiet()


class _Builder:
    def __init__(self, *, seed: int, scale: float, progress: bool):
        self.seed = seed
        self.scale = scale
        self.progress = progress
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.stats = _Stats()
        self.used_ids: set[str] = set()
        self.phone_seq = 0
        self.names = _NamePool(self.rng)

    # -- geography ------------------------------------------------------------------------------

    def _load_grid(self) -> None:
        import shapely
        from shapely.geometry import shape

        from towngrid.demo.data import TOWN_CODE
        from towngrid.grids.index import get_index
        from towngrid.grids.models import GridNode, Level

        nodes = GridNode.objects.filter(code__startswith=TOWN_CODE, level__in=(3, 4)).only(
            "id", "code", "name", "level", "kind", "parent_id", "boundary"
        )
        communities = {n.id: n for n in nodes if n.level == Level.COMMUNITY}
        self.micros: list[_Micro] = []
        for node in nodes:
            if node.level != Level.MICRO or not node.boundary:
                continue
            parent = communities.get(node.parent_id)
            poly = shape(node.boundary)
            # ~5 m inside the edge: a point never sits on the boundary shared with a neighbour.
            inner = poly.buffer(-0.00005)
            if inner.is_empty:
                inner = poly
            shapely.prepare(inner)
            self.micros.append(
                _Micro(
                    node.id,
                    node.code,
                    node.name,
                    parent.name if parent else "",
                    parent.kind if parent else "",
                    inner,
                )  # fmt: skip
            )
        self.micros.sort(key=lambda m: m.code)
        self.index = get_index()
        self.by_community: dict[str, list[_Micro]] = {}
        for micro in self.micros:
            self.by_community.setdefault(micro.community, []).append(micro)

    def points_in(self, micro: _Micro, n: int) -> list[_Place]:
        """``n`` points inside the micro-grid, each with its building group from the index."""
        import shapely

        minx, miny, maxx, maxy = micro.polygon.bounds
        xs: list[float] = []
        ys: list[float] = []
        while len(xs) < n:
            want = max(8, (n - len(xs)) * 2)
            x = self.np.uniform(minx, maxx, want)
            y = self.np.uniform(miny, maxy, want)
            inside = shapely.contains_xy(micro.polygon, x, y)
            xs.extend(x[inside].tolist())
            ys.extend(y[inside].tolist())
        xs, ys = xs[:n], ys[:n]
        leaves = self.index.lookup_many(np.array(xs), np.array(ys))
        places = []
        for x, y, leaf in zip(xs, ys, leaves.tolist(), strict=True):
            group = None
            if leaf >= 0:
                path = self.index.paths[leaf]
                if len(path) > 4 and path[3].id == micro.id:
                    group = path[4]
            places.append(
                _Place(
                    micro.id,
                    micro.code,
                    group.id if group else None,
                    group.name if group else "",
                    round(x, 7),
                    round(y, 7),
                )  # fmt: skip
            )
        return places

    def place(self, micro: _Micro) -> _Place:
        return self.points_in(micro, 1)[0]

    # -- identifiers ----------------------------------------------------------------------------

    def id_number(self, province: str, born: date, male: bool) -> str:
        from towngrid.core.checksums import make_id_number

        # <province>9099: prefecture 90 exists in no province, so no real person has the number.
        region = f"{province}9099"
        seq = self.rng.randrange(0, 999)
        if (seq % 2 == 1) != male:
            seq += 1
        for _ in range(500):
            number = make_id_number(region, born, seq % 1000)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number
            seq += 2
        born = born + timedelta(days=1)
        return self.id_number(province, born, male)

    def phone(self) -> str:
        from towngrid.core.checksums import make_phone

        self.phone_seq += 1
        prefix = PHONE_PREFIXES[self.phone_seq % len(PHONE_PREFIXES)]
        # Spread over the 8-digit block deterministically (a multiplicative step, no repeats).
        return make_phone((self.phone_seq * 7_919_111 + self.seed) % 10**8, prefix=prefix)

    # -- the steps -------------------------------------------------------------------------------

    def run(self) -> None:
        self._load_grid()
        houses = self.build_houses()
        households = self.build_households(houses)
        self.build_residents(households)
        self.build_enterprises()
        self.build_shops()
        self.build_components()
        self.build_underground()
        self.build_parcels()

    def _write(self, model, objs: list) -> list:
        insert_rows(model, objs)
        self.stats.add(model._meta.model_name, len(objs))
        return objs

    # houses ----------------------------------------------------------------------------------

    def build_houses(self) -> list[tuple]:
        """Houses in the 居委 micro-grids (blocks of flats) and 农村自建房 in the villages'.
        Returns one tuple per house for the households: (id, place, address, use, rooms,
        tenant_count, house_type)."""
        from .models import House

        total = _scaled(HOUSES, self.scale, 20)
        rural_total = max(5, int(total * RURAL_SHARE))
        urban_total = total - rural_total
        urban = [m for m in self.micros if m.community_kind == "residential"]
        rural = [m for m in self.micros if m.community_kind == "village"]
        per_urban = _spread(urban_total, len(urban), self.rng)
        per_rural = _spread(rural_total, len(rural), self.rng)
        lane_next: dict[str, int] = {}
        out: list[tuple] = []
        pending: list = []
        with _bar(total, self.progress, "房屋") as bar:
            for micro, n in zip(urban, per_urban, strict=True):
                road = ROADS[int(micro.code[-5:]) % len(ROADS)]
                lane_next[road] = lane_next.get(road, 0) + self.rng.randint(1, 40)
                lane = str(lane_next[road] * 10 + self.rng.randint(0, 9))
                per_building = self.rng.choice([12, 18, 24, 30, 36])
                buildings = max(1, math.ceil(n / per_building))
                places = self.points_in(micro, buildings)
                built = self.rng.randint(1985, 2015)
                kind = self.rng.choices(
                    ["commercial", "public_sold", "resettlement", "public_rental"],
                    [0.5, 0.3, 0.17, 0.03],
                )[0]
                for i in range(n):
                    b = i // per_building
                    floor, slot = divmod(i % per_building, 2 if per_building <= 12 else 3)
                    room = f"{floor + 1}{slot + 1:02d}"
                    pending.append(
                        self._house(
                            House,
                            places[b],
                            road,
                            lane,
                            str(b + 1),
                            "",
                            room,
                            kind,
                            built,
                            rural=False,
                        )  # fmt: skip
                    )
                    if len(pending) >= BATCH:
                        out += self._flush_houses(House, pending)
                        bar.update(len(pending))
                        pending = []
            house_no: dict[str, int] = {}
            for micro, n in zip(rural, per_rural, strict=True):
                for place in self.points_in(micro, n):
                    # 联勤第5村民小组 → 联勤村5组; houses numbered along each team's road.
                    team = re.search(r"第(\d+)", place.group_name)
                    road = f"{micro.community}{team.group(1)}组" if team else micro.community
                    house_no[road] = house_no.get(road, 0) + 1
                    pending.append(
                        self._house(House, place, road, "", str(house_no[road]), "", "",
                                    "rural_self_built", self.rng.randint(1982, 2012), rural=True)
                    )  # fmt: skip
                    if len(pending) >= BATCH:
                        out += self._flush_houses(House, pending)
                        bar.update(len(pending))
                        pending = []
            out += self._flush_houses(House, pending)
            bar.update(len(pending))
        return out

    def _house(self, House, place, road, lane, number, building, room, kind, built, *, rural):
        rng = self.rng
        if rural:
            storeys = rng.choice([2, 2, 3, 3, 3, 4])
            floor_area = Decimal(rng.randint(60, 130) * storeys)
            rooms = rng.randint(3, 4) * storeys
            use = rng.choices(["owner_occupied", "rented", "vacant", "mixed"],
                              [0.45, 0.45, 0.07, 0.03])[0]  # fmt: skip
        else:
            storeys = None
            base = {"commercial": (60, 140), "public_sold": (35, 75), "resettlement": (50, 95),
                    "public_rental": (40, 70)}[kind]  # fmt: skip
            floor_area = Decimal(rng.randint(*base))
            rooms = 1 if floor_area < 45 else (2 if floor_area < 85 else 3)
            use = rng.choices(["owner_occupied", "rented", "vacant", "business", "mixed"],
                              [0.68, 0.21, 0.09, 0.01, 0.01])[0]  # fmt: skip
        living = (floor_area * Decimal("0.68")).quantize(Decimal("0.01"))
        house = new_row(
            House, grid_id=place.grid_id, grid_code=place.grid_code, group_id=place.group_id,
            lng=place.lng, lat=place.lat, road=road, lane=lane, number=number,
            building=building, room=room, house_type=kind, floor_area=floor_area,
            living_area=living, rooms=rooms, use=use, storeys=storeys, built_year=built,
            address=compose_house_address(road, lane, number, building, room),
            is_rented=False, tenant_count=0, landlord_name="", occupants=0,
        )  # fmt: skip
        flags: list[str] = []
        sleeping: list[str] = []
        if use in {"rented", "mixed"}:
            house.is_rented = True
            # Most lets are lawful; some are the 群租 the colour rules look for.
            crowded = rng.random() < (0.18 if rural else 0.06)
            per_room = rng.randint(3, 5) if crowded else rng.randint(1, 2)
            # A village house lets a few of its rooms; a flat is let whole.
            let = rng.randint(2, max(2, rooms // 3)) if rural else rooms
            house.tenant_count = min(60, max(1, let * per_room - rng.randint(0, 1)))
            house.rented_rooms = let
            if crowded and rng.random() < 0.5:
                sleeping = rng.sample(["kitchen", "balcony", "basement"], rng.randint(1, 2))
            house.lease_start = REFERENCE_DATE - timedelta(days=rng.randint(30, 700))
            house.lease_end = house.lease_start + timedelta(days=365 * rng.choice([1, 2, 3]))
            house.landlord_name = self.names.name()
            house.occupants = house.tenant_count
        if use == "mixed":
            flags.append("三合一场所")
        if rural and rng.random() < 0.03:
            flags.append("违法建筑")
        house.flags = flags
        house.non_bedroom_sleeping = sleeping
        if use != "vacant":
            house.owner_name = house.landlord_name or self.names.name()
            if rng.random() < 0.75:
                house.set_personal("owner_phone", self.phone(), check=False)
        return house

    def _flush_houses(self, House, pending: list) -> list[tuple]:
        if not pending:
            return []
        created = self._write(House, pending)
        if any(h.house_type == "rural_self_built" for h in created):
            self.stats.add("rural_self_built", sum(h.house_type == "rural_self_built"
                                                   for h in created))  # fmt: skip
        return [
            (
                h.pk,
                _Place(h.grid_id, h.grid_code, h.group_id, "", h.lng, h.lat),
                h.address,
                h.use,
                h.rooms or 1,
                h.tenant_count,
                h.house_type,
            )  # fmt: skip
            for h in created
        ]

    # households -----------------------------------------------------------------------------

    def build_households(self, houses: list[tuple]) -> list[tuple]:
        """One household per lived-in house (two in a large let). Returns (household id,
        house tuple, type, size, head name)."""
        from .models import Household

        out: list[tuple] = []
        pending: list = []
        plans: list[tuple] = []
        seq = 0
        with _bar(len(houses), self.progress, "户") as bar:
            for house in houses:
                _hid, place, address, use, rooms, tenants, _kind = house
                bar.update(1)
                if use in {"vacant", "business"}:
                    continue
                if use in {"rented", "mixed"}:
                    sizes = _split(tenants, 2 if tenants >= 6 and self.rng.random() < 0.5 else 1)
                    kinds = ["migrant"] * len(sizes)
                else:
                    sizes = [self.rng.choices([1, 2, 3, 4, 5, 6],
                                              [0.22, 0.34, 0.26, 0.11, 0.05, 0.02])[0]]  # fmt: skip
                    kinds = [self.rng.choices(["registered", "separated"], [0.72, 0.28])[0]]
                for size, kind in zip(sizes, kinds, strict=True):
                    seq += 1
                    head = self.names.name()
                    pending.append(
                        new_row(
                            Household,
                            grid_id=place.grid_id,
                            grid_code=place.grid_code,
                            group_id=place.group_id,
                            lng=place.lng,
                            lat=place.lat,
                            address=address,
                            house_id=house[0],
                            number=f"H{seq:06d}",
                            head_name=head,
                            household_type=kind,
                            registered_address="上海市浦东新区北蔡镇"
                            if kind == "registered"
                            else "",
                        )  # fmt: skip
                    )
                    plans.append((house, kind, size, head))
                if len(pending) >= BATCH:
                    out += self._flush_households(Household, pending, plans)
                    pending, plans = [], []
            out += self._flush_households(Household, pending, plans)
        return out

    def _flush_households(self, Household, pending, plans) -> list[tuple]:
        if not pending:
            return []
        created = self._write(Household, pending)
        return [(h.pk, *plan) for h, plan in zip(created, plans, strict=True)]

    # residents ------------------------------------------------------------------------------

    def build_residents(self, households: list[tuple]) -> None:
        from .models import Resident

        total = sum(h[3] for h in households)
        # About a third of the people are over 60; the report's 1,411 长护险 among them.
        ltc_rate = LTC_INSURANCE * self.scale / max(1.0, total * 0.33)
        special = set(
            self.rng.sample(range(len(households)),
                            min(len(households), _scaled(SPECIAL_FAMILIES, self.scale)))
        )  # fmt: skip
        pending: list = []
        with _bar(total, self.progress, "实有人口") as bar:
            for index, (household_id, house, kind, size, head) in enumerate(households):
                place, address = house[1], house[2]
                members = self._members(kind, size, head, special=index in special)
                for name, relation, born, male, province, residence in members:
                    r = new_row(
                        Resident, grid_id=place.grid_id, grid_code=place.grid_code,
                        group_id=place.group_id, lng=place.lng, lat=place.lat, address=address,
                        household_id=household_id, house_id=house[0], name=name,
                        gender="male" if male else "female", birth_date=born,
                        registered_residence=residence, actual_residence=address,
                        relation_to_head=relation,
                    )  # fmt: skip
                    r.set_personal("id_number", self.id_number(province, born, male), check=False)
                    age = _age(born)
                    if age >= 16 and self.rng.random() < 0.8:
                        r.set_personal("phone", self.phone(), check=False)
                    r.tags = self._tags(age, size, index in special, ltc_rate)
                    pending.append(r)
                if len(pending) >= BATCH:
                    self._write(Resident, pending)
                    bar.update(len(pending))
                    pending = []
            self._write(Resident, pending)
            bar.update(len(pending))

    def _members(self, kind: str, size: int, head: str, *, special: bool) -> list[tuple]:
        rng = self.rng
        migrant = kind == "migrant"
        province, residence = rng.choice(PROVINCES) if migrant else ("31", "上海市浦东新区")
        head_age = rng.randint(52, 78) if special else (
            rng.randint(22, 55) if migrant else rng.choices(
                [rng.randint(25, 45), rng.randint(46, 64), rng.randint(65, 92)], [0.35, 0.35, 0.3]
            )[0]
        )  # fmt: skip
        head_male = rng.random() < 0.55
        members = [(head, "本人", head_age, head_male)]
        surname = head[0]
        for i in range(1, size):
            if migrant:
                relation, age = "合住人", rng.randint(18, 55)
                name = self.names.name()
                male = rng.random() < 0.6
            elif i == 1 and not special:
                relation, age = "配偶", max(20, head_age + rng.randint(-5, 5))
                name, male = self.names.name(), not head_male
            elif special:
                relation, age = "配偶", max(45, head_age + rng.randint(-4, 4))
                name, male = self.names.name(), not head_male
            elif head_age >= 60 and i == 2:
                relation, age = "子女", max(18, head_age - rng.randint(24, 34))
                male = rng.random() < 0.5
                name = self.names.given(surname)
            elif head_age < 45 and i >= 3 and rng.random() < 0.6:
                relation, age = "父母", min(96, head_age + rng.randint(24, 32))
                male = rng.random() < 0.5
                name = self.names.given(surname) if male else self.names.name()
            else:
                relation, age = ("子女", max(0, head_age - rng.randint(24, 36))) if head_age < 60 \
                    else ("孙子女", max(0, head_age - rng.randint(50, 62)))  # fmt: skip
                male = rng.random() < 0.5
                name = self.names.given(surname)
            members.append((name, relation, age, male))
        out = []
        for name, relation, age, male in members:
            born = REFERENCE_DATE - timedelta(days=age * 365 + rng.randint(0, 364))
            out.append((name, relation, born, male, province, residence))
        return out

    def _tags(self, age: int, size: int, special: bool, ltc_rate: float) -> list[str]:
        rng = self.rng
        tags = []
        if age >= 60:
            tags.append("over_60")
            if size == 1:
                tags.append("living_alone")
            if rng.random() < ltc_rate:
                tags.append("ltc_insurance")
        if special:
            tags.append("special_family")
        if rng.random() < 0.022:
            tags.append("disabled")
        if age >= 20 and rng.random() < 0.012:
            tags.append("veteran")
        if rng.random() < 0.008:
            tags.append("low_income")
        if age >= 18 and rng.random() < 0.002:
            tags.append("key_person")
        return tags

    # enterprises ----------------------------------------------------------------------------

    def build_enterprises(self) -> None:
        from towngrid.core.checksums import make_credit_code

        from .models import Enterprise, EnterpriseVisit

        total = _scaled(ENTERPRISES, self.scale, 10)
        parks = [m for m in self.micros if m.community_kind in {"park", "building"}]
        others = [m for m in self.micros if m.community_kind == "residential"]
        in_parks = int(total * 0.6)
        per_park = _spread(in_parks, len(parks), self.rng)
        targets = [m for m, n in zip(parks, per_park, strict=True) for _ in range(n)]
        targets += [self.rng.choice(others) for _ in range(total - in_parks)]
        names: set[str] = set()
        pending = []
        serials = self.rng.sample(range(1, 10**7), total)
        places: dict[int, list[_Place]] = {}
        for micro in {m.id: m for m in targets}.values():
            places[micro.id] = self.points_in(micro, sum(1 for t in targets if t.id == micro.id))
        for i, micro in enumerate(targets):
            industry, word = self.rng.choice(INDUSTRIES)
            while True:
                name = (f"上海{self.rng.choice(FIRM_WORDS)}{self.rng.choice(FIRM_WORDS)}"
                        f"{word}有限公司")  # fmt: skip
                if name not in names:
                    names.add(name)
                    break
                word = self.rng.choice(INDUSTRIES)[1] + self.rng.choice("一二三四五六七八九")
            place = places[micro.id].pop()
            e = new_row(
                Enterprise, grid_id=place.grid_id, grid_code=place.grid_code, group_id=place.group_id,
                lng=place.lng, lat=place.lat,
                address=f"{ROADS[i % len(ROADS)]}{self.rng.randint(1, 3999)}号",
                name=name, credit_code=make_credit_code("310115", 90_000_000 + serials[i]),
                industry=industry, is_above_scale=self.rng.random() < 0.08,
                contact_name=self.names.name(), employees=self.rng.choice(
                    [self.rng.randint(1, 20), self.rng.randint(20, 300), self.rng.randint(300, 3000)]
                ), is_key=self.rng.random() < 0.05,
            )  # fmt: skip
            e.set_personal("contact_phone", self.phone(), check=False)
            pending.append(e)
        created = self._write(Enterprise, pending)
        visited = self.rng.sample(
            created, min(len(created), _scaled(VISITED_ENTERPRISES, self.scale))
        )
        visits = []
        for e in visited:
            problems = self.rng.sample(["用工招聘", "融资", "人才落户", "租金", "交通出行", "政策咨询"],
                                       self.rng.randint(0, 2))  # fmt: skip
            visits.append(
                new_row(
                    EnterpriseVisit,
                    enterprise_id=e.pk,
                    visited_at=_aware(REFERENCE_DATE - timedelta(days=self.rng.randint(1, 180))),
                    visitor_name=self.names.name(),
                    findings="大走访、大排查：了解经营情况，宣讲扶持政策。",
                    problems=problems,
                    needs_followup=bool(problems),
                )  # fmt: skip
            )
        self._write(EnterpriseVisit, visits)

    # shops ------------------------------------------------------------------------------------

    def build_shops(self) -> None:
        from .models import Shop

        pending = []
        beizhong = self.by_community.get("北中居委") or self.micros[:3]
        numbers = self.rng.sample(range(1, 1200), ALLIANCE_SHOPS)
        numbers.sort()
        # The alliance's shops line 北中路 through the 北中居委 micro-grids, in house-number order.
        per_micro = _spread(ALLIANCE_SHOPS, len(beizhong), self.rng)
        places = [p for m, n in zip(beizhong, per_micro, strict=True) for p in self.points_in(m, n)]
        model_shops = set(self.rng.sample(range(ALLIANCE_SHOPS), ALLIANCE_MODEL_SHOPS))
        for i, (number, place) in enumerate(zip(numbers, places, strict=True)):
            kind, word = self.rng.choice(SHOP_TYPES)
            name = f"{self.rng.choice(FIRM_WORDS)}{self.rng.choice(FIRM_WORDS)}{word}"
            if i in model_shops:
                name += "（双拥示范）"
            pending.append(self._shop(Shop, place, "北中路", f"北中路{number}号", name, kind, True))
        others = [m for m in self.micros if m.community_kind == "residential"]
        total = _scaled(OTHER_SHOPS, self.scale, 5)
        for i in range(total):
            micro = self.rng.choice(others)
            road = ROADS[int(micro.code[-5:]) % len(ROADS)]
            kind, word = self.rng.choice(SHOP_TYPES)
            name = f"{self.rng.choice(FIRM_WORDS)}{self.rng.choice(FIRM_WORDS)}{word}"
            address = f"{road}{2000 + i}号"
            pending.append(self._shop(Shop, self.place(micro), road, address, name, kind, False))
        self._write(Shop, pending)

    def _shop(self, Shop, place, street, address, name, kind, member):
        shop = new_row(
            Shop, grid_id=place.grid_id, grid_code=place.grid_code, group_id=place.group_id,
            lng=place.lng, lat=place.lat, address=address, name=name, street=street,
            business_type=kind, contact_name=self.names.name(), is_alliance_member=member,
            alliance=ALLIANCE if member else "",
        )  # fmt: skip
        shop.set_personal("contact_phone", self.phone(), check=False)
        return shop

    # components -----------------------------------------------------------------------------

    def build_components(self) -> None:
        from towngrid.cases.models import Category

        from .actions import DIVISION
        from .models import Component, kind_for_category

        cats = {c.full_code: c for c in Category.objects.select_related("major").filter(
            full_code__in=["C0111", "C1001", "C0603", "C0506", "C0105", "C0101", "C0102",
                           "C0103", "C0107"])}  # fmt: skip
        plan: list[tuple[str, int, str]] = [
            ("C0111", PUMP_STATIONS, "雨水泵站"),
            ("C1001", CAMERAS // 2, "AI视频摄像头"),
            ("C0603", CAMERAS - CAMERAS // 2, "治安监控探头"),
            ("C0506", _scaled(ELEVATORS, self.scale), "加装电梯"),
            ("C0105", _scaled(MANHOLES * 0.4, self.scale), "窨井盖"),
            ("C0101", _scaled(MANHOLES * 0.2, self.scale), "上水井盖"),
            ("C0102", _scaled(MANHOLES * 0.2, self.scale), "污水井盖"),
            ("C0103", _scaled(MANHOLES * 0.2, self.scale), "雨水井盖"),
            ("C0107", _scaled(STREET_LIGHTS, self.scale), "路灯"),
        ]
        residential = [m for m in self.micros if m.community_kind == "residential"]
        everywhere = self.micros
        pending = []
        counts = {"camera": 0, "pump_station": 0, "elevator": 0, "manhole": 0}
        for full_code, n, word in plan:
            cat = cats.get(full_code)
            if cat is None:
                continue
            prefix = f"{DIVISION}{cat.major.code}{cat.code}"
            kind = kind_for_category(cat)
            pool = residential if full_code == "C0506" else everywhere
            if full_code == "C0111":
                # One pump station per drainage area: spread over the town, not clustered.
                step = max(1, len(everywhere) // n)
                chosen = [everywhere[(i * step + step // 2) % len(everywhere)] for i in range(n)]
            else:
                chosen = [self.rng.choice(pool) for _ in range(n)]
            for serial, micro in enumerate(chosen, start=1):
                place = self.place(micro)
                road = ROADS[int(micro.code[-5:]) % len(ROADS)]
                if full_code == "C0111":
                    name = f"{PUMP_NAMES[(serial - 1) % len(PUMP_NAMES)]}雨水泵站"
                    if serial > len(PUMP_NAMES):
                        name = f"{name}{serial}"
                else:
                    name = f"{micro.community or road}{word}{serial:04d}"
                status = self.rng.choices(["good", "damaged", "lost"], [0.95, 0.04, 0.01])[0]
                if full_code in {"C0111", "C1001", "C0603"}:
                    status = "good"
                pending.append(
                    new_row(
                        Component,
                        grid_id=place.grid_id,
                        grid_code=place.grid_code,
                        group_id=place.group_id,
                        lng=place.lng,
                        lat=place.lat,
                        address=f"{road}{self.rng.randint(1, 3999)}号附近",
                        category_id=cat.pk,
                        code=f"{prefix}{serial:06d}",
                        name=name,
                        status=status,
                        owner_department_id=cat.default_department_id,
                        maintainer="北蔡镇城市运行管理中心" if kind == "camera" else "",
                        installed_on=REFERENCE_DATE - timedelta(days=self.rng.randint(30, 4000)),
                        kind=kind,
                    )  # fmt: skip
                )
                if kind in counts:
                    counts[kind] += 1
        self._write(Component, pending)
        for kind, n in counts.items():
            self.stats.add(f"components_{kind}", n)

    # underground spaces and parcels ------------------------------------------------------------

    def build_underground(self) -> None:
        from .models import UndergroundSpace

        residential = [m for m in self.micros if m.community_kind in {"residential", "park"}]
        pending = []
        for i in range(_scaled(UNDERGROUND, self.scale)):
            micro = self.rng.choice(residential)
            use, word = self.rng.choice([("停车", "地下车库"), ("民防", "民防工程"),
                                         ("仓储", "地下仓库"), ("商业", "地下商场")])  # fmt: skip
            space = new_row(
                UndergroundSpace, **_located(self.place(micro)),
                address=f"{ROADS[i % len(ROADS)]}{self.rng.randint(1, 3999)}号地下",
                name=f"{micro.community}{word}{i + 1}", use=use,
                area=Decimal(self.rng.randint(300, 12000)), manager=f"{micro.community}物业",
            )  # fmt: skip
            space.set_personal("contact_phone", self.phone(), check=False)
            pending.append(space)
        self._write(UndergroundSpace, pending)

    def build_parcels(self) -> None:
        from shapely.geometry import box, mapping

        from .models import LandParcel

        pending = []
        for parcel in PARCELS:
            micros = self.by_community.get(parcel.community) or self.micros
            micro = micros[0]
            place = self.place(micro)
            # A small block around the point, clipped to the micro-grid: the parcel's outline.
            outline = box(place.lng - 0.0015, place.lat - 0.001, place.lng + 0.0015,
                          place.lat + 0.001).intersection(micro.polygon)  # fmt: skip
            pending.append(
                new_row(
                    LandParcel,
                    **_located(place),
                    address=f"{parcel.community}",
                    name=parcel.name,
                    unit=parcel.unit,
                    stage=parcel.stage,
                    households_total=parcel.total,
                    households_signed=parcel.signed,
                    boundary=mapping(outline) if not outline.is_empty else None,
                )  # fmt: skip
            )
        self._write(LandParcel, pending)


# --- helpers ------------------------------------------------------------------------------------


class _NamePool:
    """Plausible Chinese names from the demo's pools (repeats allowed: 250,000 people)."""

    def __init__(self, rng: random.Random):
        from towngrid.demo import data

        self.rng = rng
        self.surnames = data.SURNAMES
        self.given_chars = data.GIVEN_CHARS

    def given(self, surname: str) -> str:
        length = 1 if self.rng.random() < 0.3 else 2
        return surname + "".join(self.rng.choice(self.given_chars) for _ in range(length))

    def name(self) -> str:
        return self.given(self.rng.choice(self.surnames))


def _located(place: _Place) -> dict:
    return {"grid_id": place.grid_id, "grid_code": place.grid_code, "group_id": place.group_id,
            "lng": place.lng, "lat": place.lat}  # fmt: skip


def _spread(total: int, bins: int, rng: random.Random) -> list[int]:
    """``total`` split over ``bins`` unevenly (weights 0.5–1.5), summing exactly."""
    if bins <= 0:
        return []
    weights = [rng.uniform(0.5, 1.5) for _ in range(bins)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % bins] += 1
    return counts


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(max(1, total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts) if base + (i < extra) > 0]


def _age(born: date) -> int:
    years = REFERENCE_DATE.year - born.year
    if (REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day):
        years -= 1
    return years


def _aware(day: date):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(10, 0), tzinfo=ZoneInfo("Asia/Shanghai"))
