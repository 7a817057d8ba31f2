"""The registry (实有房屋、人口、单位和部件): houses, households, residents, enterprises and their
service visits (大走访), shops, urban components, underground spaces and land parcels.

Every located object sits in one micro-grid (``grid``, level 4; ``grid_code`` repeats its code
for the scope filter and roll-ups) and, where there is one, one building group (``group``, level
5). Writes go through ``actions.py``; personal fields (identity and phone numbers) are stored
encrypted with a keyed hash for exact search (``towngrid/core/personal.py``) and shown masked.
See docs/registry.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from towngrid.core.personal import masked_property, plain_value, set_personal

from .io_models import *  # noqa: F403  (import models live beside the import code)

RESIDENT_TAGS: dict[str, str] = {
    "over_60": "60岁以上",
    "disabled": "残疾",
    "living_alone": "独居",
    "special_family": "特殊家庭",
    "veteran": "退役军人",
    "ltc_insurance": "长护险",
    "low_income": "低保",
    "key_person": "重点人员",
}

NON_BEDROOM_SPACES: dict[str, str] = {
    "kitchen": "厨房",
    "bathroom": "卫生间",
    "balcony": "阳台",
    "basement": "地下室",
}


def _enc_field() -> models.TextField:
    return models.TextField(blank=True, default="", editable=False)


def _hash_field() -> models.CharField:
    return models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)


class Located(models.Model):
    """What every registry object has: its place, its micro-grid and building group, and a
    version for optimistic concurrency."""

    grid = models.ForeignKey(
        "grids.GridNode",
        verbose_name=_("微网格"),
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
    )
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True, editable=False)
    group = models.ForeignKey(
        "grids.GridNode",
        verbose_name=_("楼组/队组"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    lng = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(_("版本"), default=0, editable=False)

    scope_field = "grid_code"
    colour_kind = ""
    personal_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # grid_code must always equal the grid's code: the scope filter trusts it.
        if self.grid_id is not None:
            cached = self._state.fields_cache.get("grid")
            if cached is not None and cached.pk == self.grid_id:
                self.grid_code = cached.code
            elif not self.grid_code:
                from towngrid.grids.models import GridNode

                self.grid_code = GridNode.objects.values_list("code", flat=True).get(
                    pk=self.grid_id
                )
        super().save(*args, **kwargs)

    def set_personal(self, field: str, value: str | None, *, check: bool = True) -> None:
        """Set an encrypted personal field and its hash (see core/personal.py); no save."""
        set_personal(self, field, value, check=check)

    def has_personal(self, field: str) -> bool:
        return bool(getattr(self, f"{field}_enc", ""))

    def _plain_personal(self, field: str) -> str:
        # Private: the reveal action and permitted exports only.
        return plain_value(self, field)


class HouseType(models.TextChoices):
    COMMERCIAL = "commercial", _("商品房")
    PUBLIC_SOLD = "public_sold", _("售后公房")
    RESETTLEMENT = "resettlement", _("动迁安置房")
    RURAL_SELF_BUILT = "rural_self_built", _("农村自建房")
    PUBLIC_RENTAL = "public_rental", _("公租房")
    OTHER = "other", _("其他")


class HouseUse(models.TextChoices):
    OWNER_OCCUPIED = "owner_occupied", _("自住")
    RENTED = "rented", _("出租")
    VACANT = "vacant", _("空置")
    BUSINESS = "business", _("经营")
    MIXED = "mixed", _("三合一/混合")


class House(Located):
    """实有房屋: one dwelling (a room of a building, or a rural self-built house)."""

    road = models.CharField(_("路"), max_length=60, blank=True)
    lane = models.CharField(_("弄"), max_length=20, blank=True)
    number = models.CharField(_("号"), max_length=20, blank=True)
    building = models.CharField(_("幢/栋"), max_length=20, blank=True)
    room = models.CharField(_("室"), max_length=20, blank=True)
    house_type = models.CharField(
        _("房屋类型"), max_length=20, choices=HouseType.choices, default=HouseType.COMMERCIAL
    )
    floor_area = models.DecimalField(
        _("建筑面积（㎡）"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    living_area = models.DecimalField(
        _("居住面积（㎡）"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    rooms = models.PositiveSmallIntegerField(_("原设计房间数"), null=True, blank=True)
    use = models.CharField(
        _("使用情况"), max_length=20, choices=HouseUse.choices, default=HouseUse.OWNER_OCCUPIED
    )
    is_rented = models.BooleanField(_("出租"), default=False)
    tenant_count = models.PositiveSmallIntegerField(_("承租居住人数"), default=0)
    rented_rooms = models.PositiveSmallIntegerField(_("出租间数"), default=0)
    lease_start = models.DateField(_("租期开始"), null=True, blank=True)
    lease_end = models.DateField(_("租期结束"), null=True, blank=True)
    landlord_name = models.CharField(_("房东"), max_length=50, blank=True)
    occupants = models.PositiveSmallIntegerField(_("实际居住人数"), default=0)
    is_family_occupancy = models.BooleanField(
        _("家庭居住"), default=False, help_text=_("居住人之间均有法定赡养、抚养、扶养义务。")
    )
    non_bedroom_sleeping = models.JSONField(
        _("非居住空间住人"), default=list, blank=True, help_text=_("厨房、卫生间、阳台、地下室。")
    )
    flags = models.JSONField(_("标记"), default=list, blank=True)
    owner_name = models.CharField(_("产权人"), max_length=50, blank=True)
    owner_phone_enc = _enc_field()
    owner_phone_hash = _hash_field()
    storeys = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    built_year = models.PositiveSmallIntegerField(_("建成年份"), null=True, blank=True)

    colour_kind = "house"
    personal_fields = ("owner_phone",)
    owner_phone_masked = masked_property("owner_phone")

    class Meta:
        ordering = ["grid_code", "road", "lane", "number", "building", "room", "id"]
        verbose_name = _("实有房屋")
        verbose_name_plural = _("实有房屋")
        indexes = [models.Index(fields=["grid_code", "use"])]

    def __str__(self) -> str:
        return self.full_address or f"房屋 {self.pk}"

    @property
    def full_address(self) -> str:
        """路 + 弄 + 号 + 幢 + 室 when the parts are known, else the free address."""
        parts = [self.road]
        if self.lane:
            parts.append(f"{self.lane}弄")
        if self.number:
            parts.append(f"{self.number}号")
        if self.building:
            parts.append(f"{self.building}幢")
        if self.room:
            parts.append(f"{self.room}室")
        built = "".join(p for p in parts if p)
        return built if self.road else (self.address or built)


class HouseholdType(models.TextChoices):
    REGISTERED = "registered", _("户籍户")
    SEPARATED = "separated", _("人户分离")
    MIGRANT = "migrant", _("来沪人员")
    OTHER = "other", _("其他")


class Household(Located):
    """户: a household living in a house; located where its house is."""

    house = models.ForeignKey(
        House, verbose_name=_("房屋"), on_delete=models.CASCADE, related_name="households"
    )
    number = models.CharField(_("户号"), max_length=30, blank=True)
    head_name = models.CharField(_("户主"), max_length=50, blank=True)
    household_type = models.CharField(
        _("户别"), max_length=20, choices=HouseholdType.choices, default=HouseholdType.REGISTERED
    )
    registered_address = models.CharField(_("户籍地址"), max_length=200, blank=True)

    colour_kind = "house"

    class Meta:
        ordering = ["grid_code", "house_id", "number", "id"]
        verbose_name = _("户")
        verbose_name_plural = _("户")

    def __str__(self) -> str:
        return f"{self.head_name or '户'} {self.number}".strip()


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class Resident(Located):
    """实有人口: a person living (or registered) in the town."""

    household = models.ForeignKey(
        Household,
        verbose_name=_("户"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="residents",
    )
    house = models.ForeignKey(
        House,
        verbose_name=_("房屋"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="residents",
    )
    name = models.CharField(_("姓名"), max_length=50, db_index=True)
    id_number_enc = _enc_field()
    id_number_hash = _hash_field()
    phone_enc = _enc_field()
    phone_hash = _hash_field()
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    registered_residence = models.CharField(_("户籍地"), max_length=200, blank=True)
    actual_residence = models.CharField(_("实际居住地址"), max_length=200, blank=True)
    relation_to_head = models.CharField(_("与户主关系"), max_length=20, blank=True)
    tags = models.JSONField(_("标签"), default=list, blank=True)
    is_active = models.BooleanField(_("在册"), default=True)

    colour_kind = "house"
    personal_fields = ("id_number", "phone")
    id_number_masked = masked_property("id_number")
    phone_masked = masked_property("phone")

    class Meta:
        ordering = ["grid_code", "household_id", "id"]
        verbose_name = _("实有人口")
        verbose_name_plural = _("实有人口")

    def __str__(self) -> str:
        return self.name

    @property
    def tag_labels(self) -> list[str]:
        return [RESIDENT_TAGS.get(t, t) for t in self.tags or []]


class Enterprise(Located):
    """实有单位: an enterprise with its unified social credit code."""

    name = models.CharField(_("名称"), max_length=120, db_index=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    industry = models.CharField(_("行业"), max_length=60, blank=True)
    is_above_scale = models.BooleanField(_("规上企业"), default=False)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone_enc = _enc_field()
    contact_phone_hash = _hash_field()
    employees = models.PositiveIntegerField(_("从业人数"), null=True, blank=True)
    is_key = models.BooleanField(_("重点企业"), default=False)

    colour_kind = "enterprise"
    personal_fields = ("contact_phone",)
    contact_phone_masked = masked_property("contact_phone")

    class Meta:
        ordering = ["grid_code", "name", "id"]
        verbose_name = _("企业")
        verbose_name_plural = _("企业")

    def __str__(self) -> str:
        return self.name


class EnterpriseVisit(models.Model):
    """大走访: one service visit to an enterprise, with what was found."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("企业"), on_delete=models.CASCADE, related_name="visits"
    )
    visited_at = models.DateTimeField(_("走访时间"), db_index=True)
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("走访人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    visitor_name = models.CharField(_("走访人姓名"), max_length=50, blank=True)
    findings = models.TextField(_("走访情况"), blank=True)
    problems = models.JSONField(_("问题诉求"), default=list, blank=True)
    needs_followup = models.BooleanField(_("需跟进"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_field = "enterprise__grid_code"

    class Meta:
        ordering = ["-visited_at", "-id"]
        verbose_name = _("企业走访")
        verbose_name_plural = _("企业走访")

    def __str__(self) -> str:
        return f"{self.enterprise} {self.visited_at:%Y-%m-%d}"


class Shop(Located):
    """沿街商户, with its membership of a street's merchants' alliance (商户联盟)."""

    name = models.CharField(_("店名"), max_length=120, db_index=True)
    street = models.CharField(_("街道"), max_length=60, blank=True)
    business_type = models.CharField(_("经营类别"), max_length=60, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone_enc = _enc_field()
    contact_phone_hash = _hash_field()
    is_alliance_member = models.BooleanField(_("商户联盟成员"), default=False)
    alliance = models.CharField(_("商户联盟"), max_length=60, blank=True)

    colour_kind = "shop"
    personal_fields = ("contact_phone",)
    contact_phone_masked = masked_property("contact_phone")

    class Meta:
        ordering = ["grid_code", "street", "name", "id"]
        verbose_name = _("商户")
        verbose_name_plural = _("商户")

    def __str__(self) -> str:
        return self.name


class ComponentStatus(models.TextChoices):
    GOOD = "good", _("完好")
    DAMAGED = "damaged", _("破损")
    LOST = "lost", _("丢失")
    ABANDONED = "abandoned", _("废弃")
    REMOVED = "removed", _("移除")


class ComponentKind(models.TextChoices):
    CAMERA = "camera", _("摄像头")
    PUMP_STATION = "pump_station", _("泵站")
    ELEVATOR = "elevator", _("电梯")
    MANHOLE = "manhole", _("窨井盖")
    OTHER = "other", _("其他")


# Words in a component subclass's name that decide its kind, first match wins.
KIND_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (ComponentKind.CAMERA, ("摄像", "监控", "视频")),
    (ComponentKind.PUMP_STATION, ("泵站",)),
    (ComponentKind.ELEVATOR, ("电梯",)),
    (ComponentKind.MANHOLE, ("井盖", "窨井", "检查井")),
]


def kind_for_category(category) -> str:
    name = getattr(category, "name", "") or ""
    for kind, words in KIND_WORDS:
        if any(w in name for w in words):
            return kind
    return ComponentKind.OTHER


class Component(Located):
    """城市部件: a piece of public infrastructure, coded 310115 + class + subclass + serial."""

    category = models.ForeignKey(
        "cases.Category", verbose_name=_("部件小类"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("部件编码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=120, blank=True)
    status = models.CharField(
        _("状态"),
        max_length=12,
        choices=ComponentStatus.choices,
        default=ComponentStatus.GOOD,
        db_index=True,
    )
    owner_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("主管部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    maintainer = models.CharField(_("养护单位"), max_length=120, blank=True)
    installed_on = models.DateField(_("设置日期"), null=True, blank=True)
    kind = models.CharField(
        _("部件类型"),
        max_length=16,
        choices=ComponentKind.choices,
        default=ComponentKind.OTHER,
        db_index=True,
    )

    # No department_field: departments hold no registry.view; the registry is grid-scoped.
    colour_kind = "component"

    class Meta:
        ordering = ["grid_code", "code"]
        verbose_name = _("城市部件")
        verbose_name_plural = _("城市部件")

    def __str__(self) -> str:
        return f"{self.code} {self.name or self.category.name}"

    def save(self, *args, **kwargs):
        if self.category_id is not None:
            self.kind = kind_for_category(self.category)
        super().save(*args, **kwargs)


class UndergroundSpace(Located):
    """地下空间 (民防工程、地下车库 …) and who manages it."""

    name = models.CharField(_("名称"), max_length=120)
    use = models.CharField(_("用途"), max_length=60, blank=True)
    area = models.DecimalField(
        _("面积（㎡）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    manager = models.CharField(_("管理单位"), max_length=120, blank=True)
    contact_phone_enc = _enc_field()
    contact_phone_hash = _hash_field()

    colour_kind = "underground"
    personal_fields = ("contact_phone",)
    contact_phone_masked = masked_property("contact_phone")

    class Meta:
        ordering = ["grid_code", "name", "id"]
        verbose_name = _("地下空间")
        verbose_name_plural = _("地下空间")

    def __str__(self) -> str:
        return self.name


class ParcelStage(models.TextChoices):
    SURVEY = "survey", _("摸底")
    VALUATION = "valuation", _("评估")
    SIGNING = "signing", _("签约")
    CLEARING = "clearing", _("腾地")
    HANDOVER = "handover", _("交地")
    DONE = "done", _("完成")


class LandParcel(Located):
    """地块 under (re)development, e.g. "901 单元 15-04 地块", with its signing progress; located at
    its centroid."""

    name = models.CharField(_("名称"), max_length=120)
    unit = models.CharField(_("单元"), max_length=30, blank=True)
    stage = models.CharField(
        _("阶段"), max_length=12, choices=ParcelStage.choices, default=ParcelStage.SURVEY
    )
    households_total = models.PositiveIntegerField(_("应签约户数"), default=0)
    households_signed = models.PositiveIntegerField(_("已签约户数"), default=0)
    boundary = models.JSONField(_("边界"), null=True, blank=True)

    colour_kind = "parcel"

    class Meta:
        ordering = ["grid_code", "name", "id"]
        verbose_name = _("地块")
        verbose_name_plural = _("地块")

    def __str__(self) -> str:
        return self.name

    @property
    def signed_rate(self) -> float | None:
        if not self.households_total:
            return None
        return self.households_signed / self.households_total


# Every located registry model, in the order pages and counts list them.
LOCATED_MODELS: list[type[Located]] = [
    House,
    Household,
    Resident,
    Enterprise,
    Shop,
    Component,
    UndergroundSpace,
    LandParcel,
]
