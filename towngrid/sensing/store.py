"""The hot-path writes of ingestion in plain SQL (one prepared statement per batch via
``executemany``): observations, rule states and latest values. The ORM's bulk paths
(``bulk_create(update_conflicts=True)``, ``bulk_update``) cost more than the rest of a batch;
these statements are the same on SQLite and PostgreSQL (``ON CONFLICT … DO UPDATE``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections

from .models import LatestValue, Observation, RuleState
from .rules import State

CHUNK = 500
# Rows per multi-row INSERT: 5 parameters each, well under SQLite's 32,766 variables.
INSERT_CHUNK = 400


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _adapters():
    """(datetime → DB value, JSON → DB value) for the current connection. SQLite gets the exact
    text Django itself stores (naive UTC, ``str()``; ``json.dumps``) without the per-value
    field machinery; other backends go through the fields."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor == "sqlite":

        def when(value: datetime | None):
            return None if value is None else str(value.astimezone(UTC).replace(tzinfo=None))

        def blob(value) -> str:
            return json.dumps(value, ensure_ascii=False)

        return when, blob
    values_field = Observation._meta.get_field("values")
    return conn.ops.adapt_datetimefield_value, lambda v: values_field.get_db_prep_save(v, conn)


def insert_observations(
    rows: list[tuple[int, datetime, str, dict]], received: datetime
) -> set[tuple[int, str]]:
    """rows: (device id, observed at, message id, values). Returns the (device id, message id)
    pairs actually inserted: ``ON CONFLICT DO NOTHING`` skips a message already stored (by
    another process a moment ago, too) without failing the batch."""
    conn = connections[DEFAULT_DB_ALIAS]
    when, blob = _adapters()
    at = when(received)
    head = (
        f"INSERT INTO {_q(Observation._meta.db_table)} ({_q('device_id')}, {_q('observed_at')}, "
        f"{_q('received_at')}, {_q('message_id')}, {_q('values')}) VALUES "
    )
    tail = f" ON CONFLICT DO NOTHING RETURNING {_q('device_id')}, {_q('message_id')}"
    inserted: set[tuple[int, str]] = set()
    with conn.cursor() as cursor:
        for i in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[i : i + INSERT_CHUNK]
            params: list = []
            for device_id, t, mid, v in chunk:
                params.extend((device_id, when(t), at, mid, blob(v)))
            cursor.execute(head + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk)) + tail, params)
            inserted.update((row[0], row[1]) for row in cursor.fetchall())
    return inserted


def stored_pairs(pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (device id, message id) pairs are stored already (row-value IN: one index probe
    per pair on both databases)."""
    found: set[tuple[int, str]] = set()
    conn = connections[DEFAULT_DB_ALIAS]
    sql = (
        f"SELECT {_q('device_id')}, {_q('message_id')} FROM {_q(Observation._meta.db_table)} "
        f"WHERE ({_q('device_id')}, {_q('message_id')}) IN (VALUES "
    )
    with conn.cursor() as cursor:
        for i in range(0, len(pairs), CHUNK):
            chunk = pairs[i : i + CHUNK]
            params = [x for pair in chunk for x in pair]
            cursor.execute(sql + ", ".join(["(%s, %s)"] * len(chunk)) + ")", params)
            found.update((row[0], row[1]) for row in cursor.fetchall())
    return found


def load_states(device_ids: list[int]) -> dict[tuple[int, str], State]:
    out: dict[tuple[int, str], State] = {}
    for i in range(0, len(device_ids), CHUNK):
        rows = RuleState.objects.filter(device_id__in=device_ids[i : i + CHUNK]).values_list(
            "device_id", "rule_code", "consecutive", "since", "active", "last_value", "last_at"
        )
        for device_id, code, consecutive, since, active, last_value, last_at in rows:
            out[(device_id, code)] = State(consecutive, since, active, last_value, last_at)
    return out


def write_states(states: dict[tuple[int, str], State]) -> None:
    when, _ = _adapters()
    rows = []
    for (device_id, code), s in states.items():
        if not s.dirty:
            continue
        rows.append(
            (
                device_id,
                code,
                s.consecutive,
                when(s.since),
                s.active,
                s.last_value,
                when(s.last_at),
            )
        )
        s.dirty = False
    if not rows:
        return
    cols = ["device_id", "rule_code", "consecutive", "since", "active", "last_value", "last_at"]
    updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in cols[2:])
    sql = (
        f"INSERT INTO {_q(RuleState._meta.db_table)} ({', '.join(_q(c) for c in cols)}) "
        f"VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT ({_q('device_id')}, {_q('rule_code')}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def load_latest(device_ids: list[int]) -> dict[int, tuple[datetime, dict]]:
    out: dict[int, tuple[datetime, dict]] = {}
    for i in range(0, len(device_ids), CHUNK):
        rows = LatestValue.objects.filter(device_id__in=device_ids[i : i + CHUNK]).values_list(
            "device_id", "observed_at", "values"
        )
        for device_id, observed_at, values in rows:
            out[device_id] = (observed_at, values)
    return out


def write_latest(rows: list[tuple[int, datetime, dict]]) -> None:
    """Upsert the newest reading per device; a concurrent writer's newer value is kept."""
    if not rows:
        return
    when, blob = _adapters()
    table = _q(LatestValue._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({_q('device_id')}, {_q('observed_at')}, {_q('values')}) "
        f"VALUES (%s, %s, %s) ON CONFLICT ({_q('device_id')}) DO UPDATE SET "
        f"{_q('observed_at')} = excluded.{_q('observed_at')}, {_q('values')} = excluded.{_q('values')} "
        f"WHERE excluded.{_q('observed_at')} >= {table}.{_q('observed_at')}"
    )
    params = [(device_id, when(t), blob(v)) for device_id, t, v in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
