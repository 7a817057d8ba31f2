"""The case pages: report, my queue, list, case page with its action forms, evaluation and
notifications. They render for the roles that use them, keep to the grid scope, show errors in
Chinese beside the fields without writing anything, and tell a user who lost a race what
happened.

They run against the Beicai demo town (tests/conftest.py) with the category catalogue installed.
"""

import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from towngrid.accounts.models import Department
from towngrid.cases import actions
from towngrid.cases.models import Attachment, Case, Category, Status
from towngrid.core.models import Notification
from towngrid.grids.models import GridNode, Level

pytestmark = pytest.mark.django_db


def jpeg(name="photo.jpg", colour=(200, 80, 40)) -> io.BytesIO:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
    buf.seek(0)
    buf.name = name
    return buf


@pytest.fixture
def town(demo_town):
    """The demo town with the category catalogue (installed inside the test's transaction)."""
    from towngrid.cases.catalogue import install_catalogue

    if not Category.objects.exists():
        install_catalogue()
    return demo_town


def category(name="暴露垃圾") -> Category:
    return Category.objects.filter(name=name).first() or Category.objects.order_by("pk").first()


def point_in(node: GridNode) -> tuple[float, float]:
    from shapely.geometry import shape

    from towngrid.grids.views import geometry_of

    p = shape(geometry_of(node.boundary)).representative_point()
    return p.x, p.y


def make_case(town, *, node=None, actor="gridworker", source="grid_worker", cat=None) -> Case:
    node = node or town.micro_grid
    lng, lat = point_in(node)
    return actions.report(
        category=cat or category(),
        description="绿地旁堆放生活垃圾约两袋",
        lng=lng,
        lat=lat,
        source=source,
        actor=town.user(actor) if isinstance(actor, str) else actor,
        address="测试路 1 号",
    )


def other_micro(town) -> GridNode:
    """A micro-grid outside the demo grid worker's (and the area login's) subtree."""
    return (
        GridNode.objects.filter(level=Level.MICRO)
        .exclude(code__startswith=town.area.code)
        .exclude(boundary=None)
        .order_by("code")
        .first()
    )


def dispatched(town, case: Case, department: Department | None = None) -> Case:
    actions.accept(case, actor=town.user("ops_registrar"))
    case.refresh_from_db()
    if case.status == Status.VERIFYING:
        actions.verify(case, actor=town.user("grid_worker"), valid=True)
    actions.open_case(case, actor=town.user("ops_shift_lead"))
    dept = department or town.user("dept_handler").department
    actions.dispatch(case, actor=town.user("ops_dispatcher"), department=dept)
    case.refresh_from_db()
    return case


def text(response) -> str:
    return response.content.decode()


# --- every page renders for the roles that use it ------------------------------------------------


ROLES = [
    "grid_worker",
    "grid_leader",
    "community_staff",
    "area_staff",
    "ops_registrar",
    "ops_shift_lead",
    "ops_dispatcher",
    "dept_handler",
    "town_leader",
]


@pytest.mark.parametrize("role", ROLES)
def test_pages_render_for_each_role(town, login_as, role):
    case = make_case(town)
    client = login_as(role)
    for url in [
        reverse("cases:list"),
        reverse("cases:queue"),
        reverse("cases:evaluation") + "?period=2023H1",
        reverse("notifications:list"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, (role, url, response.status_code)
    report = client.get(reverse("cases:report"))
    expected = 403 if role == "dept_handler" else 200
    assert report.status_code == expected
    # The nav has the case entries and the bell.
    home = text(client.get("/"))
    for label in ["案件", "我的待办", "考核评价", 'data-testid="bell"']:
        assert label in home
    assert ("上报问题" in home) == (role != "dept_handler")
    detail = client.get(reverse("cases:detail", args=[case.number]))
    # The department sees the case only once it is dispatched to it.
    assert detail.status_code == (404 if role == "dept_handler" else 200)


def test_anonymous_is_sent_to_login(client, town):
    case = make_case(town)
    for url in [
        reverse("cases:list"),
        reverse("cases:report"),
        reverse("cases:queue"),
        reverse("cases:evaluation"),
        reverse("cases:detail", args=[case.number]),
        reverse("notifications:list"),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_resident_reports_but_sees_no_case_list(town, login_as, user_factory):
    resident = town.user("resident")
    client = login_as(resident)
    assert client.get(reverse("cases:report")).status_code == 200
    home = text(client.get("/"))
    assert "上报问题" in home
    assert 'data-testid="nav-cases"' not in home


# --- scope ---------------------------------------------------------------------------------------


def test_grid_worker_gets_404_outside_subtree(town, login_as):
    inside = make_case(town)
    outside = make_case(town, node=other_micro(town), actor="ops_registrar", source="operations")
    client = login_as("grid_worker")
    assert client.get(reverse("cases:detail", args=[inside.number])).status_code == 200
    assert client.get(reverse("cases:detail", args=[outside.number])).status_code == 404
    listed = text(client.get(reverse("cases:list")))
    assert inside.number in listed and outside.number not in listed
    # Acting on it is a 404 too, and changes nothing.
    response = client.post(
        reverse("cases:detail", args=[outside.number]),
        {"action": "accept", "accept-action": "accept", "accept-expected_version": 0},
    )
    assert response.status_code == 404
    outside.refresh_from_db()
    assert outside.status == Status.REPORTED
    # The town sees both.
    client = login_as("ops_registrar")
    assert client.get(reverse("cases:detail", args=[outside.number])).status_code == 200


def test_photos_are_served_through_the_scope(town, login_as):
    case = make_case(town)
    from towngrid.cases.media import attach_photo

    photo = attach_photo(case, jpeg(), "before", actor=town.user("grid_worker"))
    url = reverse("cases:photo", args=[case.number, photo.pk])
    thumb = reverse("cases:photo-variant", args=[case.number, photo.pk, "thumb"])
    client = login_as("grid_worker")
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert client.get(thumb).status_code == 200
    page = text(client.get(reverse("cases:detail", args=[case.number])))
    assert thumb in page and url in page
    assert "/media/" not in page  # never the public media URL
    # A grid worker elsewhere cannot fetch it, even knowing the URL.
    from towngrid.accounts.models import Role, User

    elsewhere = User.objects.create(
        username="gw-elsewhere", role=Role.objects.get(code="grid_worker"), scope=other_micro(town)
    )
    client = login_as(elsewhere)
    assert client.get(url).status_code == 404
    assert client.get(thumb).status_code == 404


def test_list_ignores_a_grid_outside_the_scope(town, login_as):
    make_case(town)
    outside = other_micro(town)
    client = login_as("grid_worker")
    response = client.get(reverse("cases:list"), {"grid": outside.code})
    assert response.status_code == 200
    assert outside.code not in text(response)


# --- the report page -----------------------------------------------------------------------------


def test_report_errors_are_chinese_and_nothing_is_written(town, login_as):
    client = login_as("grid_worker")
    before = Case.objects.count()
    response = client.post(reverse("cases:report"), {"description": ""})
    assert response.status_code == 200
    page = text(response)
    for message in ["请选择问题类别。", "请描述问题。", "请在地图上选点，或使用当前位置。"]:
        assert message in page
    assert Case.objects.count() == before


def test_report_outside_the_town_is_refused(town, login_as):
    client = login_as("grid_worker")
    before = Case.objects.count()
    response = client.post(
        reverse("cases:report"),
        {
            "category": category().pk,
            "description": "路灯不亮",
            "lng": "120.0",
            "lat": "30.0",
            "source": "grid_worker",
            "duplicates_checked": "on",
        },
    )
    assert response.status_code == 200
    assert "不在本镇网格范围内" in text(response)
    assert "路灯不亮" in text(response)  # the input is kept
    assert Case.objects.count() == before


def test_report_with_a_bad_photo_writes_nothing(town, login_as):
    client = login_as("grid_worker")
    lng, lat = point_in(town.micro_grid)
    before = Case.objects.count()
    fake = io.BytesIO(b"this is not an image")
    fake.name = "fake.jpg"
    response = client.post(
        reverse("cases:report"),
        {
            "category": category().pk,
            "description": "井盖缺失",
            "lng": lng,
            "lat": lat,
            "source": "grid_worker",
            "photos": [fake],
            "duplicates_checked": "on",
        },
    )
    assert response.status_code == 200
    assert 'data-testid="error-photos"' in text(response)
    assert Case.objects.count() == before


def test_report_creates_the_case_and_shows_the_receipt(town, login_as):
    client = login_as("grid_worker")
    lng, lat = point_in(town.micro_grid)
    response = client.post(
        reverse("cases:report"),
        {
            "category": category().pk,
            "description": "绿化带内有建筑垃圾",
            "lng": lng,
            "lat": lat,
            "address": "莲园路 1 号",
            "source": "grid_worker",
            "photos": [jpeg("a.jpg"), jpeg("b.jpg", (10, 120, 10))],
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    case = Case.objects.get(description="绿化带内有建筑垃圾")
    assert response["Location"] == reverse("cases:receipt", args=[case.number])
    assert case.reporter == town.user("grid_worker")
    assert case.grid_code.startswith(town.micro_grid.code)
    assert Attachment.objects.filter(case=case, kind="before").count() == 2
    receipt = text(client.get(response["Location"]))
    assert case.number in receipt and "上报成功" in receipt
    # Another user cannot read someone else's receipt.
    other = login_as("ops_dispatcher")
    assert other.get(reverse("cases:receipt", args=[case.number])).status_code == 404


def test_report_offers_nearby_duplicates_first(town, login_as):
    existing = make_case(town)
    client = login_as("grid_worker")
    data = {
        "category": existing.category_id,
        "description": "同一处垃圾",
        "lng": existing.lng + 0.0001,  # about 10 m away
        "lat": existing.lat,
        "source": "grid_worker",
    }
    response = client.post(reverse("cases:report"), data)
    assert response.status_code == 200
    page = text(response)
    assert existing.number in page and "这是同一个问题" in page
    assert not Case.objects.filter(description="同一处垃圾").exists()
    # The fragment the page asks for before submitting says the same.
    fragment = client.get(
        reverse("cases:report-duplicates"),
        {"category": existing.category_id, "lng": data["lng"], "lat": data["lat"]},
    )
    assert existing.number in text(fragment)
    # "Not the same problem": reported after all.
    response = client.post(reverse("cases:report"), {**data, "duplicates_checked": "on"})
    assert response.status_code == 302
    assert Case.objects.filter(description="同一处垃圾").exists()


def test_hotline_transfer_needs_its_ticket_number(town, login_as):
    client = login_as("ops_registrar")
    page = text(client.get(reverse("cases:report")))
    assert "12345 工单号" in page
    lng, lat = point_in(town.micro_grid)
    data = {
        "category": category().pk,
        "description": "市民来电反映噪声扰民",
        "lng": lng,
        "lat": lat,
        "source": "hotline",
        "duplicates_checked": "on",
    }
    response = client.post(reverse("cases:report"), data)
    assert "12345 转派的案件请填写工单号。" in text(response)
    assert not Case.objects.filter(description=data["description"]).exists()
    response = client.post(reverse("cases:report"), {**data, "source_ref": "2023060100123"})
    assert response.status_code == 302
    assert Case.objects.get(description=data["description"]).source_ref == "2023060100123"


# --- the case page and its actions -----------------------------------------------------------


def post_action(client, case, action, **fields):
    data = {"action": action, f"{action}-action": action}
    data[f"{action}-expected_version"] = fields.pop("version", case.version)
    for key, value in fields.items():
        data[f"{action}-{key}"] = value
    return client.post(reverse("cases:detail", args=[case.number]), data)


def test_actions_shown_follow_role_and_status(town, login_as):
    case = make_case(town, source="resident", actor="resident")
    url = reverse("cases:detail", args=[case.number])
    assert 'data-testid="action-accept"' in text(login_as("ops_registrar").get(url))
    assert 'data-testid="action-accept"' not in text(login_as("grid_worker").get(url))
    assert 'data-testid="case-actions"' not in text(login_as("town_leader").get(url))


def test_reason_is_required_in_chinese_and_input_kept(town, login_as):
    case = make_case(town)
    client = login_as("ops_shift_lead")
    actions.accept(case, actor=town.user("ops_registrar"))
    case.refresh_from_db()
    response = post_action(client, case, "reject", note="")
    assert response.status_code == 200
    assert "请填写理由。" in text(response)
    case.refresh_from_db()
    assert case.status == Status.VERIFIED


def test_conflict_shows_a_clear_message(town, login_as):
    case = dispatched(town, make_case(town))
    seen = case.version
    # Someone else in the department records progress first.
    actions.handle(case, actor=town.user("dept_handler"), note="已联系保洁")
    client = login_as("dept_handler")
    response = post_action(client, case, "handle", version=seen, note="现场已清理一半")
    assert response.status_code == 409
    page = text(response)
    assert "已被他人处理" in page and 'data-testid="conflict"' in page
    assert "现场已清理一半" in page  # the user's input is not lost
    assert case.events.filter(action="handle").count() == 1


def test_acting_on_a_case_moved_on_says_so(town, login_as):
    case = make_case(town, source="resident", actor="resident")
    version = case.version
    actions.accept(case, actor=town.user("ops_shift_lead"))
    client = login_as("ops_registrar")
    response = post_action(client, case, "accept", version=version)
    assert response.status_code == 409
    assert "不能再执行“受理”" in text(response)


def test_one_case_through_every_step_by_the_pages(town, login_as):
    case = make_case(town)
    handler = town.user("dept_handler")

    def step(role, action, **fields):
        case.refresh_from_db()
        response = post_action(login_as(role), case, action, **fields)
        assert response.status_code == 302, (action, text(response)[-3000:])
        case.refresh_from_db()

    step("ops_registrar", "accept")
    assert case.status == Status.VERIFIED  # a grid worker's own report needs no verification
    step("ops_shift_lead", "open")
    step("ops_dispatcher", "dispatch", department=handler.department_id)
    assert case.department_id == handler.department_id
    # The handler's queue has it, with its deadline.
    queue = text(login_as("dept_handler").get(reverse("cases:queue")))
    assert case.number in queue
    step("dept_handler", "handle", note="已安排保洁清运")
    step("dept_handler", "feedback", note="已清理完毕", photos=[jpeg("after.jpg")])
    assert case.status == Status.HANDLED
    step("grid_worker", "recheck", passed="1", note="现场已清理")
    step("ops_shift_lead", "close")
    assert case.status == Status.CLOSED
    page = text(login_as("grid_worker").get(reverse("cases:detail", args=[case.number])))
    assert "已结案" in page
    labels = re.findall(r'class="tl-label">([^<]+)<', page)
    assert labels == ["上报", "受理", "立案", "派遣", "处置", "处理反馈", "核查通过", "结案"]
    assert 'data-testid="photos-after"' in page


def test_recheck_failure_needs_a_reason_and_sends_back(town, login_as):
    case = dispatched(town, make_case(town))
    actions.feedback(case, actor=town.user("dept_handler"), note="已处理", photos=[jpeg()])
    case.refresh_from_db()
    client = login_as("grid_worker")
    response = post_action(client, case, "recheck", passed="0", note="")
    assert "核查不通过时请填写返工理由。" in text(response)
    response = post_action(client, case, "recheck", passed="0", note="仍有垃圾")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.rework_count == 1


def test_dispatch_defaults_to_the_category_department(town, login_as):
    case = make_case(town)
    actions.accept(case, actor=town.user("ops_registrar"))
    actions.open_case(case, actor=town.user("ops_shift_lead"))
    page = text(login_as("ops_dispatcher").get(reverse("cases:detail", args=[case.number])))
    default = case.category.default_department
    assert default is not None
    assert re.search(rf'<option value="{default.pk}" selected>', page)


# --- my queue and the list -----------------------------------------------------------------------


def test_queue_is_sorted_by_deadline_and_marks_overdue(town, login_as):
    late = make_case(town, source="resident", actor="resident")
    soon = make_case(town, source="resident", actor="resident")
    Case.objects.filter(pk=late.pk).update(step_deadline=timezone.now() - timedelta(hours=3))
    Case.objects.filter(pk=soon.pk).update(step_deadline=timezone.now() + timedelta(hours=30))
    page = text(login_as("ops_registrar").get(reverse("cases:queue")))
    assert page.index(late.number) < page.index(soon.number)
    item = page[page.index(f'data-number="{late.number}"') - 200 :][:400]
    assert "is-overdue" in item
    assert "已超期" in page


def test_list_filters_and_pages(town, login_as):
    a = make_case(town)
    b = make_case(town, source="resident", actor="resident")
    actions.accept(a, actor=town.user("ops_registrar"))
    client = login_as("ops_registrar")
    page = text(client.get(reverse("cases:list"), {"status": "reported"}))
    assert b.number in page and a.number not in page
    page = text(client.get(reverse("cases:list"), {"source": "resident"}))
    assert b.number in page and a.number not in page
    page = text(client.get(reverse("cases:list"), {"status": "no-such-status"}))
    assert "no-such-status" not in page
    response = client.get(reverse("cases:list"))
    markers = response.context["markers"]
    assert {m["n"] for m in markers} >= {a.number, b.number}


# --- evaluation and notifications ------------------------------------------------------------


def test_evaluation_page_and_export(town, login_as):
    client = login_as("town_leader")
    response = client.get(reverse("cases:evaluation"), {"period": "2023H1"})
    page = text(response)
    assert response.status_code == 200
    for title in ["区域评价", "部门评价", "网格员岗位评价", "城运中心岗位评价"]:
        assert title in page
    assert "2023-01-01" in page and "2023-06-30" in page
    export = client.get(
        reverse("cases:evaluation-export"), {"period": "2023H1", "grid": town.town.code}
    )
    assert export.status_code == 200
    assert export.content[:2] == b"PK"
    # A grid worker's evaluation is of their own grid, whatever is asked.
    page = text(login_as("grid_worker").get(reverse("cases:evaluation"), {"grid": town.town.code}))
    assert town.micro_grid.name in page


def test_notifications_bell_and_mark_read(town, login_as):
    user = town.user("ops_shift_lead")
    Notification.objects.filter(user=user).delete()
    Notification.objects.create(user=user, kind="test", title="案件 X 已超期", url="/cases/")
    Notification.objects.create(user=user, kind="test", title="案件 Y 申请延期")
    client = login_as(user)
    home = text(client.get("/"))
    assert re.search(r'data-testid="bell-count">2<', home)
    page = text(client.get(reverse("notifications:list")))
    assert "案件 X 已超期" in page and "2 条未读" in page
    response = client.post(reverse("notifications:read"), {"all": "1"})
    assert response.status_code == 302
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    assert 'data-testid="bell-count"' not in text(client.get("/"))
    # Marking another user's notification read does nothing.
    other = Notification.objects.create(user=town.user("ops_registrar"), kind="t", title="x")
    client.post(reverse("notifications:read"), {"id": str(other.pk)})
    other.refresh_from_db()
    assert other.read_at is None


def test_list_export_holds_the_listed_cases(town, login_as):
    from openpyxl import load_workbook

    inside = make_case(town)
    outside = make_case(town, node=other_micro(town), actor="ops_registrar", source="operations")
    response = login_as("grid_worker").get(reverse("cases:export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert inside.number in numbers and outside.number not in numbers
    assert sheet["A1"].value == "案件编号"
