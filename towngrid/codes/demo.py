"""The codes part of the Beicai demo town (see towngrid/demo/extras.py for the contract).

1. A code for every coded registry object of the town (``actions.issue_many``, in bulk).
2. Its colour (``colours.recompute_many``), with the default rules installed if there are none.
3. A plausible patrol history over the past weeks: for each object one or two check-ins by the
   grid workers on duty in its grid, the last one drawn between 0 and 1.3 intervals of its
   colour ago, so that about a fifth of the objects are overdue today; most check-ins within
   a few dozen metres of the object, a few far away (flagged) or without a position. The last
   patrol is written onto the colour states and the colours recomputed, so the due dates follow
   from the check-ins. Times are relative to now (patrols are due against today's date).

Deterministic by ``seed`` apart from the tokens, which are random by design.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

BATCH = 2000
OVERDUE_SPREAD = 1.3  # last patrol drawn in [0, 1.3] intervals ago → ~23 % overdue
FAR_SHARE = 0.03
NO_POSITION_SHARE = 0.01
NOTES = ["例行巡查，无异常", "已入户走访", "楼道整洁", "已宣传消防安全", "已核对居住人数", ""]


def exists() -> bool:
    from towngrid.demo.data import TOWN_CODE

    from .models import ObjectCode

    return ObjectCode.objects.filter(grid_code__startswith=TOWN_CODE).exists()


def remove() -> None:
    """Delete the town's codes, check-ins and colour records (the registry goes after)."""
    from towngrid.demo.data import TOWN_CODE

    from . import colour_models as cm
    from .models import CheckIn, ObjectCode

    with transaction.atomic():
        for model in (CheckIn, ObjectCode, cm.ColourChange, cm.ColourState, cm.ColourOverride):
            model.objects.filter(grid_code__startswith=TOWN_CODE).delete()


def _bar(total: int, enabled: bool, label: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="个", leave=False, disable=not enabled)


def build(*, seed: int = 2023, scale: float = 1.0, progress: bool = False) -> dict:
    from towngrid.demo.data import TOWN_CODE

    from . import actions, colours, objects
    from .colour_models import ColourRuleSet
    from .rules_default import install_default_colour_rules

    rng = random.Random(seed)
    now = timezone.now()
    if not ColourRuleSet.objects.exists():
        install_default_colour_rules()
        colours.clear_rule_cache()
    querysets = [
        m._default_manager.filter(grid_code__startswith=TOWN_CODE).order_by("pk")
        for m in objects.coded_models()
    ]
    total = sum(qs.count() for qs in querysets)
    issued = 0
    with transaction.atomic():
        with _bar(total, progress, "门牌码") as bar:
            for qs in querysets:
                for chunk in _chunks(qs.only("pk", "grid", "grid_code", "group").iterator(BATCH)):
                    issued += actions.issue_many(chunk, at=now - timedelta(days=60))
                    bar.update(len(chunk))
        with _bar(total, progress, "三色评定") as bar:
            for qs in querysets:
                colours.recompute_many(qs, at=now, progress=bar.update)
        checkins = _history(querysets, rng=rng, now=now, progress=progress)
    from .colour_models import ColourState

    states = ColourState.objects.filter(grid_code__startswith=TOWN_CODE)
    counts = defaultdict(int)
    for colour in states.values_list("colour", flat=True):
        counts[colour] += 1
    return {
        "codes": issued,
        "checkins": checkins,
        "overdue": states.filter(patrol_due_at__lt=now).count(),
        "green": counts["green"],
        "yellow": counts["yellow"],
        "red": counts["red"],
    }


def _chunks(iterable, size: int = BATCH):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _walkers() -> dict[str, list[tuple[str, int | None]]]:
    """grid code → [(name, user id)] of the grid workers (or leaders) on duty there."""
    from towngrid.grids.queries import active_duties

    out: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for code, name, user_id, post in active_duties().values_list(
        "grid__code", "staff__name", "staff__user_id", "post"
    ):
        if post != "leader" or code not in out:
            out[code].append((name, user_id))
    return out


def _history(querysets, *, rng: random.Random, now, progress: bool) -> int:
    """Check-ins over the past weeks and the last patrol onto each colour state."""
    from django.contrib.contenttypes.models import ContentType

    from towngrid.registry.excel import insert_rows

    from .colour_models import ColourState
    from .models import CheckIn

    walkers = _walkers()
    written = 0
    total = sum(qs.count() for qs in querysets)
    with _bar(total, progress, "巡查记录") as bar:
        for qs in querysets:
            model = qs.model
            ct = ContentType.objects.get_for_model(model)
            for chunk in _chunks(qs.values_list("pk", "grid_id", "grid_code", "lng", "lat")):
                ids = [row[0] for row in chunk]
                states = {
                    s.object_id: s
                    for s in ColourState.objects.filter(content_type=ct, object_id__in=ids)
                }
                rows: list[CheckIn] = []
                touched: list[tuple] = []
                for pk, grid_id, grid_code, lng, lat in chunk:
                    state = states.get(pk)
                    interval = state.interval_days if state else 21
                    people = walkers.get(grid_code) or [("网格员", None)]
                    last = now - timedelta(days=rng.uniform(0, OVERDUE_SPREAD) * interval)
                    times = [last]
                    if rng.random() < 0.6:
                        times.append(last - timedelta(days=interval * rng.uniform(0.7, 1.0)))
                    for at in times:
                        name, user_id = rng.choice(people)
                        rows.append(_checkin(ct, pk, grid_id, grid_code, lng, lat, at, name,
                                             user_id, rng))  # fmt: skip
                    if state is not None:
                        touched.append((last, last + timedelta(days=interval), state.pk))
                insert_rows(CheckIn, rows)
                _set_patrols(touched)
                written += len(rows)
                bar.update(len(chunk))
    return written


def _set_patrols(rows: list[tuple]) -> None:
    """Write (last patrol, next due, state id) onto the colour states with one executemany:
    the engine's own rule (``colours._due``: last patrol + the colour's interval), without
    re-evaluating every object a second time (the demo's patrols carry no findings, so the
    colours stay as the first evaluation left them)."""
    from django.db import connection

    from .colour_models import ColourState

    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    table = connection.ops.quote_name(ColourState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET last_patrol_at = %s, patrol_due_at = %s WHERE id = %s",
            [(adapt(last), adapt(due), pk) for last, due, pk in rows],
        )


def _checkin(ct, pk, grid_id, grid_code, lng, lat, at, name, user_id, rng):
    from towngrid.registry.excel import new_row

    from .models import CheckIn

    roll = rng.random()
    position = None
    distance = None
    if lng is not None and lat is not None and roll >= NO_POSITION_SHARE:
        metres = (
            rng.uniform(150, 600) if roll < NO_POSITION_SHARE + FAR_SHARE else rng.uniform(3, 45)
        )
        bearing = rng.uniform(0, 2 * math.pi)
        dx, dy = metres * math.cos(bearing), metres * math.sin(bearing)
        position = (
            lng + dx / (111_320 * math.cos(math.radians(lat))),
            lat + dy / 110_574,
        )
        distance = round(metres, 1)
    return new_row(
        CheckIn,
        content_type_id=ct.pk,
        object_id=pk,
        code_id=None,
        user_id=user_id,
        user_name=name,
        at=at,
        lng=position[0] if position else None,
        lat=position[1] if position else None,
        accuracy_m=round(rng.uniform(5, 30)) if position else None,
        distance_m=distance,
        flagged_far=distance is not None and distance > 100,
        no_position=position is None,
        note=rng.choice(NOTES),
        findings=[],
        grid_id=grid_id,
        grid_code=grid_code,
    )
