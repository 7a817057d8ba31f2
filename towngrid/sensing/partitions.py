"""Monthly partitions of sensing_observation on PostgreSQL (see migration 0002).

Partitions are named ``sensing_observation_yYYYYmMM`` and cover one UTC calendar month. They are
created on demand, before a batch that holds readings of that month is written, each in its own
short statement so a concurrent creator (another worker) only costs a retry. SQLite: no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, connection, transaction

_known: set[tuple[str, tuple[int, int]]] = set()


def partition_name(year: int, month: int) -> str:
    return f"sensing_observation_y{year:04d}m{month:02d}"


def _bounds(year: int, month: int) -> tuple[str, str]:
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01 00:00:00+00", f"{nxt[0]:04d}-{nxt[1]:02d}-01 00:00:00+00"


def ensure_months(times: Iterable[datetime]) -> int:
    """Create the monthly partitions the given (aware) times need; returns how many were made."""
    if connection.vendor != "postgresql":
        return 0
    db = connection.settings_dict["NAME"]
    wanted = {(t.utctimetuple().tm_year, t.utctimetuple().tm_mon) for t in times}
    made = 0
    for year, month in sorted(wanted):
        if (db, (year, month)) in _known:
            continue
        name = partition_name(year, month)
        start, end = _bounds(year, month)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is None:
                    cursor.execute(
                        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF sensing_observation '
                        f"FOR VALUES FROM ('{start}') TO ('{end}')"
                    )
                    made += 1
        except DatabaseError:
            # Another process created it between our check and our CREATE: fine if it exists.
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is None:
                    raise
        # Inside an outer transaction (tests, callers' atomic blocks) the partition may still be
        # rolled back, so only remember partitions created or seen in autocommit.
        if not connection.in_atomic_block:
            _known.add((db, (year, month)))
    return made


def existing() -> list[str]:
    """Names of the existing monthly partitions (PostgreSQL), oldest first."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'sensing_observation' "
            "ORDER BY c.relname"
        )
        return [row[0] for row in cursor.fetchall()]


def forget() -> None:
    """Drop the process cache (tests that recreate the database)."""
    _known.clear()
