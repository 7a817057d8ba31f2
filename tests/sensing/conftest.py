"""Sensing fixtures: the sensing catalogue on a hand-made micro-grid (no grid index needed), and
helpers to make devices and compact messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

T0 = datetime(2023, 6, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _fresh_caches():
    from towngrid.sensing import actions

    actions.clear_caches()
    yield
    actions.clear_caches()


@pytest.fixture
def micro(db):
    from towngrid.grids.models import GridNode, Kind, Level

    town = GridNode.objects.create(
        code="990000001", name="测试镇", level=Level.TOWN, kind=Kind.TOWN
    )
    area = GridNode.objects.create(
        code="9900000011", name="测试片区", level=Level.AREA, kind=Kind.AREA, parent=town
    )
    community = GridNode.objects.create(
        code="990000001101",
        name="测试居委",
        level=Level.COMMUNITY,
        kind=Kind.RESIDENTIAL,
        parent=area,
    )
    return GridNode.objects.create(
        code="990000001101001",
        name="测试微网格",
        level=Level.MICRO,
        kind=Kind.MICRO,
        parent=community,
    )


@pytest.fixture
def sensing_catalogue(db):
    from towngrid.sensing.catalogue import install

    install()


@pytest.fixture
def make_device(micro, sensing_catalogue):
    from towngrid.sensing import actions

    def _make(type_code: str, code: str | None = None, **fields):
        _make.n += 1
        device, secret = actions.create_device(
            actor=None,
            code=code or f"{type_code}-{_make.n:03d}",
            name=f"测试{type_code}{_make.n}",
            device_type=type_code,
            lng=121.5,
            lat=31.2,
            grid=micro,
            **fields,
        )
        device.secret = secret
        return device

    _make.n = 0
    return _make


def msg(device, minutes: float, values: dict, mid: str | None = None, **extra) -> dict:
    """A compact message ``minutes`` after T0."""
    out = {
        "id": mid or f"{device.code}-{minutes}",
        "device": device.code,
        "time": (T0 + timedelta(minutes=minutes)).isoformat(),
        "values": values,
    }
    out.update(extra)
    return out
