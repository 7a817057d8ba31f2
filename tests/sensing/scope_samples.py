"""Sensing rows in the scope matrix's fixture town (tests/accounts/scope_world.py): one device in
every micro-grid (every other one owned by the fixture's department), each with a reading, a
latest value and an active alarm, so the matrix can tell a grid or department leak from an
empty list on every sensing endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

T0 = datetime(2023, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_samples(world) -> None:
    from towngrid.sensing import partitions
    from towngrid.sensing.models import (
        Alarm,
        Device,
        DeviceType,
        LatestValue,
        Observation,
        Severity,
    )

    device_type, _ = DeviceType.objects.get_or_create(
        code="gas_detector",
        defaults={"name": "燃气泄漏报警器", "metrics": {"lel": {"name": "浓度", "unit": "%LEL"}}},
    )
    partitions.ensure_months([T0])
    for i, micro in enumerate(world.micro_grids):
        device = Device.objects.create(
            code=f"MX-GAS-{i + 1:03d}",
            name=f"矩阵测试报警器 {i + 1}",
            device_type=device_type,
            grid=micro,
            grid_code=micro.code,
            lng=121.5 + i * 0.001,
            lat=31.2,
            owner_department=world.department if i % 2 == 0 else None,
            state="online",
            last_seen_at=T0,
        )
        at = T0 + timedelta(minutes=i)
        Observation.objects.create(
            device=device, observed_at=at, received_at=at, message_id=f"mx-{i}", values={"lel": 1}
        )
        LatestValue.objects.create(device=device, observed_at=at, values={"lel": 1})
        Alarm.objects.create(
            device=device,
            alarm_type="gas_leak",
            name="燃气泄漏",
            severity=Severity.MAJOR,
            started_at=at,
            last_seen_at=at,
            grid=micro,
            grid_code=micro.code,
        )
