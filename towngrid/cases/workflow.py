"""The case workflow as data: which action moves a case from which status to which, who may
take it, and which step (with its time limit) the case enters.

GB/T 30428 / CJ/T 315 stages: 信息收集 (report) → 案卷建立 (accept) → 核实 (verify, on site by
the grid worker) → 立案 / 不予立案 (open / reject) → 任务派遣 (dispatch) → 任务处理 (handle,
repeatable notes and photos) → 处理反馈 (feedback) → 核查 (recheck, on site) → 结案 (close);
返工 (rework) sends a failed recheck back to the department; 回退 (sendback) returns a wrong
dispatch to the dispatcher; 延期 (extension) and 挂账 (park) are requested by the department and
approved by the shift lead; a closed or parked case can be reopened.

``actions.py`` is the only code that applies these transitions; it checks the actor's capability
(``Transition.capability``, a capability string on the actor's role) and grid/department scope.
"""

from dataclasses import dataclass

from .models import Status, Step


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change (handle notes, requests)
    capability: str
    step: str | None  # the step the case enters, whose time limit sets the new deadline
    needs_reason: bool = False


S = Status

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition(
            "accept", "受理", frozenset({S.REPORTED}), S.VERIFYING, "cases.accept", Step.VERIFY
        ),
        # A grid worker's own report needs no separate verification: accept goes straight to
        # VERIFIED (actions.accept decides by source).
        Transition(
            "verify", "核实", frozenset({S.VERIFYING}), S.VERIFIED, "cases.verify", Step.OPEN
        ),
        Transition("open", "立案", frozenset({S.VERIFIED}), S.OPENED, "cases.open", Step.DISPATCH),
        Transition(
            "reject",
            "不予立案",
            frozenset({S.REPORTED, S.VERIFYING, S.VERIFIED}),
            S.REJECTED,
            "cases.open",
            None,
            needs_reason=True,
        ),
        Transition(
            "dispatch", "派遣", frozenset({S.OPENED}), S.DISPATCHED, "cases.dispatch", Step.HANDLE
        ),
        Transition("handle", "处置", frozenset({S.DISPATCHED}), None, "cases.handle", None),
        Transition(
            "feedback",
            "处理反馈",
            frozenset({S.DISPATCHED}),
            S.HANDLED,
            "cases.handle",
            Step.RECHECK,
        ),
        Transition(
            "sendback",
            "回退",
            frozenset({S.DISPATCHED}),
            S.OPENED,
            "cases.handle",
            Step.DISPATCH,
            needs_reason=True,
        ),
        Transition(
            "recheck", "核查通过", frozenset({S.HANDLED}), S.RECHECKED, "cases.verify", Step.CLOSE
        ),
        Transition(
            "rework",
            "返工",
            frozenset({S.HANDLED, S.RECHECKED}),
            S.DISPATCHED,
            "cases.verify",
            Step.HANDLE,
            needs_reason=True,
        ),
        Transition("close", "结案", frozenset({S.RECHECKED}), S.CLOSED, "cases.close", None),
        Transition(
            "request_extension",
            "申请延期",
            frozenset({S.DISPATCHED}),
            None,
            "cases.handle",
            None,
            needs_reason=True,
        ),
        Transition(
            "approve_extension", "批准延期", frozenset({S.DISPATCHED}), None, "cases.approve", None
        ),
        Transition(
            "deny_request",
            "驳回申请",
            frozenset({S.DISPATCHED}),
            None,
            "cases.approve",
            None,
            needs_reason=True,
        ),
        Transition(
            "request_park",
            "申请挂账",
            frozenset({S.DISPATCHED}),
            None,
            "cases.handle",
            None,
            needs_reason=True,
        ),
        Transition(
            "approve_park", "批准挂账", frozenset({S.DISPATCHED}), S.PARKED, "cases.approve", None
        ),
        Transition(
            "reopen",
            "重新启用",
            frozenset({S.CLOSED, S.PARKED, S.REJECTED}),
            S.OPENED,
            "cases.close",
            Step.DISPATCH,
            needs_reason=True,
        ),
        Transition(
            "merge",
            "合并为重复",
            frozenset({S.REPORTED, S.VERIFYING, S.VERIFIED}),
            S.MERGED,
            "cases.accept",
            None,
        ),
    ]
}


def available_actions(status: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]
