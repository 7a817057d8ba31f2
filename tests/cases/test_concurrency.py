# ruff: noqa: F811 - the shared fixtures are imported from test_workflow
"""Two people acting on one case at once: exactly one wins, the other gets a conflict and
nothing of theirs is written.

Optimistic concurrency: every transition is ``UPDATE … WHERE id = … AND version = <seen>``.
Shown three ways: a stale copy (the loser loaded the case before the winner wrote), a stale
``expected_version`` through the API, and two threads with their own database connections
released at the same instant (PostgreSQL: row lock, then the re-checked WHERE fails; SQLite:
BEGIN IMMEDIATE serialises the writers, the second finds the version moved).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from towngrid.cases import actions
from towngrid.cases.errors import CaseError
from towngrid.cases.models import Case, CaseEvent, Status
from towngrid.core.models import AuditEvent

from .test_workflow import T0, catalogue, new_case, point, town, users  # noqa: F401


def test_stale_copy_loses(users, point):
    case = new_case(point, users["resident"])
    mine = Case.objects.get(pk=case.pk)
    theirs = Case.objects.get(pk=case.pk)
    actions.accept(mine, actor=users["ops_registrar"])
    with pytest.raises(CaseError) as err:
        actions.reject(theirs, actor=users["ops_shift_lead"], reason="重复上报")
    assert err.value.code == "conflict" and "刷新" in err.value.message
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.status == Status.VERIFYING and fresh.version == 1
    assert list(fresh.events.values_list("action", flat=True)) == ["report", "accept"]
    assert not AuditEvent.objects.for_object(fresh).filter(action="cases.reject").exists()


def test_two_api_clients_one_wins(users, point):
    case = new_case(point, users["resident"])
    url = f"/api/v1/cases/{case.number}/"
    registrar, lead = Client(), Client()
    registrar.force_login(users["ops_registrar"])
    lead.force_login(users["ops_shift_lead"])
    seen = registrar.get(url).json()["version"]
    assert lead.get(url).json()["version"] == seen
    first = registrar.post(
        url + "accept/", {"expected_version": seen}, content_type="application/json"
    )
    second = lead.post(
        url + "reject/",
        {"expected_version": seen, "reason": "不属实"},
        content_type="application/json",
    )
    assert first.status_code == 200
    assert second.status_code == 409 and second.json()["error"]["code"] == "conflict"
    assert Case.objects.get(pk=case.pk).status == Status.VERIFYING


def race(case: Case, contenders: dict) -> dict[str, str]:
    """Run each contender (name → (action, actor, kwargs)) in its own thread with its own
    database connection, released together by a barrier; the outcome per name."""
    barrier = threading.Barrier(len(contenders))
    results: dict[str, str] = {}

    def run(name, func, actor, kwargs):
        try:
            mine = Case.objects.select_related("category").get(pk=case.pk)
            barrier.wait(timeout=10)
            func(mine, actor=actor, **kwargs)
            results[name] = "ok"
        except CaseError as exc:
            results[name] = exc.code
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            results[name] = f"error: {exc!r}"
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(name, *spec)) for name, spec in contenders.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_threads_exactly_one_succeeds(town, users, point):
    """Two threads, each with its own connection, accept and reject the same case at the same
    instant. Repeated to give the race many chances to go wrong."""
    for _ in range(5):
        case = new_case(point, users["resident"])
        results = race(
            case,
            {
                "accept": (actions.accept, users["ops_registrar"], {}),
                "reject": (actions.reject, users["ops_shift_lead"], {"reason": "重复上报"}),
            },
        )
        assert sorted(results.values()) == ["conflict", "ok"], (connection.vendor, results)
        fresh = Case.objects.get(pk=case.pk)
        winner = next(name for name, result in results.items() if result == "ok")
        expected = Status.VERIFYING if winner == "accept" else Status.REJECTED
        assert fresh.status == expected and fresh.version == 1
        assert CaseEvent.objects.filter(case=case).count() == 2
