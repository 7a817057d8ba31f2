"""The hot-path reads and writes of ingestion in plain SQL: observations, rule states, latest
values, device last-seen. The ORM's bulk paths (``bulk_create(update_conflicts=True)``,
``bulk_update``, ``filter(pk__in=[...])`` over a thousand ids, model instances for rows that are
read once) cost more than the rest of a batch (bench/ingest.py). The statements are the same on
SQLite and PostgreSQL (``ON CONFLICT … DO UPDATE``, ``RETURNING``); JSON is written and read with
orjson, whose text both databases store as Django's JSONField would."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .models import Device, DeviceState, LatestValue, Observation, RuleState
from .rules import State

CHUNK = 500
# Rows per multi-row INSERT: 5 parameters each, well under SQLite's 32,766 variables.
INSERT_CHUNK = 400
LATEST_CHUNK = 2000  # 3 parameters each


def _conn():
    # The real connection object: every attribute read through the ``connection`` proxy costs a
    # thread-local lookup.
    return connections[DEFAULT_DB_ALIAS]


def _q(name: str) -> str:
    return _conn().ops.quote_name(name)


def json_text(value) -> str:
    return orjson.dumps(value).decode()


def adapters() -> tuple[Callable[[datetime | None], object], Callable[[object], str], str]:
    """(datetime → DB value, JSON → DB text, the JSON placeholder) for the current connection.
    SQLite gets the text Django itself stores (naive UTC, ``str()``) without the per-value field
    machinery; PostgreSQL takes aware datetimes and casts the JSON text to jsonb."""
    if _conn().vendor == "sqlite":

        def when(value: datetime | None):
            # str() of the naive UTC time, without making it: the aware ISO form less "+00:00".
            return None if value is None else value.astimezone(UTC).isoformat(" ")[:-6]

        return when, json_text, "%s"
    return (lambda value: value), json_text, "%s::jsonb"


def from_db_datetime(value) -> datetime | None:
    """A datetime read with a raw cursor: SQLite gives naive UTC (or its text), PostgreSQL an
    aware value."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def from_db_json(value):
    """A JSON column read with a raw cursor (text on both databases as Django configures them)."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def id_list(ids: Iterable[int]) -> str:
    """Integer primary keys inlined as ``1,2,3``: one statement for a thousand devices without a
    thousand bound parameters (ids are ints from our own tables, so nothing to escape)."""
    return ",".join(str(int(i)) for i in ids)


class _SomeSkipped(Exception):
    pass


def insert_observations(
    rows: list[tuple[int, datetime, str, dict]],
    received: datetime,
    texts: dict[int, object] | None = None,
) -> set[tuple[int, str, datetime]]:
    """rows: (device id, observed at, message id, values). Returns the (device id, message id,
    observed at) of the rows NOT inserted because they were stored already (by another process a
    moment ago, too): ``ON CONFLICT DO NOTHING`` skips them without failing the batch.

    The common case, nothing stored before, is one prepared ``executemany`` (as fast as a raw
    insert); only when its row count says some were skipped is it rolled back to a savepoint and
    redone with ``RETURNING``, to learn which."""
    if not rows:
        return set()
    conn = _conn()
    when, blob, json_ph = adapters()
    at = when(received)
    head = (
        f"INSERT INTO {_q(Observation._meta.db_table)} ({_q('device_id')}, {_q('observed_at')}, "
        f"{_q('received_at')}, {_q('message_id')}, {_q('values')}) VALUES "
    )
    one = f"(%s, %s, %s, %s, {json_ph})"
    params = []
    for device_id, t, mid, v in rows:
        text = when(t)
        if texts is not None:
            # The same time objects go into the rule states (``write_states``): converted once.
            texts[id(t)] = text
        params.append((device_id, text, at, mid, blob(v)))
    try:
        with transaction.atomic(), conn.cursor() as cursor:
            cursor.executemany(f"{head}{one} ON CONFLICT DO NOTHING", params)
            if cursor.rowcount != len(rows):
                raise _SomeSkipped
        return set()
    except _SomeSkipped:
        pass
    tail = (
        f" ON CONFLICT DO NOTHING RETURNING {_q('device_id')}, {_q('message_id')}, "
        f"{_q('observed_at')}"
    )
    inserted: set[tuple[int, str, datetime]] = set()
    with conn.cursor() as cursor:
        for i in range(0, len(params), INSERT_CHUNK):
            chunk = params[i : i + INSERT_CHUNK]
            cursor.execute(
                head + ", ".join([one] * len(chunk)) + tail, [x for row in chunk for x in row]
            )
            inserted.update((d, m, from_db_datetime(t)) for d, m, t in cursor.fetchall())
    return {(device_id, mid, t) for device_id, t, mid, _v in rows} - inserted


def _select_by_device(table: str, columns: list[str], device_ids: list[int]) -> list[tuple]:
    cols = ", ".join(_q(c) for c in columns)
    rows: list[tuple] = []
    with _conn().cursor() as cursor:
        for i in range(0, len(device_ids), CHUNK):
            cursor.execute(
                f"SELECT {cols} FROM {_q(table)} "
                f"WHERE {_q('device_id')} IN ({id_list(device_ids[i : i + CHUNK])})"
            )
            rows.extend(cursor.fetchall())
    return rows


def load_states(device_ids: list[int]) -> dict[tuple[int, str], State]:
    columns = ["device_id", "rule_code", "consecutive", "since", "active", "last_value", "last_at"]
    out: dict[tuple[int, str], State] = {}
    for device_id, code, consecutive, since, active, last_value, last_at in _select_by_device(
        RuleState._meta.db_table, columns, device_ids
    ):
        out[(device_id, code)] = State(
            consecutive,
            from_db_datetime(since),
            bool(active),
            last_value,
            from_db_datetime(last_at),
        )
    return out


class StaleState(Exception):
    """A device's state (latest value, rule states, alarms) changed in the database since this
    process read it: the batch is rolled back and done again from the database."""


def write_rows(head: str, placeholders: str, rows: list[tuple], tail: str = "") -> int:
    """``head VALUES (placeholders)[, …] tail`` for many rows: one prepared statement run with
    ``executemany`` on SQLite (in process, no round trips), multi-row VALUES in chunks on
    PostgreSQL (one round trip and one plan per chunk instead of one per row). ``tail`` may refer
    to the values as ``v`` when ``head`` is an ``UPDATE … FROM (`` (see ``update_rows``)."""
    if not rows:
        return 0
    conn = _conn()
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.executemany(f"{head} VALUES ({placeholders}){tail}", rows)
            return cursor.rowcount
        per_chunk = max(1, 30_000 // len(rows[0]))  # well under PostgreSQL's 65,535 parameters
        one = f"({placeholders})"
        written = 0
        for i in range(0, len(rows), per_chunk):
            chunk = rows[i : i + per_chunk]
            cursor.execute(
                f"{head} VALUES {', '.join([one] * len(chunk))}{tail}",
                [x for row in chunk for x in row],
            )
            written += cursor.rowcount
        return written


def write_states(entries: dict[int, Any], texts: dict[int, object] | None = None) -> None:
    """Write the rule states that changed; ``entries``: device id → ``state.Entry``; ``texts``:
    the database values of this batch's times by ``id()`` (``insert_observations``; the objects
    are alive for the whole batch, so their ids are theirs)."""
    when = adapters()[0]
    texts = texts or {}
    rows = []
    for device_id, entry in entries.items():
        for code, s in entry.states.items():
            if not s.dirty:
                continue
            since, last_at = s.since, s.last_at
            rows.append(
                (
                    device_id,
                    code,
                    s.consecutive,
                    None if since is None else texts.get(id(since)) or when(since),
                    s.active,
                    s.last_value,
                    None if last_at is None else texts.get(id(last_at)) or when(last_at),
                )
            )
            s.dirty = False
    cols = ["device_id", "rule_code", "consecutive", "since", "active", "last_value", "last_at"]
    updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in cols[2:])
    write_rows(
        f"INSERT INTO {_q(RuleState._meta.db_table)} ({', '.join(_q(c) for c in cols)})",
        "%s, %s, %s, %s, %s, %s, %s",
        rows,
        f" ON CONFLICT ({_q('device_id')}, {_q('rule_code')}) DO UPDATE SET {updates}",
    )


def load_latest(device_ids: list[int]) -> dict[int, tuple[datetime, dict, int]]:
    """device id → (observed at, values, version) of its latest value row."""
    return {
        device_id: (from_db_datetime(observed_at), from_db_json(values), version)
        for device_id, observed_at, values, version in _select_by_device(
            LatestValue._meta.db_table,
            ["device_id", "observed_at", "values", "version"],
            device_ids,
        )
    }


def write_latest(rows: list[tuple[int, datetime, dict]]) -> dict[int, int]:
    """Upsert the newest reading per device, counting each write in the row's ``version``.
    Returns device id → new version for the rows written; a device missing from the answer was
    not written, because the stored value is newer (another writer's: the caller's state is
    stale)."""
    if not rows:
        return {}
    when, blob, json_ph = adapters()
    table = _q(LatestValue._meta.db_table)
    head = (
        f"INSERT INTO {table} ({_q('device_id')}, {_q('observed_at')}, {_q('values')}, "
        f"{_q('version')}) VALUES "
    )
    one = f"(%s, %s, {json_ph}, 1)"
    tail = (
        f" ON CONFLICT ({_q('device_id')}) DO UPDATE SET "
        f"{_q('observed_at')} = excluded.{_q('observed_at')}, "
        f"{_q('values')} = excluded.{_q('values')}, {_q('version')} = {table}.{_q('version')} + 1 "
        f"WHERE excluded.{_q('observed_at')} >= {table}.{_q('observed_at')} "
        f"RETURNING {_q('device_id')}, {_q('version')}"
    )
    versions: dict[int, int] = {}
    with _conn().cursor() as cursor:
        for i in range(0, len(rows), LATEST_CHUNK):
            chunk = rows[i : i + LATEST_CHUNK]
            params: list = []
            for device_id, t, v in chunk:
                params.extend((device_id, when(t), blob(v)))
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, params)
            versions.update(cursor.fetchall())
    return versions


def bump_versions(device_ids: Iterable[int]) -> None:
    """Tell every process's ingest state cache that these devices' alarms changed outside
    ingestion (the heartbeat sweep, expiry): their next batch reads them from the database."""
    ids = list(device_ids)
    table = _q(LatestValue._meta.db_table)
    with _conn().cursor() as cursor:
        for i in range(0, len(ids), CHUNK):
            cursor.execute(
                f"UPDATE {table} SET {_q('version')} = {_q('version')} + 1 "
                f"WHERE {_q('device_id')} IN ({id_list(ids[i : i + CHUNK])})"
            )


def mark_seen(device_ids: list[int], at: datetime) -> None:
    """The devices reported: last seen now, online."""
    when = adapters()[0]
    table = _q(Device._meta.db_table)
    with _conn().cursor() as cursor:
        for i in range(0, len(device_ids), CHUNK):
            cursor.execute(
                f"UPDATE {table} SET {_q('last_seen_at')} = %s, {_q('state')} = %s "
                f"WHERE {_q('id')} IN ({id_list(device_ids[i : i + CHUNK])})",
                [when(at), DeviceState.ONLINE],
            )
