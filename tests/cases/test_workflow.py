"""The case workflow through the actions: every step, refusals, rework, sendback, extension,
park, reopen, merge. Runs in the demo town (real grid boundaries, a login per role)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from towngrid.cases import actions, queries
from towngrid.cases.errors import CaseError
from towngrid.cases.models import Case, CaseEvent, CaseReporter, Source, Status, Step
from towngrid.core.models import AuditEvent, Notification

SH = ZoneInfo("Asia/Shanghai")
# Wednesday 1 March 2023, 09:30 in Beicai: a plain working day.
T0 = datetime(2023, 3, 1, 9, 30, tzinfo=SH)
CATEGORY = "E0102"  # 事件 · 市容环境 · 暴露垃圾: 4 working hours to handle, after-photo required


def png(name: str = "after.png") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 160, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def catalogue(db):
    from towngrid.cases import timelimits
    from towngrid.cases.catalogue import install_catalogue

    install_catalogue()
    timelimits.clear_cache()
    actions._category_cache.clear()
    ensure_case_capabilities()


def ensure_case_capabilities() -> None:
    """The roles' case capabilities come from migration cases/0002; a transactional test that
    flushed the database takes them with it (the demo build restores the roles only)."""
    from towngrid.accounts.models import Role
    from towngrid.accounts.roles import DEFAULT_ROLES

    defaults = {code: caps for code, _name, _kind, caps, _desc in DEFAULT_ROLES}
    for role in Role.objects.filter(code__in=defaults):
        wanted = set(role.capabilities or []) | set(defaults[role.code])
        if wanted != set(role.capabilities or []):
            role.capabilities = sorted(wanted)
            role.save(update_fields=["capabilities"])


@pytest.fixture
def town(demo_town, catalogue):
    return demo_town


@pytest.fixture
def users(town, demo_user):
    return {
        role: demo_user(role)
        for role in [
            "ops_registrar",
            "ops_shift_lead",
            "ops_dispatcher",
            "dept_handler",
            "grid_worker",
            "grid_leader",
            "resident",
            "community_staff",
        ]
    }


@pytest.fixture
def point(town):
    """A point inside the demo grid worker's micro-grid."""
    micro = town.micro_grid
    return micro.centroid_lng, micro.centroid_lat


@pytest.fixture
def outside_point(town):
    """A point inside the town but in a micro-grid other than the demo grid worker's."""
    from towngrid.grids.models import GridNode

    other = (
        GridNode.objects.filter(level=4, code__startswith=town.town.code)
        .exclude(code__startswith=town.community.code)
        .order_by("code")
        .first()
    )
    return other.centroid_lng, other.centroid_lat


def new_case(point, actor, *, source=Source.RESIDENT, at=T0, **extra) -> Case:
    return actions.report(
        category=extra.pop("category", CATEGORY),
        description=extra.pop("description", "路边垃圾堆放未清运"),
        lng=point[0],
        lat=point[1],
        source=source,
        actor=actor,
        address="北蔡镇测试路 1 号",
        at=at,
        **extra,
    )


def to_dispatched(case: Case, u: dict, at=T0) -> Case:
    actions.accept(case, actor=u["ops_registrar"], at=at + timedelta(minutes=5))
    actions.verify(case, actor=u["grid_worker"], at=at + timedelta(minutes=20))
    actions.open_case(case, actor=u["ops_shift_lead"], at=at + timedelta(minutes=30))
    actions.dispatch(
        case,
        actor=u["ops_dispatcher"],
        department=u["dept_handler"].department,
        at=at + timedelta(minutes=40),
    )
    return case


# --- report ----------------------------------------------------------------------------------


def test_report_locates_numbers_and_times_the_case(users, point):
    case = new_case(point, users["resident"])
    assert case.status == Status.REPORTED and case.step == Step.ACCEPT
    assert case.number.startswith("BC2023-") and len(case.number) == len("BC2023-000001")
    assert case.grid.code.startswith(users["grid_worker"].scope.code)
    assert case.grid_code == case.grid.code
    assert case.step_deadline is not None and case.step_deadline > T0
    assert case.events.get().action == "report"
    assert CaseReporter.objects.get(case=case).user == users["resident"]
    assert AuditEvent.objects.for_object(case).filter(action="cases.report").count() == 1
    second = new_case(point, users["resident"])
    assert int(second.number[-6:]) == int(case.number[-6:]) + 1


def test_report_numbers_run_per_year(users, point):
    a = new_case(point, users["resident"], at=datetime(2022, 12, 31, 23, 0, tzinfo=SH))
    b = new_case(point, users["resident"], at=datetime(2023, 1, 1, 0, 30, tzinfo=SH))
    assert a.number.startswith("BC2022-") and b.number.startswith("BC2023-")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"description": "   "}, "invalid"),
        ({"description": "长" * 4001}, "invalid"),
        ({"category": "E9999"}, "invalid"),
        ({"source": Source.HOTLINE}, "invalid"),
        ({"source": "pigeon"}, "invalid"),
    ],
)
def test_report_refuses_bad_input(users, point, change, code):
    before = Case.objects.count()
    with pytest.raises(CaseError) as err:
        new_case(point, users["resident"], **change)
    assert err.value.code == code
    assert err.value.message  # a Chinese sentence for the user
    assert Case.objects.count() == before


def test_report_outside_the_town_is_refused(users):
    with pytest.raises(CaseError) as err:
        new_case((116.39, 39.9), users["resident"])  # Beijing
    assert err.value.code == "outside_town"
    assert "不在本镇" in err.value.message


def test_hotline_report_keeps_its_ticket_number(users, point):
    case = new_case(point, users["ops_registrar"], source=Source.HOTLINE, source_ref="12345-0001")
    assert case.source_ref == "12345-0001"


def test_report_accepts_gcj02_coordinates(users, point):
    from towngrid.grids.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(*point)
    case = actions.report(
        category=CATEGORY,
        description="高德坐标上报",
        lng=gx,
        lat=gy,
        crs="gcj02",
        source=Source.RESIDENT,
        actor=users["resident"],
        at=T0,
    )
    assert abs(case.lng - point[0]) < 1e-5 and abs(case.lat - point[1]) < 1e-5


# --- the whole way -------------------------------------------------------------------------------


def test_one_case_through_every_step(users, point):
    u = users
    case = new_case(point, u["resident"])
    actions.accept(case, actor=u["ops_registrar"], at=T0 + timedelta(minutes=5))
    assert case.status == Status.VERIFYING and case.step == Step.VERIFY
    actions.verify(case, actor=u["grid_worker"], valid=True, at=T0 + timedelta(minutes=20))
    assert case.status == Status.VERIFIED and case.is_valid_report is True
    actions.open_case(case, actor=u["ops_shift_lead"], at=T0 + timedelta(minutes=30))
    assert case.status == Status.OPENED and case.opened_at is not None
    actions.dispatch(case, actor=u["ops_dispatcher"], at=T0 + timedelta(minutes=40))
    # E0102's default department is the demo handler's (城运中心).
    assert case.department == u["dept_handler"].department
    assert case.handle_deadline == case.step_deadline
    actions.handle(case, actor=u["dept_handler"], note="已安排保洁", at=T0 + timedelta(hours=1))
    assert case.status == Status.DISPATCHED
    with pytest.raises(CaseError) as err:
        actions.feedback(case, actor=u["dept_handler"], note="已清运", at=T0 + timedelta(hours=2))
    assert err.value.code == "after_photo_required"
    actions.feedback(
        case, actor=u["dept_handler"], note="已清运", photos=[png()], at=T0 + timedelta(hours=2)
    )
    assert case.status == Status.HANDLED and case.handled_on_time is True
    actions.recheck(case, actor=u["grid_worker"], passed=True, at=T0 + timedelta(hours=3))
    assert case.status == Status.RECHECKED
    actions.close(case, actor=u["ops_shift_lead"], at=T0 + timedelta(hours=3, minutes=10))
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.closed_on_time is True
    assert case.version == 8
    steps = list(case.events.values_list("action", flat=True))
    assert steps == [
        "report",
        "accept",
        "verify",
        "open",
        "dispatch",
        "handle",
        "feedback",
        "recheck",
        "close",
    ]
    timeline = queries.timeline(case)
    assert [i["action"] for i in timeline if i["type"] == "event"] == steps
    assert any(i["attachments"] for i in timeline)
    # The reporter heard of every status change.
    notes = Notification.objects.filter(user=u["resident"], kind="case_progress")
    assert notes.count() == 7  # accept, verify, open, dispatch, feedback, recheck, close


def test_grid_worker_report_skips_verification(users, point):
    case = new_case(point, users["grid_worker"], source=Source.GRID_WORKER)
    actions.accept(case, actor=users["ops_registrar"], at=T0 + timedelta(minutes=5))
    assert case.status == Status.VERIFIED and case.is_valid_report is True
    assert case.events.last().data == {"skip_verify": True}


def test_verify_not_true_rejects(users, point):
    case = new_case(point, users["resident"])
    actions.accept(case, actor=users["ops_registrar"], at=T0)
    actions.verify(case, actor=users["grid_worker"], valid=False, at=T0 + timedelta(minutes=9))
    assert case.status == Status.REJECTED and case.is_valid_report is False
    assert case.events.last().note == "核实不属实"


def test_late_close_is_not_on_time(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    late = case.handle_deadline + timedelta(days=3)
    actions.feedback(case, actor=users["dept_handler"], photos=[png()], at=late)
    assert case.handled_on_time is False
    actions.recheck(case, actor=users["grid_worker"], at=late + timedelta(minutes=5))
    actions.close(case, actor=users["ops_shift_lead"], at=late + timedelta(minutes=10))
    assert case.closed_on_time is False


# --- refusals --------------------------------------------------------------------------------


def test_illegal_transition_is_refused_clearly(users, point):
    case = new_case(point, users["resident"])
    with pytest.raises(CaseError) as err:
        actions.close(case, actor=users["ops_shift_lead"])
    assert err.value.code == "transition_not_allowed"
    assert "待受理" in err.value.message and "结案" in err.value.message
    assert case.events.count() == 1


def test_capability_is_required(users, point):
    case = new_case(point, users["resident"])
    with pytest.raises(CaseError) as err:
        actions.accept(case, actor=users["dept_handler"])
    assert err.value.code == "forbidden"
    with pytest.raises(CaseError):
        actions.accept(case, actor=users["resident"])


def test_grid_worker_cannot_act_outside_the_subtree(users, outside_point):
    case = new_case(outside_point, users["resident"])
    actions.accept(case, actor=users["ops_registrar"], at=T0)
    with pytest.raises(CaseError) as err:
        actions.verify(case, actor=users["grid_worker"], at=T0 + timedelta(minutes=5))
    assert err.value.code == "forbidden" and "管辖范围" in err.value.message


def test_department_acts_only_on_its_own_cases(users, point, user_factory):
    case = to_dispatched(new_case(point, users["resident"]), users)
    other = user_factory(role="dept_handler", department="housing")
    with pytest.raises(CaseError) as err:
        actions.handle(case, actor=other, note="不是我们的")
    assert err.value.code == "forbidden"


def test_reason_is_required(users, point):
    case = new_case(point, users["resident"])
    with pytest.raises(CaseError) as err:
        actions.reject(case, actor=users["ops_shift_lead"], reason="  ")
    assert err.value.code == "reason_required"
    actions.reject(case, actor=users["ops_shift_lead"], reason="不属于城市管理范围")
    assert case.status == Status.REJECTED


def test_stale_expected_version_is_a_conflict(users, point):
    case = new_case(point, users["resident"])
    stale = Case.objects.get(pk=case.pk)
    actions.accept(case, actor=users["ops_registrar"], at=T0)
    with pytest.raises(CaseError) as err:
        actions.reject(stale, actor=users["ops_shift_lead"], reason="重复")
    assert err.value.code == "conflict"
    with pytest.raises(CaseError) as err:
        actions.verify(case, actor=users["grid_worker"], expected_version=0)
    assert err.value.code == "conflict"
    case.refresh_from_db()
    assert case.status == Status.VERIFYING and case.version == 1
    assert case.events.count() == 2


# --- loops and requests ---------------------------------------------------------------------------


def test_rework_goes_back_to_the_same_department(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    dept = case.department
    actions.feedback(case, actor=users["dept_handler"], photos=[png()], at=T0 + timedelta(hours=1))
    with pytest.raises(CaseError) as err:
        actions.recheck(case, actor=users["grid_worker"], passed=False, note="")
    assert err.value.code == "reason_required"
    actions.recheck(
        case,
        actor=users["grid_worker"],
        passed=False,
        note="垃圾仍在",
        at=T0 + timedelta(hours=2),
    )
    assert case.status == Status.DISPATCHED and case.department == dept
    assert case.rework_count == 1 and case.step == Step.HANDLE
    assert case.handle_deadline > T0 + timedelta(hours=2)
    assert Notification.objects.filter(kind="case_rework", user=users["dept_handler"]).exists()


def test_sendback_returns_to_dispatch(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    actions.sendback(case, actor=users["dept_handler"], reason="不属于本部门职责")
    assert case.status == Status.OPENED and case.department is None
    assert case.sendback_count == 1 and case.step == Step.DISPATCH
    assert case.events.last().department == users["dept_handler"].department
    actions.dispatch(case, actor=users["ops_dispatcher"], department="urban-management")
    assert case.department.code == "urban-management"


def test_extension_request_and_approval(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    before = case.step_deadline
    with pytest.raises(CaseError):
        actions.approve_extension(case, actor=users["ops_shift_lead"])
    actions.request_extension(
        case, actor=users["dept_handler"], amount=2, unit="work_days", reason="需协调物业"
    )
    assert case.pending_request == "extension"
    assert Notification.objects.filter(user=users["ops_shift_lead"], kind="case_request").exists()
    with pytest.raises(CaseError) as err:
        actions.request_park(case, actor=users["dept_handler"], reason="再申请")
    assert err.value.code == "request_pending"
    actions.approve_extension(case, actor=users["ops_shift_lead"])
    assert case.pending_request == ""
    assert case.step_deadline > before and case.handle_deadline == case.step_deadline
    # Two working days later on the calendar: at least 48 hours of wall time later.
    assert case.step_deadline - before >= timedelta(days=2)


def test_denied_request_keeps_the_deadline(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    before = case.step_deadline
    actions.request_extension(
        case, actor=users["dept_handler"], amount=4, unit="work_hours", reason="人手不足"
    )
    actions.deny_request(case, actor=users["ops_shift_lead"], reason="时限内可完成")
    assert case.pending_request == "" and case.step_deadline == before


def test_park_approval_and_reopen(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    actions.request_park(case, actor=users["dept_handler"], reason="需市级立项")
    actions.approve_park(case, actor=users["ops_shift_lead"])
    assert case.status == Status.PARKED and case.step == "" and case.step_deadline is None
    actions.reopen(case, actor=users["ops_shift_lead"], reason="已立项，重新处置")
    assert case.status == Status.OPENED and case.department is None
    assert case.step == Step.DISPATCH and case.step_deadline is not None


def test_merge_keeps_every_reporter(users, point, user_factory):
    first = new_case(point, users["resident"])
    neighbour = user_factory(role="resident")
    duplicate = new_case((point[0] + 0.0001, point[1]), neighbour, at=T0 + timedelta(minutes=3))
    found = queries.find_duplicates(
        duplicate.category, duplicate.lng, duplicate.lat, exclude=duplicate
    )
    assert [c.number for c in found] == [first.number] and found[0].distance_m < 50
    actions.merge(duplicate, first, actor=users["ops_registrar"])
    assert duplicate.status == Status.MERGED and duplicate.duplicate_of == first
    reporters = set(first.reporters.values_list("user_id", flat=True))
    assert reporters == {users["resident"].pk, neighbour.pk}
    assert Notification.objects.filter(user=neighbour, kind="case_merged").exists()
    # From now on both hear of progress.
    actions.accept(first, actor=users["ops_registrar"])
    assert Notification.objects.filter(user=neighbour, kind="case_progress").exists()
    assert first.events.filter(action="merged_in").exists()


def test_transition_dispatches_by_name(users, point):
    case = new_case(point, users["resident"])
    actions.transition(case, "accept", actor=users["ops_registrar"])
    actions.transition(case, "verify", actor=users["grid_worker"], valid=True)
    assert case.status == Status.VERIFIED
    with pytest.raises(CaseError) as err:
        actions.transition(case, "fly", actor=users["ops_shift_lead"])
    assert err.value.code == "invalid"


def test_available_actions_follow_role_and_state(users, point):
    case = new_case(point, users["resident"])
    names = lambda who: {a["action"] for a in queries.available_actions(case, users[who])}  # noqa: E731
    assert names("ops_registrar") == {"accept", "merge"}
    assert "reject" in names("ops_shift_lead")
    assert names("grid_worker") == set()
    assert names("resident") == set()


def test_queue_per_role(users, point):
    reported = new_case(point, users["resident"])
    dispatched = to_dispatched(new_case(point, users["resident"]), users)
    assert reported in queries.my_queue(users["ops_registrar"])
    assert dispatched not in queries.my_queue(users["ops_registrar"])
    assert dispatched in queries.my_queue(users["dept_handler"])
    assert reported not in queries.my_queue(users["dept_handler"])


def test_audit_event_per_action(users, point):
    case = to_dispatched(new_case(point, users["resident"]), users)
    actions_ = set(AuditEvent.objects.for_object(case).values_list("action", flat=True))
    assert {
        "cases.report",
        "cases.accept",
        "cases.verify",
        "cases.open",
        "cases.dispatch",
    } <= actions_
    assert CaseEvent.objects.filter(case=case).count() == 5
