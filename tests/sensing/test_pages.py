"""The sensing pages: the alarm board (scope, live partial, acknowledge and clear), the device
list and page, and the pump-station panel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from towngrid.sensing.models import Alarm, AlarmStatus


@pytest.fixture
def board(demo_town):
    """Two gas detectors in alarm and a pump station over its warning level: one detector and
    the station in the gridworker's micro-grid, the other detector in another community."""
    from shapely.geometry import shape

    from towngrid.cases.catalogue import install_catalogue
    from towngrid.grids.models import GridNode, Level
    from towngrid.sensing import actions, catalogue, policies, rules

    install_catalogue()
    catalogue.install()
    for cache in (actions.devices, rules.cache, policies.cache):
        cache.invalidate()
    mine = demo_town.user("grid_worker").scope
    other = (
        GridNode.objects.filter(level=Level.MICRO, code__startswith=demo_town.town.code)
        .exclude(code__startswith=demo_town.community.code)
        .order_by("code")
        .first()
    )

    def device(code, type_code, micro):
        point = shape(micro.boundary).representative_point()
        made, _ = actions.create_device(
            actor=None, code=code, name=f"页面测试{code}", device_type=type_code,
            lng=point.x, lat=point.y, grid=micro,
        )  # fmt: skip
        return made

    inside = device("PG-GAS-IN", "gas_detector", mine)
    outside = device("PG-GAS-OUT", "gas_detector", other)
    pump = device("PG-PUMP-IN", "rain_pump_station", mine)
    now = timezone.now().replace(microsecond=0)
    t = [(now - timedelta(minutes=m)).isoformat() for m in (30, 10, 1)]
    actions.ingest(
        [
            {"id": "a", "device": inside.code, "time": t[0], "values": {"lel": 62.0, "alarm": True}},
            {"id": "b", "device": outside.code, "time": t[0], "values": {"lel": 30.0}},
            {"id": "c", "device": pump.code, "time": t[0], "values": {"water_level": 2.2, "pump_1": True}},
            {"id": "d", "device": pump.code, "time": t[1], "values": {"water_level": 3.1, "pump_1": True,
                                                                   "pump_2": True, "pumps_running": 2,
                                                                   "rainfall": 42.0}},
        ],
        transport="internal",
    )  # fmt: skip
    return {"inside": inside, "outside": outside, "pump": pump}


def alarm_of(device) -> Alarm:
    return Alarm.objects.get(device=device, status__in=["active_unack", "active_ack"])


def test_board_shows_the_scope_only(board, login_as):
    client = login_as("grid_worker")
    page = client.get(reverse("sensing:alarms"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "页面测试PG-GAS-IN" in html and "页面测试PG-PUMP-IN" in html
    assert "页面测试PG-GAS-OUT" not in html
    assert board["outside"].grid_code not in html
    markers = page.context["markers"]
    assert {m["device"] for m in markers} >= {"页面测试PG-GAS-IN"}
    assert "页面测试PG-GAS-OUT" not in {m["device"] for m in markers}
    # The whole town's leader sees both.
    html = login_as("town_leader").get(reverse("sensing:alarms")).content.decode()
    assert "页面测试PG-GAS-IN" in html and "页面测试PG-GAS-OUT" in html


def test_board_live_partial_and_filters(board, login_as):
    client = login_as("town_leader")
    part = client.get(reverse("sensing:alarms") + "?severity=critical", HTTP_HX_REQUEST="true")
    html = part.content.decode()
    assert part.status_code == 200 and "<html" not in html and 'id="alarm-live"' in html
    assert "页面测试PG-GAS-IN" in html  # critical
    assert "页面测试PG-GAS-OUT" not in html  # major only
    assert 'id="alarm-markers"' in html  # the map redraws from the partial
    cleared = client.get(reverse("sensing:alarms") + "?status=cleared").content.decode()
    assert "页面测试PG-GAS-IN" not in cleared


def test_board_needs_sensing_view(board, login_as):
    assert login_as("resident").get(reverse("sensing:alarms")).status_code == 403
    assert login_as("resident").get(reverse("sensing:pumps")).status_code == 403


def test_acknowledge_and_clear_from_the_board(board, login_as):
    alarm = alarm_of(board["inside"])
    client = login_as("ops_shift_lead")
    url = reverse("sensing:alarm-ack", args=[alarm.pk])
    page = client.post(
        url, {"version": alarm.version, "next": reverse("sensing:alarms")}, follow=True
    )
    assert "告警已确认" in page.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE_ACK and alarm.acknowledged_by.username
    # A stale form (the version moved on) is refused with a Chinese reason, nothing changes.
    page = client.post(reverse("sensing:alarm-clear", args=[alarm.pk]), {"version": 0}, follow=True)
    assert "已被他人处理" in page.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE_ACK
    client.post(reverse("sensing:alarm-clear", args=[alarm.pk]), {"version": alarm.version})
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLEARED_ACK and alarm.cleared_at is not None
    from towngrid.core.models import AuditEvent

    assert (
        AuditEvent.objects.filter(action__in=["sensing.alarm_ack", "sensing.alarm_clear"]).count()
        >= 2
    )


def test_acknowledge_needs_the_capability_and_the_scope(board, login_as, user_factory, client):
    alarm = alarm_of(board["inside"])
    page = login_as("town_leader").post(reverse("sensing:alarm-ack", args=[alarm.pk]), follow=True)
    assert "没有处理告警的权限" in page.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE_UNACK
    # A department handler of another department cannot even find it.
    outside = alarm_of(board["outside"])
    handler = login_as("dept_handler")
    assert handler.post(reverse("sensing:alarm-ack", args=[outside.pk])).status_code == 404
    assert (
        login_as("ops_shift_lead").get(reverse("sensing:alarm-ack", args=[alarm.pk])).status_code
        == 405
    )


def test_device_list_and_page(board, login_as):
    client = login_as("grid_worker")
    page = client.get(reverse("sensing:devices") + "?type=gas_detector")
    html = page.content.decode()
    assert page.status_code == 200 and "PG-GAS-IN" in html and "PG-GAS-OUT" not in html
    page = client.get(reverse("sensing:device", args=["PG-PUMP-IN"]))
    assert page.status_code == 200
    config = page.context["chart_config"]
    assert config["lines"] == {"water_level": {"warning": 3.0, "danger": 3.5}}
    assert config["url"] == "/api/v1/sensing/devices/PG-PUMP-IN/observations/"
    assert "water_level" in {m["code"] for m in config["metrics"]}
    assert "前池水位超警戒" in page.content.decode()  # its alarm
    # The series the chart asks for, through the API with the page's parameters.
    series = client.get(config["url"], {"from": config["from"], "to": config["to"], "buckets": 288})
    assert series.status_code == 200
    assert [p["avg"] for p in series.json()["metrics"]["water_level"]] == [2.2, 3.1]
    # Outside the scope: a 404 like a device that does not exist.
    assert client.get(reverse("sensing:device", args=["PG-GAS-OUT"])).status_code == 404
    assert client.get(reverse("sensing:device", args=["NO-SUCH"])).status_code == 404
    day = client.get(reverse("sensing:device", args=["PG-PUMP-IN"]) + "?date=2023-06-20")
    assert day.context["chart_config"]["from"].startswith("2023-06-20T00:00:00+08:00")


def test_pump_panel(board, login_as):
    page = login_as("grid_worker").get(reverse("sensing:pumps"))
    assert page.status_code == 200
    cards = {c["device"].code: c for c in page.context["cards"]}
    assert set(cards) == {"PG-PUMP-IN"}  # the demo town's stations lie outside this micro-grid
    card = cards["PG-PUMP-IN"]
    assert card["state"] == "warning" and card["level"] == 3.1
    assert [p["running"] for p in card["pumps"]][:2] == [True, True]
    assert card["alarm"].alarm_type == "water_level"
    html = page.content.decode()
    assert "超警戒" in html and 'id="pump-config"' in html
    partial = login_as("grid_worker").get(reverse("sensing:pumps"), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "PG-PUMP-IN" in partial.content.decode()
    # The town sees every station, the demo town's included.
    town = login_as("town_leader").get(reverse("sensing:pumps"))
    assert len(town.context["cards"]) > 1
    assert datetime.fromisoformat(town.context["pump_config"]["to"]) <= timezone.now()
