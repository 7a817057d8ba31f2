"""The reports' roll-ups in the scope matrix's fixture town (tests/accounts/scope_world.py):
rebuilt from the cases the other apps put there (tests/cases/scope_samples.py puts one in every
micro-grid), so every drill-down, case list and screen endpoint has figures in every branch and
the matrix can tell a leak from an empty answer."""

from __future__ import annotations


def make_samples(world) -> None:
    from towngrid.reports.rollups import rebuild

    rebuild()
