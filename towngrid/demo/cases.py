"""Six months of cases for the Beicai demo town (January to June 2023), so that every queue,
list, map and evaluation figure looks like a working town.

Every case is made by the same actions a real one goes through (``cases.actions``), with each
step's time drawn against that step's real time limit on the working calendar: most steps finish
well inside their limit, some run late, some cases are reworked, sent back, extended, parked,
rejected or merged, and the last weeks of June leave cases open at every step. Deterministic for
a given seed.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from . import data

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD_START = datetime(2023, 1, 1, tzinfo=SHANGHAI)
PERIOD_END = datetime(2023, 7, 1, tzinfo=SHANGHAI)
DEFAULT_COUNT = 3000

# Where cases come from in a town like Beicai: grid workers find most of them.
SOURCE_WEIGHTS = {
    "grid_worker": 52,
    "resident": 12,
    "hotline": 14,
    "ai_camera": 9,
    "sensor": 3,
    "code_scan": 7,
    "operations": 3,
}

# The problems the seed report names come up most often; every other subclass now and then.
FREQUENT = {
    "暴露垃圾": 30,
    "小包垃圾": 26,
    "占道经营": 22,
    "车辆乱停放": 20,
    "非机动车乱停放": 18,
    "私搭乱建": 8,
    "违法搭建": 5,
    "群租": 6,
    "三合一场所": 3,
    "破坏承重墙": 2,
    "道路积水": 6,
    "雨污混接": 3,
    "燃气安全隐患": 4,
    "电动自行车进电梯": 6,
}


class DemoCasesError(RuntimeError):
    pass


@dataclass
class _Actors:
    registrar: object
    shift_lead: object
    dispatcher: object
    resident: object
    workers: dict  # micro-grid code -> grid worker user
    handlers: dict  # department id -> handler user


def demo_cases_exist() -> bool:
    from towngrid.cases.models import Case

    return Case.objects.filter(reported_at__lt=PERIOD_END, reported_at__gte=PERIOD_START).exists()


def build_demo_cases(
    *, count: int = DEFAULT_COUNT, seed: int = 2023, progress: bool = True
) -> dict:
    """Install the category catalogue, give every full-time grid worker and every department a
    login, and play ``count`` cases through the workflow. Needs the demo town."""
    from tqdm import tqdm

    from towngrid.cases.catalogue import install_catalogue
    from towngrid.cases.models import Category
    from towngrid.grids.models import GridNode

    rng = random.Random(seed)
    install_catalogue()
    actors = _staff_logins()
    categories = list(Category.objects.filter(active=True).select_related("default_department"))
    if not categories:
        raise DemoCasesError("no case categories installed")
    weights = [FREQUENT.get(c.name, 1) for c in categories]
    micro = list(
        GridNode.objects.filter(code__startswith=data.TOWN_CODE, level=4).only("code", "boundary")
    )
    boxes = [(m.code, _bbox(m.boundary)) for m in micro]
    photos = _photo_pool(rng)

    plans = sorted(
        (_plan(rng, categories, weights, boxes) for _ in range(count)), key=lambda p: p["at"]
    )
    outcomes: dict[str, int] = {}
    bar = tqdm(total=count, desc="演示案件", unit="件", disable=not progress)
    try:
        for plan in plans:
            with transaction.atomic():
                outcome = _play(plan, actors, rng, photos)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            bar.update(1)
    finally:
        bar.close()
    _quiet_history()
    return {"cases": count, "outcomes": dict(sorted(outcomes.items()))}


# --- logins for the people who work the cases ---------------------------------------------------


def _staff_logins() -> _Actors:
    """Every full-time grid worker and every department gets a demo login (password
    ``towngrid-demo``), so that each case is verified and re-checked by the worker of its own
    grid and handled by its own department, and evaluation by post has real people in it."""
    from towngrid.accounts.models import Department, Role, User
    from towngrid.grids.models import DutyAssignment, Level, Post

    roles = {r.code: r for r in Role.objects.all()}
    password = make_password(data.DEMO_PASSWORD)  # one hash for the one public demo password
    workers: dict[str, object] = {}
    duties = (
        DutyAssignment.objects.filter(
            post=Post.FULL_TIME, grid__code__startswith=data.TOWN_CODE, ended_on=None
        )
        .select_related("staff__user", "grid__parent")
        .order_by("grid__code")
    )
    by_staff: dict[int, list] = {}
    for duty in duties:
        by_staff.setdefault(duty.staff_id, []).append(duty)
    for staff_duties in by_staff.values():
        staff = staff_duties[0].staff
        grids = [d.grid for d in staff_duties]
        user = staff.user
        if user is None:
            # One micro-grid: scoped to it; several (always in one community): to the community.
            scope = grids[0] if len(grids) == 1 else grids[0].parent
            user = User.objects.create(
                username=f"wg{grids[0].code[-6:]}",
                password=password,
                display_name=staff.name,
                role=roles["grid_worker"],
                scope=scope,
                is_demo=True,
            )
            staff.user = user
            staff.save(update_fields=["user"])
        for grid in grids:
            assert grid.level == Level.MICRO
            workers.setdefault(grid.code, user)
    handlers = {}
    for dept in Department.objects.all():
        user = User.objects.filter(role__code="dept_handler", department=dept).first()
        if user is None:
            user = User.objects.create(
                username=f"dept-{dept.code}",
                password=password,
                display_name=f"{dept.short_name or dept.name}处置员",
                role=roles["dept_handler"],
                department=dept,
                is_demo=True,
            )
        handlers[dept.id] = user
    return _Actors(
        registrar=User.objects.get(username="registrar"),
        shift_lead=User.objects.get(username="shiftlead"),
        dispatcher=User.objects.get(username="dispatcher"),
        resident=User.objects.get(username="resident"),
        workers=workers,
        handlers=handlers,
    )


# --- one case's plan and its play-through -------------------------------------------------------


def _bbox(geometry: dict) -> tuple[float, float, float, float]:
    ring = geometry["coordinates"][0]
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _reported_at(rng: random.Random) -> datetime:
    """Mostly daytime, some evenings and nights (sensors and cameras never sleep)."""
    day = PERIOD_START + timedelta(days=rng.randrange((PERIOD_END - PERIOD_START).days))
    hour = rng.choices(
        range(24), weights=[1] * 7 + [4, 9, 10, 10, 8, 5, 8, 9, 9, 8, 6, 3] + [2] * 5
    )
    return day + timedelta(hours=hour[0], minutes=rng.randrange(60), seconds=rng.randrange(60))


def _plan(rng: random.Random, categories: list, weights: list, boxes: list) -> dict:
    category = rng.choices(categories, weights=weights)[0]
    code, (x0, y0, x1, y1) = rng.choice(boxes)
    # Inside the micro-grid, off its edges so the lookup is unambiguous.
    lng = x0 + (x1 - x0) * rng.uniform(0.1, 0.9)
    lat = y0 + (y1 - y0) * rng.uniform(0.1, 0.9)
    source = rng.choices(list(SOURCE_WEIGHTS), weights=list(SOURCE_WEIGHTS.values()))[0]
    fate = rng.choices(
        ["normal", "late", "rework", "sendback", "extension", "park", "invalid", "reject"],
        weights=[70, 12, 6, 3, 3, 1.5, 3, 1.5],
    )[0]
    return {
        "category": category,
        "micro": code,
        "lng": lng,
        "lat": lat,
        "source": source,
        "fate": fate,
        "at": _reported_at(rng),
    }


class _Clock:
    """The time of the next step: a fraction of the step's own limit after the last one."""

    def __init__(self, rng: random.Random, start: datetime, late: bool):
        self.rng = rng
        self.now = start
        self.late = late

    def step(self, case) -> datetime:
        start = self.now
        deadline = case.step_deadline
        span = timedelta(hours=2) if deadline is None or deadline <= start else deadline - start
        fraction = self.rng.uniform(1.05, 1.8) if self.late else self.rng.uniform(0.05, 0.85)
        self.now = start + span * fraction + timedelta(minutes=self.rng.randrange(1, 20))
        return self.now


def _play(plan: dict, actors: _Actors, rng: random.Random, photos: list[bytes]) -> str:
    """Take one case as far as its fate and the calendar allow. Returns the outcome's name."""
    from towngrid.cases import actions
    from towngrid.cases.models import Status

    source = plan["source"]
    worker = actors.workers.get(plan["micro"])
    reporter = {
        "grid_worker": worker,
        "resident": actors.resident,
        "operations": actors.registrar,
        "hotline": actors.registrar,
    }.get(source)
    category = plan["category"]
    case = actions.report(
        category=category,
        description=_description(rng, category.name),
        lng=plan["lng"],
        lat=plan["lat"],
        source=source,
        actor=reporter,
        address=f"北蔡镇 {category.name}现场",
        source_ref=f"12345-2023{rng.randrange(10**7):07d}" if source == "hotline" else "",
        at=plan["at"],
    )
    fate = plan["fate"]
    clock = _Clock(rng, plan["at"], late=fate == "late")

    def due(at: datetime) -> bool:
        """Whether a step taken at ``at`` still falls in the demo half-year: later ones are left
        for the operations centre to do, so June ends with cases open at every step."""
        return at < PERIOD_END

    at = clock.step(case)
    if not due(at):
        return "open:reported"
    actions.accept(case, actor=actors.registrar, at=at)
    if case.status == Status.VERIFYING:
        at = clock.step(case)
        if not due(at):
            return "open:verifying"
        if fate == "invalid":
            actions.verify(case, actor=worker, valid=False, note="现场核实，问题不存在", at=at)
            return "invalid"
        actions.verify(case, actor=worker, valid=True, at=at)
    at = clock.step(case)
    if not due(at):
        return "open:verified"
    if fate == "reject":
        actions.reject(
            case, actor=actors.shift_lead, reason="不属于城市管理范围，转相关渠道", at=at
        )
        return "rejected"
    actions.open_case(case, actor=actors.shift_lead, at=at)
    department = category.default_department
    handler = actors.handlers.get(department.id) if department else None
    if handler is None:
        return "open:opened"
    at = clock.step(case)
    if not due(at):
        return "open:opened"
    if fate == "sendback":
        wrong = next(d for d, u in actors.handlers.items() if d != department.id)
        actions.dispatch(case, actor=actors.dispatcher, department=wrong, at=at)
        at = clock.step(case)
        if not due(at):
            return "open:dispatched"
        actions.sendback(case, actor=actors.handlers[wrong], reason="不属于本部门职责", at=at)
        at = clock.step(case)
        if not due(at):
            return "open:opened"
    actions.dispatch(case, actor=actors.dispatcher, department=department, at=at)
    if fate == "park":
        at = clock.step(case)
        if not due(at):
            return "open:dispatched"
        actions.request_park(
            case, actor=handler, reason="涉及历史遗留产权问题，近期无法解决", at=at
        )
        actions.approve_park(case, actor=actors.shift_lead, at=at + timedelta(hours=1))
        return "parked"
    if fate == "extension":
        at = clock.now + timedelta(hours=1)
        actions.request_extension(
            case, actor=handler, amount=2, unit="work_days", reason="需协调产权单位", at=at
        )
        actions.approve_extension(case, actor=actors.shift_lead, at=at + timedelta(hours=1))
        clock.now = at + timedelta(hours=1)
    rounds = 2 if fate == "rework" else 1
    for n in range(rounds):
        at = clock.step(case)
        if not due(at):
            return "open:dispatched"
        actions.feedback(
            case,
            actor=handler,
            note="已处置完毕" if n == rounds - 1 else "已初步处置",
            photos=[ContentFile(rng.choice(photos), name="after.jpg")],
            at=at,
        )
        at = clock.step(case)
        if not due(at):
            return "open:handled"
        if n < rounds - 1:
            actions.recheck(case, actor=worker, passed=False, note="现场仍有残留，返工", at=at)
        else:
            actions.recheck(case, actor=worker, passed=True, at=at)
    at = clock.step(case)
    if not due(at):
        return "open:rechecked"
    actions.close(case, actor=actors.shift_lead, at=at)
    return {"late": "closed:late", "rework": "closed:reworked"}.get(fate, "closed")


DESCRIPTIONS = [
    "{name}，影响居民出行，请尽快处理。",
    "巡查发现{name}，已拍照取证。",
    "居民反映{name}，持续数日。",
    "{name}，位于小区出入口附近。",
    "沿街发现{name}，需相关部门处置。",
]


def _description(rng: random.Random, name: str) -> str:
    return rng.choice(DESCRIPTIONS).format(name=name)


def _photo_pool(rng: random.Random) -> list[bytes]:
    """A few small after-photos: real JPEGs (the media checks read the bytes), tiny to keep the
    demo quick and small on disk."""
    from PIL import Image, ImageDraw

    pool = []
    for _ in range(6):
        colour = tuple(rng.randrange(80, 220) for _ in range(3))
        image = Image.new("RGB", (160, 120), colour)
        draw = ImageDraw.Draw(image)
        for _ in range(5):
            x, y = rng.randrange(150), rng.randrange(110)
            draw.rectangle(
                [x, y, x + rng.randrange(10, 40), y + rng.randrange(5, 20)], fill=(90, 90, 90)
            )
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=70)
        pool.append(buffer.getvalue())
    return pool


def _quiet_history() -> None:
    """The notifications the half-year produced are history by now: mark them read, so the bell
    shows what is new, not three thousand old messages."""
    from towngrid.core.models import Notification

    Notification.objects.filter(read_at=None).update(read_at=timezone.now())
