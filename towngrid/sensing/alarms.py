"""The alarm lifecycle inside one ingest batch (ThingsBoard's model).

At most one active alarm per (device, alarm type), enforced by a conditional unique constraint.
A repeat refreshes it (count, last seen, severity, details); a clear moves it to
cleared_unack / cleared_ack. ``AlarmBook`` holds the batch's active alarms in memory (loaded with
one query) and writes the changes at the end; new alarms are inserted at once so case policies
and the audit trail can point at them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import connection

from towngrid.core import audit
from towngrid.core.db import insert_row

from . import policies, store
from .models import ACTIVE_STATUSES, SEVERITY_RANK, Alarm, AlarmStatus, Device


def cleared_status(alarm: Alarm) -> str:
    return (
        AlarmStatus.CLEARED_ACK
        if alarm.status == AlarmStatus.ACTIVE_ACK
        else AlarmStatus.CLEARED_UNACK
    )


def load_active(device_ids: Iterable[int]) -> dict[tuple[int, str], Alarm]:
    """The active alarms of these devices, by (device id, alarm type)."""
    ids = list(device_ids)
    active: dict[tuple[int, str], Alarm] = {}
    quote = connection.ops.quote_name
    statuses = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    for i in range(0, len(ids), store.CHUNK):
        # Raw: a thousand ids through ``device_id__in`` cost more in the ORM's per-value
        # preparation than the query itself.
        sql = (
            f"SELECT * FROM {quote(Alarm._meta.db_table)} WHERE {quote('status')} IN "
            f"({statuses}) AND {quote('device_id')} IN ({store.id_list(ids[i : i + store.CHUNK])})"
        )
        for alarm in Alarm.objects.raw(sql, list(ACTIVE_STATUSES)):
            active[(alarm.device_id, alarm.alarm_type)] = alarm
    return active


class AlarmBook:
    def __init__(
        self,
        device_ids: Iterable[int] = (),
        *,
        active: dict[tuple[int, str], Alarm] | None = None,
    ) -> None:
        """The active alarms of ``device_ids`` (loaded), or ``active`` as given (the ingest
        state cache's)."""
        self.active = load_active(device_ids) if active is None else active
        # Each alarm's version as stored: writes check it (``write_alarms``), so an alarm that
        # someone else changed meanwhile (acknowledged, cleared) is never overwritten.
        self.base: dict[int, int] = {a.pk: a.version for a in self.active.values()}
        self.with_policy = policies.cache.alarm_types()
        self.changed: dict[int, Alarm] = {}
        self.cleared_unwritten: dict[tuple[int, str], Alarm] = {}
        # Refreshed alarms' latest details, not made yet (see ``fire``).
        self.pending: dict[int, Callable[[], dict]] = {}
        self.raised: list[Alarm] = []
        self.cleared: list[Alarm] = []
        # Alarms without a case that met a case policy at some reading of this batch: the
        # first such reading (values, snapshot, time) and the policy. Judged at each reading,
        # not at the end of the batch: a spike that eases (or clears) later in the same batch
        # still makes its case, exactly as if the readings had come one batch each.
        self.to_case: dict[int, tuple[Alarm, Device, dict, bytes | None, datetime, Any]] = {}

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
        details: dict | Callable[[], dict],
        values: dict,
        snapshot: bytes | None = None,
    ) -> Alarm:
        """Raise or refresh. ``details`` may be a function that makes them: a refresh only keeps
        the latest, made once at ``settle`` (an active alarm is refreshed by every reading past
        its threshold, and most refreshes are overtaken within the batch)."""
        key = (device.id, alarm_type)
        alarm = self.active.get(key)
        if alarm is None:
            if callable(details):
                details = details()
            cleared = self.cleared_unwritten.pop(key, None)
            if cleared is not None:
                # Raised again after a clear in this batch: the one-active-alarm constraint must
                # see that one cleared before this one is inserted.
                write_alarms([cleared], self.base)
                self.base[cleared.pk] = cleared.version
                self.changed.pop(cleared.pk, None)
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
            self.base[alarm.pk] = alarm.version
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
            if callable(details):
                self.pending[alarm.pk] = details
            else:
                self.pending.pop(alarm.pk, None)
                alarm.details = {**alarm.details, **details}
            alarm.version += 1
            self.changed[alarm.pk] = alarm
        if (
            alarm.case_id is None
            and alarm_type in self.with_policy
            and alarm.pk not in self.to_case
        ):
            policy = policies.matching_policy(alarm, values)
            if policy is not None:
                self.to_case[alarm.pk] = (alarm, device, values, snapshot, at, policy)
        return alarm

    def clear(self, device: Device, alarm_type: str, at: datetime, reason: str) -> Alarm | None:
        alarm = self.active.pop((device.id, alarm_type), None)
        if alarm is None:
            return None
        self._settle(alarm)
        alarm.status = cleared_status(alarm)
        alarm.cleared_at = at
        alarm.details = {**alarm.details, "cleared_by": reason}
        alarm.version += 1
        # Written at flush with the refreshes, or at once if the same type is raised again
        # later in this batch (``fire``).
        self.changed[alarm.pk] = alarm
        self.cleared_unwritten[(device.id, alarm_type)] = alarm
        self.cleared.append(alarm)
        # Stays in ``to_case``: an alarm raised and cleared within one batch (a short gas leak)
        # still gets its case.
        audit.record(
            None, "sensing.alarm_clear", alarm, changes={"status": alarm.status}, reason=reason
        )
        return alarm

    def _settle(self, alarm: Alarm) -> None:
        make = self.pending.pop(alarm.pk, None)
        if make is not None:
            alarm.details = {**alarm.details, **make()}

    def settle(self) -> None:
        """Make the details of every refreshed alarm (before anyone reads them)."""
        for alarm in self.changed.values():
            self._settle(alarm)

    def flush(self) -> None:
        self.settle()
        if self.changed:
            write_alarms(list(self.changed.values()), self.base)
            for alarm in self.changed.values():
                self.base[alarm.pk] = alarm.version
            self.changed.clear()
            self.cleared_unwritten.clear()


def write_alarms(alarms: list[Alarm], base: dict[int, int]) -> None:
    """UPDATE the lifecycle fields of many alarms in one statement per chunk (``store.write_rows``;
    ``bulk_update``'s CASE expressions and the fields' per-value preparation cost more than the
    rest of a batch), each only if its stored version is still ``base[pk]``: otherwise someone
    changed it meanwhile and ``store.StaleState`` is raised (the batch is redone from the
    database)."""
    when, blob, json_ph = store.adapters()
    quote = connection.ops.quote_name
    columns = ["severity", "status", "last_seen_at", "count", "details", "cleared_at", "version"]
    rows = [
        (
            a.pk,
            base[a.pk],
            a.severity,
            a.status,
            when(a.last_seen_at),
            a.count,
            blob(a.details),
            when(a.cleared_at),
            a.version,
        )
        for a in alarms
    ]
    table = quote(Alarm._meta.db_table)
    if connection.vendor == "sqlite":
        sets = ", ".join(f"{quote(c)} = %s" for c in columns)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {quote('id')} = %s AND {quote('version')} = %s",
                [(*row[2:], row[0], row[1]) for row in rows],
            )
            written = cursor.rowcount
    else:
        sets = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
        written = store.write_rows(
            f"UPDATE {table} SET {sets} FROM (",
            f"%s::bigint, %s::integer, %s, %s, %s::timestamptz, %s::integer, {json_ph}, "
            "%s::timestamptz, %s::integer",
            rows,
            f") AS v ({quote('id')}, base, {', '.join(quote(c) for c in columns)}) "
            f"WHERE {table}.{quote('id')} = v.{quote('id')} AND {table}.{quote('version')} = v.base",
        )
    if written != len(rows):
        raise store.StaleState("告警已被其他操作修改。")
