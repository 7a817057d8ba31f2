"""Database helpers shared by the apps' hot paths."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

_INSERT_SQL: dict[tuple[type, str], tuple[str, list]] = {}


def insert_row(obj: Model) -> None:
    """INSERT one new row and set its primary key: ``Model.save(force_insert=True)`` without
    the query compiler, which is half the cost of an ORM insert. For the rows written on every
    report and every audited action (case intake, bench/case_intake.py). The statement is
    built once per model and database; values go through each field's ``pre_save`` and
    ``get_db_prep_save`` exactly as the ORM does. No signals are sent: callers use it only for
    models without receivers."""
    model = type(obj)
    # The real connection object, once: every attribute read through the ``connection`` proxy
    # costs a thread-local lookup, and the field preparation below reads it per field.
    conn = connections[DEFAULT_DB_ALIAS]
    key = (model, conn.alias)
    cached = _INSERT_SQL.get(key)
    if cached is None:
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if f is not meta.pk]
        quote = conn.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
        )
        cached = _INSERT_SQL[key] = (sql, fields)
    sql, fields = cached
    params = [f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = conn.alias
