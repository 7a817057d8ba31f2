"""Roll-ups of the cases, kept current so the 分级明细 drill-down answers on any node at once.

A case counts in the roll-ups by the local day (Asia/Shanghai) it was reported on, its
micro-grid, its subclass and its source: every figure is a figure "of the cases reported in the
period" (see docs/reports.md for each counter's definition). Two tables:

- ``CaseRollup``: one row per (micro-grid code, day, subclass, source), the unit recomputed from
  the cases when one of them changes (``rollups.refresh_case``);
- ``NodeRollup``: the same counters summed per node of the levels above the micro-grid (town,
  area, community) and day, once over all cases (``dim`` ""), once per subclass (``dim``
  "category", ``key`` the subclass id) and once per source (``dim`` "source"); kept current by
  the differences of the ``CaseRollup`` rows, rebuilt from them by ``rollups.rebuild``.

Both are located rows (``grid_code``) and read through ``accounts.access.visible_to``: a
community user's drill-down cannot see the town's or a neighbour's figures.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# The counters every roll-up row carries, in order (rollups.COUNTERS repeats them for SQL).
COUNTER_FIELDS = ("reported", "opened", "closed", "closed_on_time", "closed_late", "parked", "open")


class Counters(models.Model):
    # Signed: the upkeep adds differences with INSERT … ON CONFLICT DO UPDATE, and SQLite checks
    # a CHECK (>= 0) constraint on the proposed row (a negative difference) before the conflict.
    reported = models.IntegerField(_("上报"), default=0)
    opened = models.IntegerField(_("立案"), default=0)
    closed = models.IntegerField(_("结案"), default=0)
    closed_on_time = models.IntegerField(_("按期结案"), default=0)
    closed_late = models.IntegerField(_("超期结案"), default=0)
    parked = models.IntegerField(_("挂账"), default=0)
    open = models.IntegerField(_("在办"), default=0)

    class Meta:
        abstract = True


class CaseRollup(Counters):
    """The cases reported on ``day`` in one micro-grid, of one subclass, from one source."""

    grid_code = models.CharField(_("微网格编码"), max_length=24)
    day = models.DateField(_("上报日期"))
    category = models.ForeignKey(
        "cases.Category", verbose_name=_("小类"), on_delete=models.CASCADE, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=16)

    scope_field = "grid_code"

    class Meta:
        verbose_name = _("案件日汇总（微网格）")
        verbose_name_plural = _("案件日汇总（微网格）")
        constraints = [
            # Also the index of every read: micro-grid codes IN (…) and a day range.
            models.UniqueConstraint(
                fields=["grid_code", "day", "category", "source"], name="unique_case_rollup"
            )
        ]

    def __str__(self) -> str:
        return f"{self.grid_code} {self.day} {self.category_id} {self.source}"


class Dim(models.TextChoices):
    ALL = "", _("合计")
    CATEGORY = "category", _("按小类")
    SOURCE = "source", _("按来源")


class Grain(models.TextChoices):
    DAY = "d", _("日")
    MONTH = "m", _("月")


class NodeRollup(Counters):
    """The cases reported on ``day`` (grain "d") or in the month starting on ``day`` (grain "m")
    under one town, area or community node: in total, per subclass or per source. A period reads
    its whole months from month rows and only its ragged ends from day rows: a town-wide year is
    12 + up to 60 rows per key, not 365."""

    grid_code = models.CharField(_("网格编码"), max_length=24)
    level = models.PositiveSmallIntegerField(_("层级"))
    grain = models.CharField(_("粒度"), max_length=1, choices=Grain.choices, default=Grain.DAY)
    day = models.DateField(_("上报日期"))
    dim = models.CharField(_("维度"), max_length=8, choices=Dim.choices, blank=True)
    key = models.CharField(_("维度值"), max_length=16, blank=True)

    scope_field = "grid_code"

    class Meta:
        verbose_name = _("案件日汇总（镇、片区、居村）")
        verbose_name_plural = _("案件日汇总（镇、片区、居村）")
        constraints = [
            models.UniqueConstraint(
                fields=["grid_code", "dim", "grain", "day", "key"], name="unique_node_rollup"
            )
        ]
        indexes = [
            # A node's own rows of every dimension for a period (one query per drill-down).
            models.Index(fields=["grid_code", "grain", "day"]),
            # The rows of one level under a node (the big screen's top places).
            models.Index(fields=["level", "dim", "grain", "day"]),
        ]

    def __str__(self) -> str:
        return f"{self.grid_code} {self.dim or 'all'} {self.grain}{self.day} {self.key}"
