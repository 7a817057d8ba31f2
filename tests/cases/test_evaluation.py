"""综合评价 on a small town whose every figure is worked out by hand below.

The fixture is built directly with the ORM (cases with explicit timestamps and CaseEvent rows);
the workflow actions are not needed to evaluate. Period: March 2023, [2023-03-01, 2023-04-01)
Asia/Shanghai.

Grid (T = 310115901):
  T  town ── A = T1 area ── A1 = T101 ── MA  = T101001 (w1 full-time), MA2 = T101002 (w3 leader)
          └─ B = T2 area ── B1 = T201 ── MB  = T201001 (w2 part-time)

Cases (gw = reported by a grid worker; "opened" = 立案 time; ✓/✗ = closed on time or late):

  c1  MA  gw w1   opened 03-01  closed 03-03 ✓            D1
  c2  MA  gw w1   opened 03-02  closed 03-10 ✗            D1
  c3  MA  resident opened 03-03 closed 03-09 ✓ (one rework) D1
  c4  MA2 hotline opened 03-04  dispatched (D1, sent back, re-dispatched late to D2),
                                step deadline 03-20 → overdue
  c5  MA  gw w1   opened 03-05  parked                     D2
  c6  MA  gw w1   rejected (invalid report), never opened
  c7  MA  gw w1   reported 02-25, opened 02-27 (before the period), closed 03-03 ✓  D1
  c8  MB  gw w2   opened 03-07  closed 03-12 ✓            D2
  c9  MB  sensor  opened 03-10  handled, step deadline 04-30 (not overdue at 04-01)  D2
  c10 MB  gw w2   verified, not opened yet (report undecided)
  c11 MB  gw w2   rejected (invalid)
  c12 MA  gw w1   merged into another case (left out of the reports)
  c13 MB  resident opened 03-06 closed 03-08 then reopened 03-09: open, deadline 03-10 → overdue
  c14 MA  gw w1   verified and marked valid, not opened yet
  c15 MB  operations, opened exactly at 04-01 00:00: outside the period
"""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import include, path
from openpyxl import load_workbook

from towngrid.accounts.models import Department
from towngrid.cases import evaluation
from towngrid.cases.evaluation import composite, evaluate, evaluation_xlsx, grade
from towngrid.cases.models import Case, CaseEvent, Category, CategoryClass
from towngrid.grids.models import DutyAssignment, GridNode, GridStaff

SH = ZoneInfo("Asia/Shanghai")
T = "310115901"
A, B = T + "1", T + "2"
A1, B1 = A + "01", B + "01"
MA, MA2, MB = A1 + "001", A1 + "002", B1 + "001"
START, END = date(2023, 3, 1), date(2023, 4, 1)

# The API views are served by this module's URLconf, so the tests do not depend on where the
# project's urls.py includes them.
urlpatterns = [path("api/v1/", include("towngrid.cases.api_evaluation_urls"))]
api_urls = pytest.mark.urls(__name__)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2023, month, day, hour, minute, tzinfo=SH)


class Town:
    pass


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Ten users per test: the production hasher (Argon2) would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def town(db, user_factory) -> Town:
    w = Town()
    nodes = {}
    for code, level, kind, parent in [
        (T, 1, "town", None),
        (A, 2, "area", T),
        (B, 2, "area", T),
        (A1, 3, "residential", A),
        (B1, 3, "village", B),
        (MA, 4, "micro", A1),
        (MA2, 4, "micro", A1),
        (MB, 4, "micro", B1),
    ]:
        nodes[code] = GridNode.objects.create(
            code=code, name=f"网格{code[-4:]}", level=level, kind=kind, parent=nodes.get(parent)
        )
    w.nodes = nodes
    w.d1 = Department.objects.create(code="d1", name="城管中队", sort=1)
    w.d2 = Department.objects.create(code="d2", name="绿化所", sort=2)
    w.d3 = Department.objects.create(code="d3", name="水务所", sort=3)  # nothing to do in March

    w.w1 = user_factory(role="grid_worker", scope=MA, username="w1")
    w.w2 = user_factory(role="grid_worker", scope=MB, username="w2")
    w.w3 = user_factory(role="grid_leader", scope=MA2, username="w3")
    for user, name, grid, post in [
        (w.w1, "王网格", MA, "full_time"),
        (w.w2, "李网格", MB, "part_time"),
        (w.w3, "张网格长", MA2, "leader"),
    ]:
        staff = GridStaff.objects.create(name=name, user=user)
        DutyAssignment.objects.create(staff=staff, grid=nodes[grid], post=post)
    w.reg = user_factory(role="ops_registrar", username="reg", display_name="受理员甲")
    w.reg2 = user_factory(role="ops_registrar", username="reg2", display_name="受理员乙")
    w.lead = user_factory(role="ops_shift_lead", username="lead", display_name="值班长")
    w.disp = user_factory(role="ops_dispatcher", username="disp", display_name="派遣员")
    w.h1 = user_factory(role="dept_handler", department=w.d1, username="h1")
    w.h2 = user_factory(role="dept_handler", department=w.d2, username="h2")
    w.resident = user_factory(role="resident", username="res")

    major = CategoryClass.objects.create(kind="event", code="01", name="市容环境")
    category = Category.objects.create(major=major, code="02", full_code="E0102", name="暴露垃圾")
    counter = iter(range(1, 100))

    def case(grid, source, reporter, reported, status, **fields):
        number = next(counter)
        return Case.objects.create(
            number=f"C{number:04d}",
            category=category,
            source=source,
            status=status,
            description="测试",
            lng=121.5,
            lat=31.2,
            grid=nodes[grid],
            grid_code=grid,
            reporter=reporter,
            reported_at=reported,
            **fields,
        )

    def ev(c, action, when, actor, on_time=None, dept=None, to_status=""):
        CaseEvent.objects.create(
            case=c, action=action, at=when, actor=actor, on_time=on_time, department=dept,
            to_status=to_status,
        )  # fmt: skip

    gw, res = "grid_worker", "resident"
    # c1
    c = case(MA, gw, w.w1, at(3, 1, 9), "closed", opened_at=at(3, 1), closed_at=at(3, 3),
             closed_on_time=True, department=w.d1)  # fmt: skip
    ev(c, "accept", at(3, 1, 9, 30), w.reg, True, to_status="verified")
    ev(c, "open", at(3, 1), w.lead, True)
    ev(c, "dispatch", at(3, 1, 11), w.disp, True, w.d1)
    ev(c, "feedback", at(3, 2), w.h1, True, w.d1)
    ev(c, "recheck", at(3, 2, 15), w.w1, True)
    ev(c, "close", at(3, 3), w.lead, True)
    # c2
    c = case(MA, gw, w.w1, at(3, 2, 9), "closed", opened_at=at(3, 2), closed_at=at(3, 10),
             closed_on_time=False, is_valid_report=True, department=w.d1)  # fmt: skip
    ev(c, "accept", at(3, 2, 9, 30), w.reg, True, to_status="verified")
    ev(c, "open", at(3, 2), w.lead, False)
    ev(c, "dispatch", at(3, 2, 11), w.disp, True, w.d1)
    ev(c, "feedback", at(3, 8), w.h1, False, w.d1)
    ev(c, "recheck", at(3, 9), w.w1, False)
    ev(c, "close", at(3, 10), w.lead, False)
    # c3: a resident's report, verified by w1, reworked once
    c = case(MA, res, w.resident, at(3, 3, 8), "closed", opened_at=at(3, 3), closed_at=at(3, 9),
             closed_on_time=True, is_valid_report=True, department=w.d1)  # fmt: skip
    ev(c, "accept", at(3, 3, 8, 30), w.reg, False, to_status="verifying")
    ev(c, "verify", at(3, 3, 9), w.w1, True, to_status="verified")
    ev(c, "open", at(3, 3), w.lead, True)
    ev(c, "dispatch", at(3, 3, 11), w.disp, True, w.d1)
    ev(c, "feedback", at(3, 5), w.h1, True, w.d1)
    ev(c, "rework", at(3, 6), w.w1, True)  # no department on the event: D1 had the case
    ev(c, "feedback", at(3, 8), w.h1, True, w.d1)
    ev(c, "recheck", at(3, 8, 15), w.w1, True)
    ev(c, "close", at(3, 9), w.lead, True)
    # c4: hotline, sent back by D1, re-dispatched (late) to D2, still open and overdue
    c = case(MA2, "hotline", None, at(3, 4, 8), "dispatched", opened_at=at(3, 4),
             step_deadline=at(3, 20), is_valid_report=True, department=w.d2)  # fmt: skip
    ev(c, "accept", at(3, 4, 8, 30), w.reg, True, to_status="verifying")
    ev(c, "verify", at(3, 4, 9), w.w1, False, to_status="verified")
    ev(c, "open", at(3, 4), w.lead, True)
    ev(c, "dispatch", at(3, 5, 9), w.disp, True, w.d1)
    ev(c, "sendback", at(3, 5, 15), w.h1)  # no department on the event: D1 sent it back
    ev(c, "dispatch", at(3, 6), w.disp, False, w.d2)
    # c5: parked
    c = case(MA, gw, w.w1, at(3, 5, 8), "parked", opened_at=at(3, 5), is_valid_report=True,
             department=w.d2)  # fmt: skip
    ev(c, "accept", at(3, 5, 8, 30), w.reg, True, to_status="verified")
    ev(c, "open", at(3, 5), w.lead, True)
    ev(c, "dispatch", at(3, 5, 11), w.disp, True, w.d2)
    ev(c, "approve_park", at(3, 7), w.lead)
    # c6: rejected
    c = case(MA, gw, w.w1, at(3, 6, 8), "rejected", is_valid_report=False)
    ev(c, "accept", at(3, 6, 8, 30), w.reg, True, to_status="verified")
    ev(c, "reject", at(3, 6, 9), w.lead)
    # c7: opened in February, handled, re-checked and closed in March
    c = case(MA, gw, w.w1, at(2, 25), "closed", opened_at=at(2, 27), closed_at=at(3, 3),
             closed_on_time=True, is_valid_report=True, department=w.d1)  # fmt: skip
    ev(c, "accept", at(2, 25, 11), w.reg, True, to_status="verified")
    ev(c, "open", at(2, 27), w.lead, True)
    ev(c, "dispatch", at(2, 27, 11), w.disp, True, w.d1)
    ev(c, "feedback", at(3, 2), w.h1, True)  # no department on the event: D1 (Feb dispatch)
    ev(c, "recheck", at(3, 3, 9), w.w1, True)
    ev(c, "close", at(3, 3), w.lead, True)
    # c8
    c = case(MB, gw, w.w2, at(3, 7, 8), "closed", opened_at=at(3, 7), closed_at=at(3, 12),
             closed_on_time=True, is_valid_report=True, department=w.d2)  # fmt: skip
    ev(c, "accept", at(3, 7, 8, 30), w.reg2, True, to_status="verified")
    ev(c, "open", at(3, 7), w.lead, True)
    ev(c, "dispatch", at(3, 7, 11), w.disp, True, w.d2)
    ev(c, "feedback", at(3, 10), w.h2, True, w.d2)
    ev(c, "recheck", at(3, 11), w.w2, True)
    ev(c, "close", at(3, 12), w.lead, True)
    # c9: sensor alarm, handled, awaiting re-check; its feedback's on-time flag is unknown
    c = case(MB, "sensor", None, at(3, 10, 8), "handled", opened_at=at(3, 10),
             step_deadline=at(4, 30), is_valid_report=True, department=w.d2)  # fmt: skip
    ev(c, "accept", at(3, 10, 8, 30), w.reg2, True, to_status="verifying")
    ev(c, "verify", at(3, 10, 9), w.w2, True, to_status="verified")
    ev(c, "open", at(3, 10), w.lead, True)
    ev(c, "dispatch", at(3, 10, 11), w.disp, True, w.d2)
    ev(c, "feedback", at(3, 12), w.h2, None, w.d2)
    # c10: accepted, not opened yet
    c = case(MB, gw, w.w2, at(3, 12, 8), "verified", step_deadline=at(3, 13))
    ev(c, "accept", at(3, 12, 8, 30), w.reg2, True, to_status="verified")
    # c11: rejected; the accept's on-time flag is unknown
    c = case(MB, gw, w.w2, at(3, 15, 8), "rejected", is_valid_report=False)
    ev(c, "accept", at(3, 15, 8, 30), w.reg, None, to_status="verified")
    ev(c, "reject", at(3, 15, 9), w.lead)
    # c12: merged duplicate
    case(MA, gw, w.w1, at(3, 4, 7), "merged")
    # c13: closed, then reopened: open again and overdue
    c = case(MB, res, w.resident, at(3, 6, 8), "opened", opened_at=at(3, 6),
             step_deadline=at(3, 10), is_valid_report=True, department=w.d2)  # fmt: skip
    ev(c, "accept", at(3, 6, 8, 30), w.reg, True, to_status="verifying")
    ev(c, "verify", at(3, 6, 9), w.w2, True, to_status="verified")
    ev(c, "open", at(3, 6), w.lead, True)
    ev(c, "dispatch", at(3, 6, 11), w.disp, True, w.d2)
    ev(c, "feedback", at(3, 7), w.h2, True, w.d2)
    ev(c, "recheck", at(3, 7, 15), w.w2, True)
    ev(c, "close", at(3, 8), w.lead, True)
    ev(c, "reopen", at(3, 9), w.lead)
    # c14: valid, not opened yet
    c = case(MA, gw, w.w1, at(3, 20, 8), "verified", is_valid_report=True)
    ev(c, "accept", at(3, 20, 8, 30), w.reg, True, to_status="verified")
    # c15: opened exactly at the period's end
    case(MB, "operations", None, at(3, 31, 23), "opened", opened_at=at(4, 1, 0),
         step_deadline=at(4, 2))  # fmt: skip
    return w


def result_for(root=T, **kw):
    return evaluate(START, END, root, as_of=at(5, 1), **kw)


def by(rows, attr, value):
    matches = [r for r in rows if getattr(r, attr) == value]
    assert len(matches) == 1, (value, rows)
    return matches[0]


# ---- areas ---------------------------------------------------------------------------------


def test_areas(town):
    r = result_for()
    assert [a.code for a in r.areas] == [A, B]
    a, b = r.areas

    # Area A: opened in March c1 c2 c3 c4 c5 (c7 was opened in February). c5 is parked and
    # left out: due 4. Closed c1 c2 c3 = 3, on time c1 c3 = 2 → 结案率 75 %, 按期结案率 50 %.
    # Overdue: c2 (closed late) + c4 (open, deadline 03-20) = 2.
    # Composite 50 × 0.6 + 75 × 0.4 = 60 → C.
    assert (a.due, a.closed, a.closed_on_time, a.parked, a.overdue) == (4, 3, 2, 1, 2)
    assert a.closure_rate == 0.75 and a.on_time_rate == 0.5
    assert a.score == 60 and a.grade == "C"

    # Area B: c8 c9 c13 (c15 opened at 04-01 00:00 is outside). Closed c8 on time.
    # Overdue: c13 (deadline 03-10); c9's deadline 04-30 is after the period → not overdue.
    # 1/3 and 1/3 → composite 33.33 → E.
    assert (b.due, b.closed, b.closed_on_time, b.parked, b.overdue) == (3, 1, 1, 0, 1)
    assert b.closure_rate == pytest.approx(1 / 3) and b.on_time_rate == pytest.approx(1 / 3)
    assert b.score == 33.33 and b.grade == "E"

    # Town: due 7, closed 4, on time 3, parked 1, overdue 3.
    # 结案率 4/7 = 57.14 %, 按期结案率 3/7 = 42.86 %; composite (60×3 + 40×4)/7 = 48.57 → D.
    t = r.total
    assert (t.code, t.due, t.closed, t.closed_on_time, t.parked, t.overdue) == (T, 7, 4, 3, 1, 3)
    assert t.closure_rate == pytest.approx(4 / 7) and t.on_time_rate == pytest.approx(3 / 7)
    assert t.score == 48.57 and t.grade == "D"


def test_areas_of_a_subtree_and_of_chosen_nodes(town):
    r = result_for(A)
    assert [a.code for a in r.areas] == [A1]
    assert (r.areas[0].due, r.areas[0].closed, r.areas[0].closed_on_time) == (4, 3, 2)
    assert r.total.code == A and r.total.due == 4

    nodes = [town.nodes[MA], town.nodes[MA2], town.nodes[MB]]
    rows = {a.code: a for a in result_for(nodes=nodes).areas}
    # MA: c1 c2 c3 due (c5 parked); MA2: c4; MB: c8 c9 c13.
    assert (rows[MA].due, rows[MA].closed_on_time, rows[MA].parked) == (3, 2, 1)
    assert (rows[MA2].due, rows[MA2].closed, rows[MA2].overdue) == (1, 0, 1)
    assert rows[MB].due == 3


def test_a_leaf_root_is_its_own_row_and_empty_areas_have_no_rates(town):
    r = result_for(MA2)
    assert [a.code for a in r.areas] == [MA2]
    empty = evaluate(date(2022, 1, 1), date(2022, 2, 1), T)
    for row in [empty.total, *empty.areas]:
        assert row.due == 0
        assert row.closure_rate is None and row.on_time_rate is None
        assert row.score is None and row.grade is None


# ---- departments ---------------------------------------------------------------------------


def test_departments(town):
    rows = result_for().departments
    assert [d.code for d in rows] == ["d1", "d2", "d3"]
    d1, d2, d3 = rows

    # D1: dispatched in March c1 c2 c3 c4 = 4, of which c4 was sent back → 回退率 25 %.
    # Handled (feedback) c1 c2 c3 c3 c7 = 5 (c7's feedback has no department: its February
    # dispatch was to D1), on time 4 → 按期处置率 80 %; one rework (c3) → 返工率 20 %.
    # Composite 80×0.6 + 80×0.2 + 75×0.2 = 79 → B.
    assert (d1.dispatched, d1.sent_back, d1.handled, d1.handled_on_time, d1.reworked) == (
        4, 1, 5, 4, 1,
    )  # fmt: skip
    assert d1.on_time_rate == 0.8 and d1.rework_rate == 0.2 and d1.sendback_rate == 0.25
    assert d1.score == 79 and d1.grade == "B"

    # D2: dispatched c4 (second) c5 c8 c9 c13 = 5, none sent back → 0 %. Handled c8 c9 c13 = 3;
    # c9's on-time flag is unknown → 2 of 2 on time, 100 %; no rework → 0/3 = 0 %. → 100, A.
    assert (d2.dispatched, d2.sent_back, d2.handled, d2.handled_on_time, d2.reworked) == (
        5, 0, 3, 2, 0,
    )  # fmt: skip
    assert d2.on_time_rate == 1 and d2.rework_rate == 0 and d2.sendback_rate == 0
    assert d2.score == 100 and d2.grade == "A"

    # D3 had nothing to do: every rate is "—", no score, no grade (not 0, not 100).
    assert d3.dispatched == d3.handled == 0
    assert d3.on_time_rate is None and d3.rework_rate is None and d3.sendback_rate is None
    assert d3.score is None and d3.grade is None


# ---- grid workers --------------------------------------------------------------------------


def test_grid_workers(town):
    rows = result_for().workers
    assert {r.username for r in rows} == {"w1", "w2", "w3"}
    w1, w2, w3 = (by(rows, "username", u) for u in ("w1", "w2", "w3"))

    # w1 reported in March c1 c2 c5 c6 c14 (c7 in February, c12 merged) = 5; valid: c1 (opened),
    # c2, c5, c14 = 4; invalid c6 → 有效上报率 80 %.
    assert (w1.name, w1.post, w1.post_label, w1.grids) == (
        "王网格",
        "full_time",
        "专职网格员",
        [MA],
    )
    assert (w1.reports, w1.valid_reports, w1.invalid_reports) == (5, 4, 1)
    assert w1.valid_rate == 0.8
    # Verified c3 (on time) and c4 (late) → 50 %.
    assert (w1.verified, w1.verified_on_time, w1.verify_rate) == (2, 1, 0.5)
    # Re-check outcomes: c1 ✓, c2 ✗, c3 rework ✓, c3 ✓, c7 ✓ → 4/5 = 80 %.
    assert (w1.rechecked, w1.rechecked_on_time, w1.recheck_rate) == (5, 4, 0.8)
    # Opened in March in MA: c1 c2 c3 c5; c3 came from a resident → 漏报率 1/4 = 25 %.
    assert (w1.grid_cases, w1.missed, w1.miss_rate) == (4, 1, 0.25)
    # 80×0.4 + 75×0.2 + 50×0.2 + 80×0.2 = 32 + 15 + 10 + 16 = 73 → C.
    assert w1.score == 73 and w1.grade == "C"

    # w2: reports c8 c10 c11 = 3; valid c8, invalid c11, c10 undecided → 1/2 = 50 %.
    # Verified c9 c13 on time → 100 %; re-checked c8 c13 on time → 100 %.
    # MB opened: c8 (gw), c9 (sensor), c13 (resident) → missed 2/3.
    # 50×0.4 + (1/3)×100×0.2 + 100×0.2 + 100×0.2 = 20 + 6.67 + 20 + 20 = 66.67 → C.
    assert (w2.reports, w2.valid_reports, w2.invalid_reports, w2.valid_rate) == (3, 1, 1, 0.5)
    assert (w2.verify_rate, w2.recheck_rate) == (1, 1)
    assert (w2.grid_cases, w2.missed) == (3, 2)
    assert w2.miss_rate == pytest.approx(2 / 3)
    assert w2.score == 66.67 and w2.grade == "C"

    # w3 (grid leader of MA2) did nothing: only the miss rate exists (c4 from the hotline: 1/1),
    # so the composite is (1 − 1) = 0 → E; the other rates are "—".
    assert (w3.post, w3.post_label) == ("leader", "网格长")
    assert w3.valid_rate is None and w3.verify_rate is None and w3.recheck_rate is None
    assert w3.miss_rate == 1 and w3.score == 0 and w3.grade == "E"

    # Sorted best first.
    assert [r.username for r in rows] == ["w1", "w2", "w3"]


def test_grid_workers_of_a_subtree(town):
    rows = result_for(B).workers
    assert [r.username for r in rows] == ["w2"]
    assert rows[0].grids == [MB]


# ---- operations centre ---------------------------------------------------------------------


def test_operations_centre(town):
    rows = result_for().operations
    assert [(r.post, r.username) for r in rows] == [
        ("registrar", "reg2"),
        ("registrar", "reg"),
        ("shift_lead", "lead"),
        ("dispatcher", "disp"),
    ]
    reg2, reg, lead, disp = rows

    # reg accepted c1 c2 c3 c4 c5 c6 c11 c13 c14 = 9 (the most: 业务量得分 100). c11's flag is
    # unknown: 8 timed, on time all but c3 → 7/8 = 87.5 %. Sent to verification: c3 ✗ c4 ✓
    # c13 ✓ → 2/3. Composite 100×0.25 + 66.67×0.4 + 87.5×0.35 = 25 + 26.67 + 30.63 = 82.29 → B.
    assert (reg.volume, reg.volume_score) == (9, 100)
    assert (reg.accepted, reg.accepted_timed, reg.accepted_on_time) == (9, 8, 7)
    assert reg.accept_rate == 0.875
    assert (reg.verify_dispatched, reg.verify_dispatched_on_time) == (3, 2)
    assert reg.verify_dispatch_rate == pytest.approx(2 / 3)
    assert reg.score == 82.29 and reg.grade == "B"

    # reg2 accepted c8 c9 c10 = 3, all on time; c9 went to verification, on time.
    # 业务量得分 3/9 = 33.33; 33.33×0.25 + 100×0.4 + 100×0.35 = 83.33 → B.
    assert (reg2.volume, reg2.volume_score, reg2.accept_rate, reg2.verify_dispatch_rate) == (
        3, 33.33, 1, 1,
    )  # fmt: skip
    assert reg2.score == 83.33 and reg2.grade == "B"

    # lead opened c1 c2 c3 c4 c5 c8 c9 c13 in March = 8, c2 late → 按时立案率 87.5 %; c13 was
    # later reopened → 准确立案率 7/8 = 87.5 %. Closed c1 c2 c3 c7 c8 c13 = 6, c2 late → 5/6.
    # 87.5×0.25 + 87.5×0.4 + 83.33×0.35 = 21.875 + 35 + 29.17 = 86.04 → B.
    assert (lead.opened, lead.opened_on_time, lead.opened_not_standing) == (8, 7, 1)
    assert lead.open_rate == 0.875 and lead.open_accuracy == 0.875
    assert (lead.closed, lead.closed_on_time) == (6, 5)
    assert lead.close_rate == pytest.approx(5 / 6)
    assert lead.volume_score is None
    assert lead.score == 86.04 and lead.grade == "B"

    # disp dispatched c1 c2 c3 c4 c4 c5 c8 c9 c13 = 9; the second c4 was late → 8/9; the first
    # c4 was sent back → 准确派遣率 (9 − 1)/9. 100×0.2 + 88.89×0.4 + 88.89×0.4 = 91.11 → A.
    assert (disp.dispatched, disp.dispatched_on_time, disp.sent_back) == (9, 8, 1)
    assert disp.dispatch_rate == pytest.approx(8 / 9)
    assert disp.dispatch_accuracy == pytest.approx(8 / 9)
    assert disp.score == 91.11 and disp.grade == "A"


# ---- grades and composites -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (100, "A"),
        (90, "A"),
        (89.99, "B"),
        (75, "B"),
        (74.99, "C"),
        (60, "C"),
        (59.99, "D"),
        (40, "D"),
        (39.99, "E"),
        (0, "E"),
        (None, None),
    ],
)
def test_grade_boundaries(score, expected):
    assert grade(score) == expected


def test_composite_uses_the_indicators_that_exist():
    weights = evaluation.WORKER_WEIGHTS
    full = {"valid_rate": 0.8, "miss_rate": 0.25, "verify_rate": 0.5, "recheck_rate": 0.8}
    assert composite(full, weights) == 73
    # No verification task: its 20 % is spread over the rest: (32 + 15 + 16) / 80 = 78.75.
    assert composite({**full, "verify_rate": None}, weights) == 78.75
    assert composite(dict.fromkeys(full), weights) is None
    assert evaluation.rate(0, 0) is None and evaluation.rate(0, 5) == 0


def test_period_must_be_ordered(town):
    with pytest.raises(ValueError):
        evaluate(END, START, T)


# ---- XLSX ----------------------------------------------------------------------------------


def test_xlsx_holds_the_figures(town):
    body = evaluation_xlsx(result_for())
    wb = load_workbook(io.BytesIO(body))
    assert wb.sheetnames[:4] == ["区域", "部门", "网格员", "城运中心"]

    ws = wb["区域"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["网格编码", "名称", "应结案数"]
    col = {h: i for i, h in enumerate(headers)}
    row_a = next(r for r in ws.iter_rows(min_row=2) if r[0].value == A)
    assert row_a[col["应结案数"]].value == 4
    assert row_a[col["结案率"]].value == 0.75
    assert row_a[col["按期结案率"]].value == 0.5
    assert row_a[col["按期结案率"]].number_format == "0.00%"
    assert row_a[col["等级"]].value == "C"

    ws = wb["部门"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["城管中队"][col["返工率"]].value == 0.2
    assert rows["水务所"][col["按期处置率"]].value == "—"

    ws = wb["网格员"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["王网格"][col["有效上报率"]].value == 0.8
    assert rows["王网格"][col["综合得分"]].value == 73

    ws = wb["城运中心"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    rows = {r[1].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["派遣员"][col["准确派遣率"]].value == pytest.approx(8 / 9)
    assert rows["派遣员"][col["等级"]].value == "A"


# ---- API and scope -------------------------------------------------------------------------

PARAMS = {"start": "2023-03-01", "end": "2023-04-01"}


@api_urls
def test_api_returns_the_figures(town, client):
    client.force_login(town.lead)
    response = client.get("/api/v1/evaluation/", {**PARAMS, "root": T})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["root"]["code"] == T
    assert data["total"]["due"] == 7
    assert data["areas"][0]["closure_rate"] == 0.75
    assert data["departments"][2]["on_time_rate"] is None
    assert data["weights"]["grid_worker"] == {
        "valid_rate": 40, "miss_rate": 20, "verify_rate": 20, "recheck_rate": 20,
    }  # fmt: skip
    # Without a root, a town role evaluates the town.
    assert client.get("/api/v1/evaluation/", PARAMS).json()["root"]["code"] == T


@api_urls
def test_api_export_is_an_xlsx_file(town, client):
    client.force_login(town.lead)
    response = client.get("/api/v1/evaluation/export.xlsx", {**PARAMS, "root": A})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb["区域"]["A2"].value == A1


@api_urls
def test_api_grid_worker_is_held_to_its_subtree(town, client):
    client.force_login(town.w1)
    # Default: the worker's own micro-grid.
    response = client.get("/api/v1/evaluation/", PARAMS)
    assert response.status_code == 200
    data = response.json()
    assert data["root"]["code"] == MA
    assert data["total"]["due"] == 3  # c1 c2 c3 (c5 parked)
    assert B not in response.content.decode() and MB not in response.content.decode()
    # Another area, an ancestor, an unknown code: all 404, alike.
    for root in (B, MB, T, A, "310115999"):
        for url in ("/api/v1/evaluation/", "/api/v1/evaluation/export.xlsx"):
            response = client.get(url, {**PARAMS, "root": root})
            assert response.status_code == 404, (url, root, response.status_code)
            assert response.json()["error"]["code"] == "not_found"


@api_urls
def test_api_department_user_sees_its_own_cases_only(town, client):
    client.force_login(town.h1)
    data = client.get("/api/v1/evaluation/", PARAMS).json()
    # D1's cases: c1 c2 c3 (c7 opened in February; c4 is D2's now).
    assert data["total"]["due"] == 3
    assert [d["code"] for d in data["departments"]] == ["d1"]


@api_urls
def test_api_refuses_users_without_data_scope_and_bad_input(town, client):
    client.force_login(town.resident)
    response = client.get("/api/v1/evaluation/", PARAMS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"

    client.force_login(town.lead)
    bad = [
        {"start": "2023-13-01", "end": "2023-04-01"},
        {"start": "2023-04-01", "end": "2023-03-01"},
        {"start": "2000-01-01", "end": "2023-04-01"},
    ]
    for params in bad:
        response = client.get("/api/v1/evaluation/", params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "invalid_parameter"

    client.logout()
    assert client.get("/api/v1/evaluation/", PARAMS).status_code in (401, 403)
