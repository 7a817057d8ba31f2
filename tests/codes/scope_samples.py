"""Codes rows in the scope matrix's fixture town (tests/accounts/scope_world.py): in every
micro-grid a house with a live code (every other one in its first 楼组, with a revoked earlier
code too), a check-in, its colour state and a colour change, so the matrix can tell a leak from
an empty list on the codes, check-ins and colour endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

T0 = datetime(2023, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_samples(world) -> None:
    from django.contrib.contenttypes.models import ContentType

    from towngrid.codes import tokens
    from towngrid.codes.colour_models import ColourChange, ColourState
    from towngrid.codes.models import CheckIn, ObjectCode
    from towngrid.registry.models import House

    ct = ContentType.objects.get_for_model(House)
    for i, micro in enumerate(world.micro_grids):
        group = world.nodes[micro.code + "001"] if i % 2 else None
        house = House.objects.create(
            grid=micro,
            grid_code=micro.code,
            group=group,
            lng=121.5 + i * 0.001,
            lat=31.2,
            address=f"码矩阵路{i + 1}号",
            road="码矩阵路",
            number=str(i + 1),
        )
        common = {
            "content_type": ct,
            "object_id": house.pk,
            "grid": micro,
            "grid_code": micro.code,
            "group_code": group.code if group else "",
        }
        if group is not None:
            ObjectCode.objects.create(
                token=tokens.new_token(),
                serial=1,
                issued_at=T0,
                revoked_at=T0 + timedelta(days=1),
                revoke_reason="矩阵测试作废",
                **common,
            )
        code = ObjectCode.objects.create(
            token=tokens.new_token(), serial=2 if group else 1, issued_at=T0, **common
        )
        CheckIn.objects.create(
            content_type=ct,
            object_id=house.pk,
            code=code,
            user_name="矩阵网格员",
            at=T0 + timedelta(days=2),
            lng=house.lng,
            lat=house.lat,
            distance_m=0.0,
            grid=micro,
            grid_code=micro.code,
        )
        colour = ("green", "yellow", "red")[i % 3]
        ColourState.objects.create(
            content_type=ct,
            object_id=house.pk,
            colour_kind="house",
            grid_code=micro.code,
            label=house.address,
            colour=colour,
            rule_colour=colour,
            reasons=[],
            interval_days=21,
            computed_at=T0,
            created_at=T0,
            since=T0,
            last_patrol_at=T0 + timedelta(days=2),
            patrol_due_at=T0 + timedelta(days=23),
        )
        ColourChange.objects.create(
            content_type=ct,
            object_id=house.pk,
            grid_code=micro.code,
            from_colour="",
            to_colour=colour,
            reasons=[],
            at=T0,
            cause="rule",
        )
    from .test_colour_support import make_colour_samples

    make_colour_samples(world)
