"""The sensing part of the Beicai demo town (see towngrid/demo/extras.py for the contract).

The seed report's 物联感知: 10 rain pump stations (智能化改造), 水务管家 water-quality stations on
the rivers, gas-leak detectors in restaurants and 三合一 places, the 电梯阻入 system of 9 residential
compounds and the 200 cameras of 小包垃圾智能发现. Devices are linked to the registry's components
of the matching kind (pump stations, cameras, added elevators) and stand where they stand; the
others are placed at micro-grid centres. Every device has a deterministic demo secret
(``demo_secret(code)``) so the simulator and curl examples can authenticate.

A day of history is ingested through ``actions.ingest`` itself (so rules, alarms and case
policies run exactly as in production): pump levels rising in an afternoon storm, one river
station turning 黑臭, a gas leak, e-bikes in elevators and AI detections, a few of which become
暴露垃圾 cases with their snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

DEMO_PREFIX = "BC-"
RIVERS = ["张家浜", "北横河", "三八河", "随塘河", "中心河", "界浜"]


def demo_secret(code: str) -> str:
    """The demo town's secret of a device: derived from its code (demo data only)."""
    return "demo-" + hmac.new(b"towngrid-demo", code.encode(), hashlib.sha256).hexdigest()[:24]


def exists() -> bool:
    from .models import Device

    return Device.objects.filter(code__startswith=DEMO_PREFIX).exists()


def remove() -> None:
    from .models import Alarm, DeadLetter, Device, LatestValue, Observation, RuleState

    with transaction.atomic():
        demo = Device.objects.filter(code__startswith=DEMO_PREFIX)
        Alarm.objects.filter(device__in=demo).delete()
        RuleState.objects.filter(device__in=demo).delete()
        LatestValue.objects.filter(device__in=demo).delete()
        Observation.objects.filter(device__in=demo).delete()
        DeadLetter.objects.filter(device_code__startswith=DEMO_PREFIX).delete()
        demo.delete()


def _snapshot(rng: random.Random, label: str) -> bytes:
    """A small JPEG standing in for a camera frame."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (rng.randint(90, 140),) * 3)
    draw = ImageDraw.Draw(image)
    x, y = rng.randint(20, 100), rng.randint(30, 80)
    draw.rectangle([x, y, x + 30, y + 24], fill=(40, 40, 40))
    draw.text((4, 4), label.encode("ascii", "ignore").decode() or "AI", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def _components(kind: str) -> list:
    try:
        from towngrid.registry.models import Component
    except ImportError:  # the registry app without its models: place devices by grid
        return []
    return list(Component.objects.filter(kind=kind).order_by("code"))


def build(*, seed: int = 2023, scale: float = 1.0, progress: bool = False) -> dict:
    import base64

    from towngrid.demo import data as demo_data
    from towngrid.grids.models import GridNode, Level

    from . import actions
    from .catalogue import install
    from .models import Device, DeviceState, DeviceType, Protocol

    rng = random.Random(seed)
    install()
    types = {t.code: t for t in DeviceType.objects.all()}
    micros = list(
        GridNode.objects.filter(level=Level.MICRO, code__startswith=demo_data.TOWN_CODE)
        .exclude(centroid_lng=None)
        .order_by("code")
    )
    if not micros:
        return {"devices": 0}
    by_code = {m.code: m for m in micros}
    now = timezone.now().replace(second=0, microsecond=0)
    devices: list[Device] = []

    def add(code: str, name: str, type_code: str, *, micro=None, component=None, **extra):
        if component is not None:
            grid = by_code.get(component.grid_code) or GridNode.objects.get(pk=component.grid_id)
            lng, lat, address = component.lng, component.lat, component.address
        else:
            grid = micro
            lng, lat, address = micro.centroid_lng, micro.centroid_lat, f"{micro.name}"
        devices.append(
            Device(
                code=code,
                name=name,
                device_type=types[type_code],
                model=extra.pop("model", ""),
                grid=grid,
                grid_code=grid.code,
                lng=lng,
                lat=lat,
                address=address[:200],
                component=component,
                protocol=extra.pop("protocol", Protocol.MQTT),
                owner_department=getattr(component, "owner_department", None),
                secret_hash=actions.hash_secret(demo_secret(code)),
                secret_rotated_at=now,
                state=DeviceState.UNKNOWN,
                battery=extra.pop("battery", None),
                settings=extra,
            )  # fmt: skip
        )

    pumps = _components("pump_station")[:10]
    for i in range(10):
        component = pumps[i] if i < len(pumps) else None
        name = component.name if component else f"雨水泵站{i + 1}"
        micro = None if component else micros[(i * len(micros)) // 10]
        add(f"{DEMO_PREFIX}PS{i + 1:02d}", name, "rain_pump_station", micro=micro,
            component=component, model="PLC-S7 液位遥测", pumps=4)  # fmt: skip
    for i, river in enumerate(RIVERS):
        micro = micros[(i * 7 + 3) % len(micros)]
        add(f"{DEMO_PREFIX}WQ{i + 1:02d}", f"{river}水质监测站", "water_quality", micro=micro,
            model="多参数水质浮标", protocol=Protocol.FIWARE)  # fmt: skip
    residential = [m for m in micros if "村" not in m.name] or micros
    for i in range(max(6, round(120 * scale))):
        micro = rng.choice(residential)
        add(f"{DEMO_PREFIX}GS{i + 1:03d}", f"{micro.name}燃气报警器{i + 1}", "gas_detector",
            micro=micro, model="JT-BZ 可燃气体探测器", battery=rng.randint(40, 100))  # fmt: skip
    elevators = _components("elevator")
    lifts = elevators[: max(9, round(90 * scale))] if elevators else []
    for i, component in enumerate(lifts or [None] * 9):
        micro = None if component else residential[(i * 5) % len(residential)]
        add(f"{DEMO_PREFIX}EL{i + 1:03d}", f"电梯阻车检测{i + 1}", "elevator_ebike", micro=micro,
            component=component, model="梯控 AI 盒子")  # fmt: skip
    cameras = _components("camera")[:200]
    for i, component in enumerate(cameras or [None] * max(10, round(200 * scale))):
        micro = None if component else micros[(i * 3) % len(micros)]
        add(f"{DEMO_PREFIX}CAM{i + 1:03d}", component.name if component else f"AI摄像头{i + 1}",
            "ai_camera", micro=micro, component=component, model="小包垃圾智能发现",
            protocol=Protocol.HTTP)  # fmt: skip
    with transaction.atomic():
        Device.objects.bulk_create(devices, batch_size=500)
    actions.devices.invalidate()
    created = {d.code: d for d in Device.objects.filter(code__startswith=DEMO_PREFIX)}

    # A day of history, in hourly batches, through the one ingestion action.
    start = now - timedelta(hours=24)
    messages: list[dict] = []

    def reading(code: str, minutes: float, values: dict, **extra) -> None:
        t = start + timedelta(minutes=minutes)
        messages.append({"id": f"demo-{code}-{int(minutes)}", "device": code,
                         "time": t.isoformat(), "values": values, **extra})  # fmt: skip

    storm = 21 * 60  # a storm in the last hours: levels are still high now
    for code in [c for c in created if "PS" in c]:
        base = rng.uniform(1.2, 1.8)
        peak = rng.uniform(2.4, 3.7)
        for m in range(0, 24 * 60, 10):
            k = max(0.0, 1 - abs(m - storm - 90) / 150)
            rain = round(max(0.0, 60 * k + rng.uniform(-2, 2)), 1)
            level = round(base + (peak - base) * k + rng.uniform(-0.03, 0.03), 2)
            running = min(4, int(k * 5))
            reading(code, m, {"water_level": level, "rainfall": rain, "pumps_running": running,
                              **{f"pump_{p}": p <= running for p in range(1, 5)}})  # fmt: skip
    for n, code in enumerate(c for c in created if "WQ" in c):
        foul = n == len(RIVERS) - 1  # 界浜 turns 黑臭 in the night
        for m in range(0, 24 * 60, 60):
            night = foul and 6 * 60 <= m <= 14 * 60
            reading(code, m, {
                "ph": round(rng.uniform(6.8, 7.8), 2),
                "do": round(rng.uniform(0.1, 0.8) if night else rng.uniform(4.5, 7.5), 2),
                "nh3n": round(rng.uniform(9, 16) if night else rng.uniform(0.3, 1.4), 2),
                "transparency": round(rng.uniform(6, 20) if night else rng.uniform(30, 60)),
                "orp": round(rng.uniform(-260, -60) if night else rng.uniform(80, 220)),
                "turbidity": round(rng.uniform(5, 40), 1),
                "temperature": round(18 + 4 * math.sin(m / 1440 * 2 * math.pi), 1),
            })  # fmt: skip
    gas_codes = sorted(c for c in created if "GS" in c)
    for i, code in enumerate(gas_codes):
        leak = i == 0
        for m in range(0, 24 * 60, 30):
            lel = rng.uniform(0, 3)
            if leak and 20 * 60 <= m <= 20 * 60 + 60:
                lel = 58.0
            reading(code, m, {"lel": round(lel, 1), "alarm": lel >= 50})
    for i, code in enumerate(sorted(c for c in created if "EL" in c)):
        for m in range(0, 24 * 60, 60):
            reading(code, m, {"ebike": (i % 3 == 0 and m in (8 * 60, 19 * 60))})
    events = ["小包垃圾", "小包垃圾", "暴露垃圾", "占道经营", "乱停车", "人员聚集"]
    cam_codes = sorted(c for c in created if "CAM" in c)
    detections = 0
    for i, code in enumerate(cam_codes):
        if i % 4:
            continue
        event = events[(i // 4) % len(events)]
        confidence = round(rng.uniform(0.65, 0.97), 2)
        # Most detections during the day; every fifth in the last 20 minutes (still active).
        minute = 24 * 60 - rng.randint(1, 20) if (i // 4) % 5 == 0 else rng.randint(6 * 60, 22 * 60)
        values = {"event": event, "confidence": confidence, "count": rng.randint(1, 6)}
        if confidence >= 0.8:
            snap = base64.b64encode(_snapshot(rng, code)).decode()
            values["snapshot"] = "data:image/jpeg;base64," + snap
        reading(code, minute, values)
        detections += 1
        if event == "小包垃圾" and i % 8 == 0 and minute + 20 < 24 * 60:  # a repeat, joins
            reading(code, minute + 20, {**values, "confidence": min(0.99, confidence + 0.02)})
    messages.sort(key=lambda m: m["time"])
    totals = {"stored": 0, "alarms": 0, "cases": 0}
    for i in range(0, len(messages), 2000):
        result = actions.ingest(messages[i : i + 2000], transport="internal", at=now)
        totals["stored"] += result.stored
        totals["alarms"] += result.alarms_raised
        totals["cases"] += len(result.cases)
    # Cameras and lifts report heartbeats (the simulator keeps them alive); everything that
    # reported is online now.
    silent = actions.check_silent_devices(now)
    return {
        "devices": len(created),
        "pump_stations": sum("PS" in c for c in created),
        "water_quality": sum("WQ" in c for c in created),
        "gas_detectors": len(gas_codes),
        "elevator_detectors": sum("EL" in c for c in created),
        "cameras": len(cam_codes),
        "observations": totals["stored"],
        "ai_detections": detections,
        "alarms": totals["alarms"],
        "cases": totals["cases"],
        "offline": silent["offline"],
    }
