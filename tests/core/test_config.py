"""Configuration as data: defaults, validation, audit, and the per-process cache."""

import pytest
from django.core.exceptions import ValidationError

from towngrid.core import config
from towngrid.core.models import AuditEvent, Setting


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    config.clear_cache()
    yield
    config.clear_cache()


def test_defaults():
    assert config.get("calendar.office_hours") == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert config.get("cases.duplicate_radius_m") == 50
    assert config.get("cases.photo_max_bytes") == 10 * 1024 * 1024
    assert config.get("cases.overdue_check_minutes") == 10
    assert config.get("cases.photo_max_pixels") == 64_000_000


def test_unknown_key_raises_key_error():
    with pytest.raises(KeyError):
        config.get("cases.duplicate_radius")
    with pytest.raises(KeyError):
        config.set_value("no.such.key", 1)


def test_set_value_validates_normalises_and_audits(user_factory):
    admin = user_factory(username="cfgadmin")
    assert config.set_value("cases.duplicate_radius_m", "80", admin, reason="老城区楼距小") == 80
    assert config.get("cases.duplicate_radius_m") == 80
    event = AuditEvent.objects.get(action="core.setting.set")
    assert event.actor_name == "cfgadmin"
    assert event.changes == {"cases.duplicate_radius_m": [None, 80]}
    assert event.reason == "老城区楼距小"
    config.set_value("cases.duplicate_radius_m", 60, admin)
    assert AuditEvent.objects.filter(action="core.setting.set").first().changes == {
        "cases.duplicate_radius_m": [80, 60]
    }


@pytest.mark.parametrize(
    "key,value",
    [
        ("cases.duplicate_radius_m", 0),
        ("cases.duplicate_radius_m", "fifty"),
        ("cases.duplicate_radius_m", 12.5),
        ("cases.duplicate_radius_m", True),
        ("cases.overdue_check_minutes", -5),
        ("calendar.office_hours", []),
        ("calendar.office_hours", [["09:00"]]),
        ("calendar.office_hours", [["12:00", "09:00"]]),
        ("calendar.office_hours", [["13:00", "17:30"], ["09:00", "12:00"]]),
        ("calendar.office_hours", [["09:00", "12:30"], ["12:00", "17:30"]]),
        ("calendar.office_hours", [["9:00", "12:00"]]),
        ("calendar.office_hours", [["09:00", "25:00"]]),
    ],
)
def test_bad_values_are_refused_with_a_chinese_message_and_nothing_stored(key, value):
    with pytest.raises(ValidationError) as err:
        config.set_value(key, value)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in " ".join(err.value.messages))
    assert not Setting.objects.exists()
    assert not AuditEvent.objects.exists()


def test_cache_is_invalidated_by_admin_style_saves_and_deletes():
    assert config.get("cases.overdue_check_minutes") == 10
    row = Setting.objects.create(key="cases.overdue_check_minutes", value=5)
    assert config.get("cases.overdue_check_minutes") == 5
    row.value = 15
    row.save()
    assert config.get("cases.overdue_check_minutes") == 15
    row.delete()
    assert config.get("cases.overdue_check_minutes") == 10


def test_cache_reloads_after_the_reload_interval(monkeypatch):
    """Another process's change (no signal here) is seen once the cache has aged."""
    assert config.get("cases.overdue_check_minutes") == 10
    Setting.objects.bulk_create([Setting(key="cases.overdue_check_minutes", value=7)])
    assert config.get("cases.overdue_check_minutes") == 10  # cached
    monkeypatch.setattr(config, "RELOAD_SECONDS", 0.0)
    assert config.get("cases.overdue_check_minutes") == 7


def test_invalid_stored_value_falls_back_to_default():
    Setting.objects.create(key="cases.duplicate_radius_m", value="lots")
    assert config.get("cases.duplicate_radius_m") == 50


def test_reset_restores_default_and_audits():
    config.set_value("cases.photo_max_bytes", 2 * 1024 * 1024)
    config.reset("cases.photo_max_bytes")
    assert config.get("cases.photo_max_bytes") == 10 * 1024 * 1024
    assert AuditEvent.objects.filter(action="core.setting.reset").count() == 1


def test_register_a_new_key_and_describe():
    config.register("test.answer", 42, "测试项", config.positive_int())
    try:
        assert config.get("test.answer") == 42
        keys = [row["key"] for row in config.describe()]
        assert keys == sorted(keys) and "test.answer" in keys
    finally:
        del config.REGISTRY["test.answer"]


# ---- the admin ----------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, user_factory):
    user = user_factory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_admin_setting_is_validated_and_audited(admin_client_):
    bad = admin_client_.post(
        "/admin/core/setting/add/",
        {"key": "calendar.office_hours", "value": '[["12:00", "09:00"]]', "note": ""},
    )
    assert bad.status_code == 200
    assert "开始应早于结束" in bad.content.decode()
    assert not Setting.objects.exists()

    good = admin_client_.post(
        "/admin/core/setting/add/",
        {"key": "calendar.office_hours", "value": '[["08:30", "17:00"]]', "note": "夏令"},
    )
    assert good.status_code == 302
    assert config.get("calendar.office_hours") == [["08:30", "17:00"]]
    event = AuditEvent.objects.get(action="core.setting.set")
    assert event.actor_name == "root"

    row = Setting.objects.get()
    assert (
        admin_client_.post(f"/admin/core/setting/{row.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert config.get("calendar.office_hours") == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert AuditEvent.objects.filter(action="core.setting.reset").count() == 1


def test_admin_calendar_override_is_audited_and_applies(admin_client_):
    import datetime as dt

    from towngrid.core import workcalendar
    from towngrid.core.models import CalendarOverride

    workcalendar.clear_cache()
    assert workcalendar.is_workday(dt.date(2031, 1, 1))
    response = admin_client_.post(
        "/admin/core/calendaroverride/add/",
        {"date": "2031-01-01", "is_workday": "", "name": "元旦"},
    )
    assert response.status_code == 302
    assert not workcalendar.is_workday(dt.date(2031, 1, 1))
    assert AuditEvent.objects.filter(action="core.calendar_override.admin_add").count() == 1
    page = admin_client_.get("/admin/core/calendaroverride/")
    assert "元旦" in page.content.decode() and "上班" in page.content.decode()
    row = CalendarOverride.objects.get()
    admin_client_.post(f"/admin/core/calendaroverride/{row.pk}/delete/", {"post": "yes"})
    assert workcalendar.is_workday(dt.date(2031, 1, 1))
    workcalendar.clear_cache()


def test_clear_all_caches_reaches_every_registered_cache():
    from towngrid.cases import timelimits
    from towngrid.core import workcalendar

    workcalendar.is_workday(__import__("datetime").date(2023, 1, 28))
    timelimits.limit_for(None, "handle")
    config.get("cases.duplicate_radius_m")
    config.clear_all_caches()
    assert workcalendar._overrides is None
    assert timelimits._table is None
    assert config._values is None
