"""The reports part of the Beicai demo town (see towngrid/demo/extras.py for the contract): the
case roll-ups, rebuilt from whatever cases the demo holds (its cases are played through the
actions, which keep the roll-ups current; the rebuild also covers rows written around them)."""

from __future__ import annotations


def build(*, seed: int = 2023, scale: float = 1.0, progress: bool = False) -> dict:
    from .actions import rebuild_rollups

    return rebuild_rollups(progress=progress)


def exists() -> bool:
    from .rollups import exists as rollups_exist

    return rollups_exist()


def remove() -> None:
    from .actions import remove_rollups

    remove_rollups()
