"""The five-level grid (五级网格): 镇 → 片区 → 居村/园区楼宇 → 微网格 → 楼组/队组.

Codes follow GB/T 30428.1 and extend it for the levels it does not have (see docs/decisions.md):

    level 1 镇        310115 125                       9 digits  (division + town)
    level 2 片区      310115 125 1                     10 digits (+ area digit)
    level 3 居村      310115 125 1 07                  12 digits (community = area digit + 2)
    level 4 微网格    310115 125 107 003               15 digits (the GB/T 30428.1 grid code)
    level 5 楼组/队组 310115 125 107 003 002           18 digits (+ 3)

Every code begins with its parent's code, so a subtree is a code prefix: the grid-scope filter is
``code__startswith`` and needs no recursive query on either database.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    TOWN = 1, _("镇")
    AREA = 2, _("片区")
    COMMUNITY = 3, _("居村/园区楼宇")
    MICRO = 4, _("微网格")
    GROUP = 5, _("楼组/队组")


# Digits each level adds to its parent's code.
CODE_LENGTHS = {
    Level.TOWN: 9,
    Level.AREA: 10,
    Level.COMMUNITY: 12,
    Level.MICRO: 15,
    Level.GROUP: 18,
}


class Kind(models.TextChoices):
    TOWN = "town", _("镇")
    AREA = "area", _("片区")
    RESIDENTIAL = "residential", _("居委")
    VILLAGE = "village", _("村")
    PARK = "park", _("园区")
    BUILDING = "building", _("楼宇")
    MICRO = "micro", _("微网格")
    BUILDING_GROUP = "building_group", _("楼组")
    TEAM = "team", _("队组")


KINDS_BY_LEVEL = {
    Level.TOWN: {Kind.TOWN},
    Level.AREA: {Kind.AREA},
    Level.COMMUNITY: {Kind.RESIDENTIAL, Kind.VILLAGE, Kind.PARK, Kind.BUILDING},
    Level.MICRO: {Kind.MICRO},
    Level.GROUP: {Kind.BUILDING_GROUP, Kind.TEAM},
}


class GridNodeQuerySet(models.QuerySet):
    def subtree(self, code: str) -> "GridNodeQuerySet":
        return self.filter(code__startswith=code)

    def micro_grids(self) -> "GridNodeQuerySet":
        return self.filter(level=Level.MICRO)


class GridNode(models.Model):
    code = models.CharField(_("编码"), max_length=24, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.PositiveSmallIntegerField(_("层级"), choices=Level.choices, db_index=True)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    boundary = models.JSONField(_("边界 (GeoJSON)"), default=dict, blank=True)
    centroid_lng = models.FloatField(_("中心点经度"), null=True, blank=True)
    centroid_lat = models.FloatField(_("中心点纬度"), null=True, blank=True)
    area_m2 = models.FloatField(_("面积 (m²)"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GridNodeQuerySet.as_manager()

    # Grid scope: the field holding the grid code this object belongs to (see accounts.access).
    scope_field = "code"
    # Grid geography is reference data that departments need town-wide to handle cases.
    department_sees_all = True

    class Meta:
        ordering = ["code"]
        verbose_name = _("网格")
        verbose_name_plural = _("网格")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def ancestors(self) -> list["GridNode"]:
        """From the town down to the parent, without N queries: ancestors are code prefixes."""
        prefixes = [self.code[:n] for n in CODE_LENGTHS.values() if n < len(self.code)]
        return list(GridNode.objects.filter(code__in=prefixes).order_by("level"))

    def path(self) -> list["GridNode"]:
        return [*self.ancestors(), self]


class GridRevision(models.Model):
    """A counter bumped by every change to the grid, so each process knows when to rebuild its
    in-memory lookup index without comparing geometries."""

    revision = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("网格版本")

    def __str__(self) -> str:
        return f"r{self.revision}"


class Post(models.TextChoices):
    LEADER = "leader", _("网格长")
    FULL_TIME = "full_time", _("专职网格员")
    PART_TIME = "part_time", _("兼职网格员")


class GridStaff(models.Model):
    """A person on duty in the grid. Not necessarily a user of the system."""

    name = models.CharField(_("名称"), max_length=50)
    # The public work number shown on door plates and scan cards; personal numbers live in the
    # registry, encrypted.
    work_phone = models.CharField(_("工作电话"), max_length=20, blank=True)
    user = models.OneToOneField(
        "accounts.User",
        verbose_name=_("用户账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grid_staff",
    )
    active = models.BooleanField(_("在岗"), default=True)

    # Staff are seen where they are on duty; a person on duty in two scopes is seen in both.
    scope_field = "duties__grid__code"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("网格人员")
        verbose_name_plural = _("网格人员")

    def __str__(self) -> str:
        return self.name


class DutyAssignment(models.Model):
    staff = models.ForeignKey(
        GridStaff, verbose_name=_("人员"), on_delete=models.CASCADE, related_name="duties"
    )
    grid = models.ForeignKey(
        GridNode, verbose_name=_("微网格"), on_delete=models.PROTECT, related_name="duties"
    )
    post = models.CharField(_("岗位"), max_length=20, choices=Post.choices)
    started_on = models.DateField(_("起始日期"), null=True, blank=True)
    ended_on = models.DateField(_("截止日期"), null=True, blank=True)

    scope_field = "grid__code"

    class Meta:
        ordering = ["grid__code", "post", "staff__name"]
        verbose_name = _("网格岗位")
        verbose_name_plural = _("网格岗位")
        constraints = [
            models.UniqueConstraint(fields=["staff", "grid", "post"], name="unique_duty_per_post")
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_post_display()} · {self.grid.name}"
