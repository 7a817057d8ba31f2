"""Alarm → case policies on the demo town (cases need the grid index and the catalogue)."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from towngrid.sensing import actions
from towngrid.sensing.models import Alarm


def jpeg() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 120, 120)).save(out, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def camera(demo_town):
    from towngrid.sensing.catalogue import install

    install()
    micro = demo_town.micro_grid
    device, _ = actions.create_device(
        actor=None, code="T-CAM-1", name="测试摄像头", device_type="ai_camera",
        lng=micro.centroid_lng, lat=micro.centroid_lat, grid=micro,
    )  # fmt: skip
    return device


def detect(device, at, confidence, mid, snapshot=True):
    values = {"event": "小包垃圾", "confidence": confidence}
    if snapshot:
        values["snapshot"] = jpeg()
    return actions.ingest(
        [{"id": mid, "device": device.code, "time": at.isoformat(), "values": values}],
        transport="http",
        at=at,
    )


def test_small_bag_becomes_an_exposed_garbage_case_and_repeats_join(camera):
    from towngrid.cases.models import Case

    t0 = timezone.now() - timedelta(hours=5)
    low = detect(camera, t0, 0.7, "d0", snapshot=False)
    assert low.alarms_raised == 1 and low.cases == []
    first = detect(camera, t0 + timedelta(minutes=1), 0.91, "d1")
    assert len(first.cases) == 1
    case = Case.objects.get(number=first.cases[0])
    assert case.category.name == "暴露垃圾"
    assert case.source == "ai_camera"
    assert case.subject == camera
    assert case.attachments.count() == 1
    assert case.grid_code.startswith(camera.grid_code)
    alarm = Alarm.objects.get(device=camera, alarm_type="ai_small_bag")
    assert alarm.case_id == case.pk and alarm.count == 2
    # The alarm expires (30 minutes without a repeat); a new detection within the 120-minute
    # window joins the same case.
    actions.check_silent_devices(t0 + timedelta(minutes=40))
    again = detect(camera, t0 + timedelta(minutes=60), 0.95, "d2")
    assert again.cases == [case.number]
    assert Alarm.objects.filter(device=camera, alarm_type="ai_small_bag").count() == 2
    assert Case.objects.filter(subject_id=camera.pk, category=case.category).count() == 1
    # Outside the window: a new case.
    actions.check_silent_devices(t0 + timedelta(minutes=100))
    later = detect(camera, t0 + timedelta(minutes=240), 0.93, "d3")
    assert len(later.cases) == 1 and later.cases != [case.number]


def test_crowd_detection_has_no_policy(camera):
    result = actions.ingest(
        [{"id": "c1", "device": camera.code, "time": timezone.now().isoformat(),
          "values": {"event": "人员聚集", "confidence": 0.99}}],
        transport="http",
    )  # fmt: skip
    assert result.alarms_raised == 1 and result.cases == []


def test_short_gas_leak_within_one_batch_still_becomes_a_case(demo_town):
    from towngrid.sensing.catalogue import install

    install()
    micro = demo_town.micro_grid
    gas, _ = actions.create_device(
        actor=None, code="T-GAS-1", name="测试报警器", device_type="gas_detector",
        lng=micro.centroid_lng, lat=micro.centroid_lat, grid=micro,
    )  # fmt: skip
    t0 = timezone.now() - timedelta(minutes=30)
    result = actions.ingest(
        [{"id": f"g{i}", "device": gas.code, "time": (t0 + timedelta(minutes=i)).isoformat(),
          "values": {"lel": v}} for i, v in enumerate([2, 65, 5])],
        transport="mqtt",
    )  # fmt: skip
    assert (result.alarms_raised, result.alarms_cleared) == (1, 1)
    assert len(result.cases) == 1
    from towngrid.cases.models import Case

    assert Case.objects.get(number=result.cases[0]).category.name == "燃气泄漏"


def test_device_outside_the_town_keeps_its_alarm_without_a_case(demo_town):
    from towngrid.sensing.catalogue import install

    install()
    gas, _ = actions.create_device(
        actor=None, code="T-GAS-FAR", name="镇外报警器", device_type="gas_detector",
        lng=100.0, lat=20.0, grid=demo_town.micro_grid,
    )  # fmt: skip
    result = actions.ingest(
        [
            {
                "id": "far",
                "device": gas.code,
                "time": timezone.now().isoformat(),
                "values": {"lel": 80},
            }
        ],
        transport="http",
    )
    assert result.stored == 1 and result.cases == []
    alarm = Alarm.objects.get(device=gas)
    assert "不在本镇" in alarm.details["case_error"]


def test_demo_town_has_sensing(demo_town):
    from towngrid.sensing.models import Device, Observation

    assert Device.objects.filter(code__startswith="BC-PS").count() == 10
    assert Device.objects.filter(device_type__code="ai_camera").exists()
    assert Observation.objects.exists()
    assert Alarm.objects.filter(case__isnull=False).exists()
