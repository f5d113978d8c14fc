"""Bulk writes of generated rows into the real tables: COPY on PostgreSQL, executemany on SQLite.

Table and column names come from the models' _meta; columns the generator leaves out get the field's
default. For very large loads, secondary indexes (and, on PostgreSQL, foreign keys and unique constraints)
are dropped first and rebuilt once at the end, which is many times faster than maintaining them row by row.
"""

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction


class TableWriter:
    """Writes tuples in the order of `attnames` into `model`'s table, on the calling thread's connection."""

    def __init__(self, model: type[models.Model], attnames: tuple[str, ...]):
        self.connection = connection  # Django's proxy: whichever thread writes uses its own connection
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


def prepare_session() -> None:
    """The generator writes UTC wall times; a bulk load need not wait for each commit to reach the disk."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            if not connection.in_atomic_block:
                cursor.execute("SET synchronous_commit TO off")


def write_batches(
    batches: Iterable[dict[str, list[tuple]]],
    writers: dict[str, TableWriter],
    *,
    groups: list[list[str]] | None = None,
    after_batch: Callable[[dict[str, list[tuple]]], None],
) -> None:
    """Write each batch (table → rows, parents first) in its own transaction.

    With `groups` (table names per writer), one thread per group, each with its own connection, writes batch n
    while this thread generates batch n + 1, so the database parses rows while Python makes them. Only for bulk
    loads: the groups commit separately and in any order, so foreign keys must be off. At most two batches
    wait per writer, so memory stays flat. The first group's writer reports progress.
    """

    def write(batch, tables):
        with transaction.atomic():
            for table in tables:
                writers[table].write(batch[table])

    if not groups:
        for batch in batches:
            write(batch, writers)
            after_batch(batch)
        return

    failures: list[BaseException] = []

    def run(tables, waiting, report):
        try:
            prepare_session()
            while (batch := waiting.get()) is not None:
                write(batch, tables)
                if report:
                    after_batch(batch)
        except BaseException as exc:  # handed to the generating thread, which raises it
            failures.append(exc)
        finally:
            connection.close()

    queues = [queue.Queue(maxsize=2) for _ in groups]
    threads = [
        threading.Thread(target=run, args=(tables, waiting, n == 0), name=f"demo-writer-{n}", daemon=True)
        for n, (tables, waiting) in enumerate(zip(groups, queues, strict=True))
    ]

    def hand_over(item) -> bool:
        for thread, waiting in zip(threads, queues, strict=True):
            while True:
                if not thread.is_alive() or (failures and item is not None):
                    return False
                try:
                    waiting.put(item, timeout=1)
                    break
                except queue.Full:
                    continue
        return True

    for thread in threads:
        thread.start()
    try:
        for batch in batches:
            if not hand_over(batch):
                break
    finally:
        hand_over(None)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]


@contextmanager
def deferred_indexes(tables: list[str], log=print):
    """Drop secondary indexes (and, on PostgreSQL, foreign keys and unique constraints) of `tables`; rebuild on exit.

    Primary keys stay. The rebuild runs even if the load fails, so the schema is never left without them.
    """
    statements = _drop_indexes(tables)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET maintenance_work_mem = '1GB'")
            for name, sql in statements:
                started = time.monotonic()
                cursor.execute(sql)
                log(f"  rebuilt {name} in {time.monotonic() - started:.1f}s")


def _drop_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """Drop what slows a bulk load; return (name, statement) pairs that recreate it, in a safe order."""
    restore: list[tuple[str, str]] = []
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
            restore += indexes
            restore += [
                (name, f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
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
                restore.append((name, sql))
    return restore
