"""The sensing back office renders and replays dead letters."""

from __future__ import annotations

import json
from datetime import timedelta

from towngrid.sensing import actions
from towngrid.sensing.models import DeadLetter, Observation

from .conftest import T0, msg


def test_admin_pages_and_replay_action(client, make_device, user_factory):
    admin = user_factory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    gas = make_device("gas_detector")
    actions.ingest([msg(gas, 0, {"lel": 70})], transport="http", at=T0 + timedelta(hours=1))
    payload = json.dumps(msg(gas, 1, {"lel": 1}) | {"device": "GAS-LATER"})
    actions.ingest([payload], transport="http", at=T0 + timedelta(hours=1))
    for name in ("devicetype", "device", "rule", "alarm", "deadletter", "casepolicy"):
        response = client.get(f"/admin/sensing/{name}/")
        assert response.status_code == 200, name
    assert client.get(f"/admin/sensing/device/{gas.pk}/change/").status_code == 200
    dl = DeadLetter.objects.get()
    actions.create_device(
        actor=None, code="GAS-LATER", name="补登记", device_type="gas_detector",
        lng=121.5, lat=31.2, grid=gas.grid,
    )  # fmt: skip
    response = client.post(
        "/admin/sensing/deadletter/",
        {"action": "replay", "_selected_action": [dl.pk]},
        follow=True,
    )
    assert response.status_code == 200
    dl.refresh_from_db()
    assert dl.replay_result["stored"] == 1
    assert Observation.objects.filter(device__code="GAS-LATER").count() == 1


def test_cli(make_device, capsys):
    from django.core.management import call_command

    gas = make_device("gas_detector")
    actions.ingest([msg(gas, 0, {"lel": 2})], transport="http", at=T0 + timedelta(hours=1))
    call_command("sensing", "devices", "--type", "gas_detector")
    call_command("sensing", "rules", "--type", "gas_detector")
    call_command("sensing", "check-silent")
    out = capsys.readouterr().out
    assert gas.code in out and "lel_high" in out and "离线" in out
