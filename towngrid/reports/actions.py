"""State changes of the reports app: only the roll-ups' rebuild (upkeep is rollups.py's
receiver, inside each case's own transaction and audit record)."""

from __future__ import annotations

from towngrid.core import audit

from . import rollups


def rebuild_rollups(*, actor=None, progress: bool = False) -> dict[str, int]:
    """Recompute the roll-ups from the cases, with an audit record of the row counts."""
    counts = rollups.rebuild(progress=progress)
    audit.record(actor, "reports.rebuild", object_type="reports.caserollup", changes=counts)
    rollups.vacuum()
    return counts


def remove_rollups(*, actor=None) -> None:
    """Delete every roll-up row (the demo town's removal); ``rebuild_rollups`` restores them."""
    from .models import CaseRollup, NodeRollup

    NodeRollup.objects.all().delete()
    CaseRollup.objects.all().delete()
    audit.record(actor, "reports.remove", object_type="reports.caserollup")
