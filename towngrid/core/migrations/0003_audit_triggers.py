"""Database triggers that keep the audit trail append-only even against raw SQL.

UPDATE is refused on both databases. DELETE is refused on PostgreSQL only: Django's SQLite flush
(used between transactional tests) empties tables with DELETE, while PostgreSQL's uses TRUNCATE,
which row triggers do not see. A retention purge after the legal minimum (six months) is an
operator's job done as the database owner with the trigger disabled, and is itself logged.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update BEFORE UPDATE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS core_auditevent_no_update;"]

PG_UP = [
    """CREATE OR REPLACE FUNCTION core_auditevent_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
    END;
    $$ LANGUAGE plpgsql;""",
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;",
    """CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_append_only();""",
]
PG_DOWN = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;",
    "DROP FUNCTION IF EXISTS core_auditevent_append_only();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_actor_kept")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN}),
        )
    ]
