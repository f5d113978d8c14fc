"""Bulk writes of generated rows into the real tables: COPY on PostgreSQL, executemany on SQLite.

Table and column names come from the models' _meta; columns the generator leaves out get the field's
default. For very large loads, secondary indexes (and, on PostgreSQL, foreign keys and unique constraints)
are dropped first and rebuilt once at the end, which is many times faster than maintaining them row by row.
"""

import json
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django.db import models


class TableWriter:
    """Writes tuples in the order of `attnames` into `model`'s table on `connection`."""

    def __init__(self, model: type[models.Model], attnames: tuple[str, ...], connection):
        self.connection = connection
        self.table = model._meta.db_table
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [name for name in attnames if name not in fields]
        if unknown:
            raise ImproperlyConfigured(f"{model.__name__} has no field(s) {unknown}")
        columns = [fields[name].column for name in attnames]
        constants = []
        for name, field in fields.items():
            if name in attnames:
                continue
            value = field.get_default()  # "" for text fields without a default
            if value is None and not field.null:
                raise ImproperlyConfigured(f"{model.__name__}.{name} needs a value and has no default")
            if value is not None:
                value = (
                    json.dumps(value)
                    if isinstance(field, models.JSONField)
                    else field.get_db_prep_save(value, connection)
                )
            columns.append(field.column)
            constants.append(value)
        self.constants = tuple(constants)
        quote = connection.ops.quote_name
        self.column_sql = ", ".join(quote(c) for c in columns)
        self.placeholders = ", ".join("?" for _ in columns)

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        constants = self.constants
        data = rows if not constants else [row + constants for row in rows]
        raw = self.connection.connection  # the DB-API connection, inside the caller's transaction
        quoted = self.connection.ops.quote_name(self.table)
        if self.connection.vendor == "postgresql":
            from psycopg.copy import QueuedLibpqWriter

            sql = f"COPY {quoted} ({self.column_sql}) FROM STDIN"
            # The queued writer sends on its own thread, so the server parses while we format.
            with raw.cursor() as cursor, cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:
                write_row = copy.write_row
                for row in data:
                    write_row(row)
        else:
            cursor = raw.cursor()
            try:
                cursor.executemany(f"INSERT INTO {quoted} ({self.column_sql}) VALUES ({self.placeholders})", data)
            finally:
                cursor.close()


@contextmanager
def deferred_indexes(connection, tables: list[str], log=print):
    """Drop secondary indexes (and, on PostgreSQL, foreign keys and unique constraints) of `tables`; rebuild on exit.

    Primary keys stay. The rebuild runs even if the load fails, so the schema is never left without them.
    """
    statements = _drop_indexes(connection, tables)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET maintenance_work_mem = '1GB'")
            for sql in statements:
                log(f"  rebuilding: {sql[:110]}")
                cursor.execute(sql)


def _drop_indexes(connection, tables: list[str]) -> list[str]:
    """Drop what slows a bulk load; return the statements that recreate it, in a safe order."""
    restore: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if connection.in_atomic_block:
                # Run the foreign key checks still queued in this transaction: ALTER TABLE refuses to wait for them.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
                FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
                WHERE t.relname = ANY(%s) AND c.contype IN ('f', 'u')
                ORDER BY c.contype DESC, c.conname
                """,
                [tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
                ORDER BY i.indexname
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            for table, name, _definition, _kind in constraints:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            # Plain indexes, then unique constraints, then foreign keys (which can use those indexes).
            restore += [definition for _name, definition in indexes]
            restore += [
                f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
                for table, name, definition, _kind in constraints
            ]
        else:
            placeholders = ", ".join("%s" for _ in tables)
            cursor.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({placeholders}) ORDER BY name",
                tables,
            )
            for name, sql in cursor.fetchall():
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                restore.append(sql)
    return restore
