"""``towngrid reports rebuild``: recompute the case roll-ups from the cases.

The roll-ups are kept current by the actions (rollups.on_case_changed); a rebuild is needed only
after cases were written around the actions (bulk loads, raw imports, restores).
``towngrid reports verify`` rebuilds inside a transaction it rolls back and says whether the
maintained roll-ups matched.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Rebuild (or verify) the reports' case roll-ups from the cases."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["rebuild", "verify"], help="rebuild or verify")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, action: str, no_progress: bool = False, **options) -> None:
        from towngrid.reports import actions, rollups

        progress = not no_progress and options.get("verbosity", 1) > 0
        started = time.perf_counter()
        if action == "rebuild":
            counts = actions.rebuild_rollups(progress=progress)
            self.stdout.write(
                f"Rebuilt {counts['case_rollups']:,} micro-grid rows and "
                f"{counts['node_rollups']:,} node rows in {time.perf_counter() - started:.1f} s."
            )
            return
        before = rollups.snapshot()
        with transaction.atomic():
            rollups.rebuild(progress=progress)
            after = rollups.snapshot()
            transaction.set_rollback(True)
        differing = sum(len(before[k] ^ after[k]) for k in before)
        if differing:
            raise CommandError(
                f"The maintained roll-ups differ from a rebuild in {differing} rows; "
                "run `towngrid reports rebuild`."
            )
        self.stdout.write("The maintained roll-ups equal a rebuild.")
