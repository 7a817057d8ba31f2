"""Covering indexes for the drill-down on PostgreSQL.

A drill-down reads a few thousand roll-up rows of one node or its children over a period. Those
rows are written day by day as cases come in, so in the table they lie on as many pages as rows:
from a cold cache every row is a disk read (bench/drilldown.py: p95 372 ms). With the counters
in the index (INCLUDE), PostgreSQL answers from the index alone, a few dozen consecutive pages
(p95 78 ms from a cold cache). Index-only scans need the visibility map, which autovacuum keeps
(the roll-up rows of past days no longer change); ``towngrid reports rebuild`` vacuums at once.
SQLite has no INCLUDE and keeps its ordinary indexes."""

from django.db import migrations

COUNTERS = "reported, opened, closed, closed_on_time, closed_late, parked, open"
INDEXES = {
    "reports_caserollup_cover": (
        "reports_caserollup (grid_code, day) INCLUDE (category_id, source, " + COUNTERS + ")"
    ),
    "reports_noderollup_cover": (
        "reports_noderollup (grid_code, grain, day) INCLUDE (dim, key, " + COUNTERS + ")"
    ),
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
