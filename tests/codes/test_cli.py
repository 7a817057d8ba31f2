"""``towngrid codes issue|revoke|reissue|coverage`` (``plates`` is in test_plates.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from towngrid.codes import actions
from towngrid.codes.models import ObjectCode

from .support import *  # noqa: F403
from .support import MICRO, make_house


def run(*args) -> str:
    out = StringIO()
    call_command("codes", *args, stdout=out)
    return out.getvalue()


def test_issue_revoke_reissue(town):
    houses = [make_house() for _ in range(3)]
    assert "3 个" in run("issue", "--grid", MICRO)
    assert "0 个" in run("issue", "--grid", MICRO)
    code = ObjectCode.objects.get(object_id=houses[0].pk)
    out = run("reissue", code.token, "--reason", "门牌被涂改")
    new = ObjectCode.objects.get(object_id=houses[0].pk, revoked_at__isnull=True)
    assert new.token in out and new.serial == 2
    with pytest.raises(CommandError, match="已经作废"):
        run("revoke", code.token, "--reason", "x")
    with pytest.raises(CommandError, match="未找到"):
        run("revoke", "A" * 24, "--reason", "x")
    run("revoke", new.token, "--reason", "拆除")
    assert not ObjectCode.objects.filter(object_id=houses[0].pk, revoked_at=None).exists()


def test_coverage(town, worker):
    house = make_house()
    # Never patrolled before the 30-day window: due 21 days into it; patrolled on day 5.
    actions.check_in(
        house, actor=worker, lng=house.lng, lat=house.lat, at=timezone.now() - timedelta(days=25)
    )
    data = json.loads(run("coverage", "--grid", MICRO, "--json"))
    assert data == {"due": 1, "done": 1, "overdue": 0, "rate": 1.0}
    assert "覆盖率 100.0%" in run("coverage", "--grid", MICRO)
    with pytest.raises(CommandError):
        run("coverage", "--grid", MICRO, "--start", "2026-02-30")
