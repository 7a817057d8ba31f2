"""The standard category catalogue: contents, codes, limits, keywords, the idempotent installer,
the command, and the admin pages over it."""

import datetime as dt
import re
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from towngrid.accounts.models import Department
from towngrid.cases import catalogue, timelimits
from towngrid.cases.catalogue import CATALOGUE, install_catalogue, keywords_for
from towngrid.cases.models import Category, CategoryClass, TimeLimit
from towngrid.core import workcalendar
from towngrid.core.models import AuditEvent

SH = ZoneInfo("Asia/Shanghai")

SEED_PROBLEMS = [
    "暴露垃圾",
    "小包垃圾",
    "占道经营",
    "车辆乱停放",
    "非机动车乱停放",
    "私搭乱建",
    "违法搭建",
    "破坏承重墙",
    "群租",
    "三合一场所",
    "雨污混接",
    "道路积水",
    "燃气安全隐患",
    "电动自行车进电梯",
]
COMMON = [
    "窨井盖",
    "路灯",
    "消防栓",
    "雨水箅子",
    "行道树",
    "绿地",
    "道路不洁",
    "积存垃圾渣土",
    "乱贴乱画",
    "非法小广告",
    "施工扰民",
    "渣土撒漏",
    "水管爆裂",
    "井盖缺失",
    "河道水质异常",
    "泵站故障",
    "违规装修",
    "消防通道堵塞",
]


def subs_by_name():
    return {sub.name: (major, sub) for major in CATALOGUE for sub in major.subs}


@pytest.fixture(autouse=True)
def _fresh_caches(db):
    timelimits.clear_cache()
    workcalendar.clear_cache()
    yield
    timelimits.clear_cache()
    workcalendar.clear_cache()


# ---- the data -----------------------------------------------------------------------------


def test_at_least_sixty_subclasses_with_every_named_problem():
    names = subs_by_name()
    assert catalogue.subclass_count() >= 60
    assert len(names) == catalogue.subclass_count(), "subclass names are unique"
    missing = [n for n in SEED_PROBLEMS + COMMON if n not in names]
    assert not missing


def test_standard_top_classes_and_local_extensions():
    by_kind = {}
    for major in CATALOGUE:
        by_kind.setdefault(major.kind, []).append((major.code, major.name, major.local))
    components = [(c, n) for c, n, local in by_kind["component"] if not local]
    events = [(c, n) for c, n, local in by_kind["event"] if not local]
    assert components == [
        ("01", "公用设施"),
        ("02", "道路交通"),
        ("03", "市容环境"),
        ("04", "园林绿化"),
        ("05", "房屋土地"),
        ("06", "其他设施"),
    ]
    assert events == [
        ("01", "市容环境"),
        ("02", "宣传广告"),
        ("03", "施工管理"),
        ("04", "突发事件"),
        ("05", "街面秩序"),
    ]
    assert all(int(c) >= 10 for kind in by_kind.values() for c, _, local in kind if local)
    assert any(local for _, _, local in by_kind["component"])


def test_codes_are_two_digits_and_unique():
    seen = set()
    for major in CATALOGUE:
        assert re.fullmatch(r"\d\d", major.code)
        codes = [sub.code for sub in major.subs]
        assert all(re.fullmatch(r"\d\d", c) for c in codes)
        assert len(codes) == len(set(codes))
        for sub in major.subs:
            full = f"{major.letter}{major.code}{sub.code}"
            assert full not in seen
            seen.add(full)


def test_every_department_is_known_and_matches_the_demo_town():
    from towngrid.demo.data import DEPARTMENTS

    demo = {d.code: (d.name, d.short_name) for d in DEPARTMENTS}
    for code, names in catalogue.DEPARTMENT_NAMES.items():
        assert demo[code] == names
    used = {sub.department for _, sub in subs_by_name().values()}
    assert used <= catalogue.DEPARTMENT_NAMES.keys()


def test_published_limits():
    names = subs_by_name()
    assert names["暴露垃圾"][1].step_limits()["handle"] == (Decimal("4"), "work_hours")
    assert names["违法搭建"][1].step_limits()["handle"] == (Decimal("15"), "work_days")
    assert names["道路不洁"][1].step_limits()["handle"] == (Decimal("5"), "work_hours")
    illegal = names["私搭乱建"][1]
    assert illegal.step_limits()["handle"] == (Decimal("20"), "work_days")
    assert "4 个工作时" in illegal.closing and "7 个工作日" in illegal.closing


def test_internal_categories_are_not_public():
    names = subs_by_name()
    assert names["泵站故障"][1].public is False
    assert names["暴露垃圾"][1].public is True


def test_keywords_hold_synonyms_and_pinyin_initials():
    names = subs_by_name()
    rubbish = keywords_for(names["暴露垃圾"][1]).split()
    assert "bllj" in rubbish and "baolulaji" in rubbish and "垃圾满溢" in rubbish
    assert "yjg" in keywords_for(names["窨井盖"][1]).split()
    assert "zdjy" in keywords_for(names["占道经营"][1]).split()
    assert all(len(keywords_for(sub)) <= 200 for _, sub in names.values())


# ---- the installer ------------------------------------------------------------------------


def test_install_creates_everything_once_and_is_idempotent():
    first = install_catalogue()
    assert first["subclasses_created"] == catalogue.subclass_count()
    assert Category.objects.count() == catalogue.subclass_count()
    assert CategoryClass.objects.count() == len(CATALOGUE)
    assert TimeLimit.objects.filter(category=None).count() == 7
    assert set(Department.objects.values_list("code", flat=True)) >= set(catalogue.DEPARTMENT_NAMES)
    assert AuditEvent.objects.filter(action="cases.catalogue.install").count() == 1

    second = install_catalogue()
    assert not any(k.endswith(("_created", "_updated")) for k in second)
    assert second["subclasses_unchanged"] == catalogue.subclass_count()
    assert AuditEvent.objects.filter(action="cases.catalogue.install").count() == 1


def test_install_repairs_a_changed_row_and_keeps_a_towns_own_limits():
    install_catalogue()
    rubbish = Category.objects.get(name="暴露垃圾")
    Category.objects.filter(pk=rubbish.pk).update(default_department=None)
    TimeLimit.objects.create(category=rubbish, step="recheck", amount=1, unit="work_hours")
    counts = install_catalogue()
    assert counts["subclasses_updated"] == 1
    rubbish.refresh_from_db()
    assert rubbish.default_department.code == "city-operations"
    assert TimeLimit.objects.filter(category=rubbish, step="recheck").exists()


def test_existing_department_is_reused_by_code_and_by_name():
    Department.objects.create(code="city-operations", name="城运中心（已有）")
    Department.objects.create(code="cgzd", name="城管执法中队")
    install_catalogue()
    assert Category.objects.get(name="暴露垃圾").default_department.name == "城运中心（已有）"
    assert Category.objects.get(name="占道经营").default_department.code == "cgzd"
    assert not Department.objects.filter(code="urban-management").exists()


def test_dry_run_writes_nothing():
    counts = install_catalogue(dry_run=True)
    assert counts["subclasses_created"] == catalogue.subclass_count()
    assert not Category.objects.exists()
    assert not AuditEvent.objects.exists()


def test_installed_limits_give_deadlines():
    install_catalogue()
    rubbish = Category.objects.get(full_code="E0102")
    assert rubbish.name == "暴露垃圾"
    assert Category.objects.get(full_code="C0105").name == "窨井盖"
    start = dt.datetime(2023, 1, 20, 16, tzinfo=SH)
    assert timelimits.deadline_for(rubbish, "handle", start) == dt.datetime(
        2023, 1, 28, 11, 30, tzinfo=SH
    )
    # other steps fall back to the town defaults: accept 1 working hour
    assert timelimits.deadline_for(rubbish, "accept", start) == dt.datetime(
        2023, 1, 20, 17, tzinfo=SH
    )
    # 突发事件 count natural hours, round the clock, holidays included
    flood = Category.objects.get(name="道路积水")
    assert timelimits.deadline_for(flood, "handle", start) == dt.datetime(
        2023, 1, 20, 20, tzinfo=SH
    )
    assert timelimits.deadline_for(flood, "dispatch", start) == dt.datetime(
        2023, 1, 20, 16, 30, tzinfo=SH
    )
    illegal = Category.objects.get(name="私搭乱建")
    assert timelimits.deadline_for(illegal, "handle", dt.datetime(2023, 4, 3, 10, tzinfo=SH)) == (
        dt.datetime(2023, 5, 4, 10, tzinfo=SH)
    )


def test_command_and_dry_run():
    out = StringIO()
    call_command("cases_catalogue", "--dry-run", stdout=out)
    assert "试运行" in out.getvalue() and not Category.objects.exists()
    out = StringIO()
    call_command("cases_catalogue", stdout=out)
    assert f"小类：新增 {catalogue.subclass_count()}" in out.getvalue()
    out = StringIO()
    call_command("cases_catalogue", "--list", stdout=out)
    assert "E0102 暴露垃圾" in out.getvalue()


# ---- the admin ----------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, user_factory):
    user = user_factory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_admin_pages_render(admin_client_):
    install_catalogue()
    rubbish = Category.objects.get(name="暴露垃圾")
    for url in [
        "/admin/cases/categoryclass/",
        f"/admin/cases/categoryclass/{rubbish.major_id}/change/",
        "/admin/cases/category/",
        "/admin/cases/category/?q=bllj",
        "/admin/cases/category/?major__kind__exact=event&is_public__exact=0",
        f"/admin/cases/category/{rubbish.pk}/change/",
        "/admin/cases/timelimit/",
        "/admin/cases/timelimit/?category__isempty=1",
        "/admin/cases/case/",
        "/admin/cases/attachment/",
        "/admin/core/setting/",
        "/admin/core/setting/add/",
        "/admin/core/calendaroverride/",
        "/admin/core/calendaroverride/add/",
    ]:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
    found = admin_client_.get("/admin/cases/category/?q=bllj")
    assert "暴露垃圾" in found.content.decode()
    assert admin_client_.get("/admin/cases/case/add/").status_code == 403


def test_admin_category_edit_is_audited(admin_client_):
    install_catalogue()
    rubbish = Category.objects.get(name="暴露垃圾")
    page = admin_client_.get(f"/admin/cases/category/{rubbish.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(
        {
            "major": rubbish.major_id,
            "default_department": rubbish.default_department_id,
            "name": "暴露垃圾",
            "closing_conditions": "垃圾清运完毕，附照片。",
            "requires_after_photo": "on",
            "is_public": "on",
            "active": "on",
        }
    )
    limits = list(rubbish.time_limits.all())
    data.update(
        {
            "time_limits-TOTAL_FORMS": str(len(limits)),
            "time_limits-INITIAL_FORMS": str(len(limits)),
            "time_limits-MIN_NUM_FORMS": "0",
            "time_limits-MAX_NUM_FORMS": "1000",
        }
    )
    for i, row in enumerate(limits):
        data.update(
            {
                f"time_limits-{i}-id": row.pk,
                f"time_limits-{i}-category": rubbish.pk,
                f"time_limits-{i}-step": row.step,
                f"time_limits-{i}-amount": "6" if row.step == "handle" else row.amount,
                f"time_limits-{i}-unit": row.unit,
            }
        )
    response = admin_client_.post(f"/admin/cases/category/{rubbish.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert timelimits.limit_for(rubbish, "handle") == (Decimal("6"), "work_hours")
    assert AuditEvent.objects.filter(action="cases.category.admin_change").exists()
    assert AuditEvent.objects.filter(
        action="cases.timelimit.admin_change", object_type="cases.timelimit"
    ).exists()
