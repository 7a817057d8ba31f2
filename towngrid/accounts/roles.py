"""The roles that DESIGN.md names, installed by a data migration and editable afterwards.

Capabilities are plain strings checked through ``accounts.access.has_capability``.
"""

from django.utils.translation import gettext_lazy as _

# Capabilities known to the code. A role's list in the database may hold any subset.
CAPABILITIES = {
    "grids.view_map": _("查看网格地图"),
    "grids.import": _("导入和编辑网格"),
    "grids.manage_staff": _("管理网格人员"),
    "personal.reveal": _("查看脱敏个人信息原文"),
    "audit.view": _("查看审计日志"),
    "users.manage": _("管理用户和角色"),
    "cases.report": _("上报问题"),
    "cases.accept": _("受理案件"),
    "cases.verify": _("现场核实与核查"),
    "cases.open": _("立案与不予立案"),
    "cases.dispatch": _("派遣案件"),
    "cases.handle": _("处置案件"),
    "cases.close": _("结案与重新启用"),
    "cases.approve": _("审批延期与挂账"),
    "cases.configure": _("配置案件分类与时限"),
}

# code, name, scope kind, capabilities, description
DEFAULT_ROLES = [
    (
        "town_leader",
        "镇领导",
        "town",
        ["grids.view_map", "cases.report"],
        "全镇一屏总览，可下钻到任一网格",
    ),
    (
        "ops_registrar",
        "受理员",
        "town",
        ["grids.view_map", "cases.report", "cases.accept"],
        "城运中心：登记、受理案件",
    ),
    (
        "ops_shift_lead",
        "值班长",
        "town",
        [
            "grids.view_map",
            "cases.report",
            "cases.accept",
            "cases.open",
            "cases.close",
            "cases.approve",
        ],
        "城运中心：立案、结案，监看告警",
    ),
    (
        "ops_dispatcher",
        "派遣员",
        "town",
        ["grids.view_map", "cases.report", "cases.dispatch"],
        "城运中心：派遣案件",
    ),
    (
        "dept_handler",
        "职能部门处置人员",
        "department",
        ["grids.view_map", "cases.handle"],
        "处置派遣到本部门的案件",
    ),
    (
        "area_staff",
        "片区工作人员",
        "grid",
        ["grids.view_map", "cases.report"],
        "所辖片区内的一切",
    ),
    (
        "community_staff",
        "居村委工作人员",
        "grid",
        ["grids.view_map", "grids.manage_staff", "cases.report"],
        "所辖居村内的一切",
    ),
    (
        "grid_leader",
        "网格长",
        "grid",
        ["grids.view_map", "cases.report", "cases.verify"],
        "所辖网格：巡查、上报、核查",
    ),
    (
        "grid_worker",
        "网格员",
        "grid",
        ["grids.view_map", "cases.report", "cases.verify"],
        "所辖网格：巡查、扫码、上报、核查",
    ),
    (
        "resident",
        "居民",
        "none",
        ["cases.report"],
        "上报问题，查看进度",
    ),
    (
        "sysadmin",
        "系统管理员",
        "town",
        ["grids.view_map", "grids.import", "grids.manage_staff", "cases.configure"],
        "网格、分类、时限、规则、设备等配置",
    ),
    (
        "security_admin",
        "安全管理员",
        "none",
        ["users.manage"],
        "用户、角色与权限（三权分立）",
    ),
    (
        "audit_admin",
        "审计管理员",
        "none",
        ["audit.view"],
        "查看审计日志（三权分立）",
    ),
]
