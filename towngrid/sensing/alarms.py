"""The alarm lifecycle inside one ingest batch (ThingsBoard's model).

At most one active alarm per (device, alarm type), enforced by a conditional unique constraint.
A repeat refreshes it (count, last seen, severity, details); a clear moves it to
cleared_unack / cleared_ack. ``AlarmBook`` holds the batch's active alarms in memory (loaded with
one query) and writes the changes at the end; new alarms are inserted at once so case policies
and the audit trail can point at them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from towngrid.core import audit
from towngrid.core.db import insert_row

from .models import ACTIVE_STATUSES, SEVERITY_RANK, Alarm, AlarmStatus, Device

UPDATE_FIELDS = ["severity", "status", "last_seen_at", "count", "details", "cleared_at", "version"]


def cleared_status(alarm: Alarm) -> str:
    return (
        AlarmStatus.CLEARED_ACK
        if alarm.status == AlarmStatus.ACTIVE_ACK
        else AlarmStatus.CLEARED_UNACK
    )


class AlarmBook:
    def __init__(self, device_ids: Iterable[int]) -> None:
        ids = list(device_ids)
        self.active: dict[tuple[int, str], Alarm] = {}
        if ids:
            for alarm in Alarm.objects.filter(device_id__in=ids, status__in=ACTIVE_STATUSES):
                self.active[(alarm.device_id, alarm.alarm_type)] = alarm
        self.changed: dict[int, Alarm] = {}
        self.raised: list[Alarm] = []
        self.cleared: list[Alarm] = []
        # Alarms raised or refreshed in this batch, with the values and snapshot that did it.
        self.touched: dict[int, tuple[Alarm, Device, dict, bytes | None]] = {}

    def has_active(self, device_id: int, alarm_type: str) -> bool:
        return (device_id, alarm_type) in self.active

    def fire(
        self,
        device: Device,
        *,
        alarm_type: str,
        name: str,
        severity: str,
        at: datetime,
        details: dict,
        values: dict,
        snapshot: bytes | None = None,
    ) -> Alarm:
        key = (device.pk, alarm_type)
        alarm = self.active.get(key)
        if alarm is None:
            alarm = Alarm(
                device=device,
                alarm_type=alarm_type,
                name=name[:100],
                severity=severity,
                status=AlarmStatus.ACTIVE_UNACK,
                started_at=at,
                last_seen_at=at,
                count=1,
                details=details,
                grid_id=device.grid_id,
                grid_code=device.grid_code,
            )
            insert_row(alarm)
            self.active[key] = alarm
            self.raised.append(alarm)
            audit.record(
                None,
                "sensing.alarm_raise",
                alarm,
                changes={"device": device.code, "type": alarm_type, "severity": severity},
            )
        else:
            alarm.count += 1
            if at > alarm.last_seen_at:
                alarm.last_seen_at = at
            if SEVERITY_RANK[severity] != SEVERITY_RANK[alarm.severity]:
                alarm.details = {**alarm.details, "previous_severity": alarm.severity}
                alarm.severity = severity
            alarm.details = {**alarm.details, **details}
            alarm.version += 1
            self.changed[alarm.pk] = alarm
        self.touched[alarm.pk] = (alarm, device, values, snapshot)
        return alarm

    def clear(self, device: Device, alarm_type: str, at: datetime, reason: str) -> Alarm | None:
        alarm = self.active.pop((device.pk, alarm_type), None)
        if alarm is None:
            return None
        alarm.status = cleared_status(alarm)
        alarm.cleared_at = at
        alarm.details = {**alarm.details, "cleared_by": reason}
        alarm.version += 1
        # Written at once, not at flush: the same type may be raised again later in this batch,
        # and the one-active-alarm constraint must see this one cleared first.
        write_alarms([alarm])
        self.changed.pop(alarm.pk, None)
        self.cleared.append(alarm)
        # Stays in ``touched``: an alarm raised and cleared within one batch (a short gas leak)
        # still gets its case.
        audit.record(
            None, "sensing.alarm_clear", alarm, changes={"status": alarm.status}, reason=reason
        )
        return alarm

    def flush(self) -> None:
        if self.changed:
            write_alarms(list(self.changed.values()))
            self.changed.clear()


def write_alarms(alarms: list[Alarm]) -> None:
    """UPDATE the lifecycle fields of many alarms with one prepared statement (``executemany``);
    ``bulk_update``'s CASE expressions cost more than the rest of a batch."""
    conn = connection
    meta = Alarm._meta
    fields = [meta.get_field(name) for name in UPDATE_FIELDS]
    quote = conn.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [f.get_db_prep_save(getattr(a, f.attname), conn) for f in fields] + [a.pk] for a in alarms
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql, rows)
