"""Each device's ingest state kept in memory between batches, checked optimistically.

A batch needs, for every device in it, the latest value, the rules' per-device state and the
active alarms. Reading them for every batch cost as much as the rest of the batch
(bench/ingest.py), while almost always the process that reads them is the one that last wrote
them. So a process keeps what it wrote and, instead of reading it back, checks that nobody else
wrote since:

- ``LatestValue.version`` counts the writes of a device's state: the batch's upsert of the latest
  value must find the version this process last saw (it returns the new one), else another
  process (a second worker, the HTTP endpoint) or the heartbeat sweep (``store.bump_versions``)
  wrote meanwhile;
- each alarm's own ``version`` guards its update (``alarms.write_alarms``): an alarm acknowledged
  or cleared by hand is never overwritten.

Either check failing raises ``store.StaleState``: the batch's transaction rolls back, the devices'
cached state is dropped, and the batch is done again from the database. The cache is filled
only when a transaction commits (``on_commit``): a rolled-back batch leaves nothing behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from . import alarms, store
from .models import Alarm
from .rules import State

MAX_DEVICES = 200_000


@dataclass(slots=True)
class Entry:
    """One device's state: ``version`` is its LatestValue version as last read or written here
    (0: no row yet)."""

    version: int = 0
    latest: tuple[datetime, dict] | None = None
    states: dict[str, State] = field(default_factory=dict)  # by rule code
    alarms: dict[tuple[int, str], Alarm] = field(default_factory=dict)


class StateCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}

    def take(self, device_ids: Iterable[int]) -> dict[int, Entry]:
        """Remove and return the cached entries of these devices: while a batch works on them
        nobody else may use them, and if it fails they are gone."""
        with self._lock:
            pop = self._entries.pop
            taken = {i: pop(i) for i in device_ids if i in self._entries}
        return taken

    def put(self, entries: dict[int, Entry]) -> None:
        with self._lock:
            if len(self._entries) + len(entries) > MAX_DEVICES:
                self._entries.clear()
            self._entries.update(entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


cache = StateCache()


def load(device_ids: list[int]) -> dict[int, Entry]:
    """The devices' state from the database."""
    entries = {i: Entry() for i in device_ids}
    for device_id, (observed_at, values, version) in store.load_latest(device_ids).items():
        entry = entries[device_id]
        entry.version, entry.latest = version, (observed_at, values)
    for (device_id, code), rule_state in store.load_states(device_ids).items():
        entries[device_id].states[code] = rule_state
    for key, alarm in alarms.load_active(device_ids).items():
        entries[key[0]].alarms[key] = alarm
    return entries
