"""The big screen's alarm feed (``queries.recent_alarms``): active alarms of a grid subtree,
newest first, limited; cleared ones and other subtrees left out."""

from __future__ import annotations

from towngrid.sensing import actions
from towngrid.sensing.models import Alarm
from towngrid.sensing.queries import recent_alarms

from .conftest import msg


def test_recent_alarms_of_a_subtree(make_device, micro):
    pumps = [make_device("rain_pump_station") for _ in range(3)]
    for i, pump in enumerate(pumps):
        actions.ingest([msg(pump, i, {"water_level": 3.6})], transport="http")
    assert Alarm.objects.filter(status__startswith="active").count() == 3

    feed = recent_alarms(micro.code, limit=2)
    assert len(feed) == 2
    assert [row["severity"] for row in feed] == ["critical", "critical"]
    assert feed[0]["device"] == pumps[2].name  # newest first
    assert feed[0]["grid"] == micro.name and feed[0]["severity_label"]
    assert recent_alarms("310115999") == []
    assert recent_alarms(micro.code, limit=0) == []

    Alarm.objects.filter(device=pumps[2]).update(status="cleared_unack")
    assert pumps[2].name not in [row["device"] for row in recent_alarms(micro.code)]
