"""PostgreSQL connection helpers: raw SQL where the ORM costs more than the statement (the event batch path), and
the lock-wait limit of web processes (PostgreSQL and SQLite)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import Q


@contextmanager
def server_bound_cursor() -> Iterator[psycopg.Cursor]:
    """A psycopg cursor on Django's connection (so inside its transaction) that sends parameters separately.

    Django's cursors bind client-side, quoting every array element into the SQL text in Python: for a 100-event
    batch that was about half of the insert's cost. Server-side binding ships the parameters as they are, and with
    OPTIONS["prepare_threshold"] (config/database.py) psycopg also prepares a statement run often on a connection.
    Errors arrive as django.db exceptions, like the ORM's."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def ids_in(field: str, ids: list[int]) -> Q:
    """`field` is one of `ids` (sorted, not empty), as the cheaper lookup: a range when they are dense (a keyset
    batch, where every id between the first and the last is in the list or does not exist), else IN. A range can match
    ids not in the list: the caller keeps only the rows of its ids. Quoting and planning IN lists of 10,000 ids made
    a pass of `stats_rebuild --check` over 1M customers take 89 s on PostgreSQL; with ranges it takes 23 s."""
    if ids[-1] - ids[0] < 2 * len(ids):
        return Q(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
    return Q(**{f"{field}__in": ids})


def lock_timeout_ms(timeout: str) -> int:
    """A PostgreSQL-style duration ("5s", "300ms", "1min", or a bare number of milliseconds) in milliseconds."""
    value = timeout.strip().lower()
    for unit, factor in (("ms", 1), ("min", 60_000), ("s", 1000)):
        if value.endswith(unit):
            return int(float(value[: -len(unit)]) * factor)
    return int(float(value))


def limit_lock_waits(timeout: str) -> None:
    """Make every database connection this process opens give up waiting for a lock after `timeout` ("5s").

    Web processes call it (config/wsgi.py): a request that would wait behind a long lock — a shop's first big import
    holds the customer tables (kervan.imports.bulk.indexes_built_after), a migration one table — is answered 503
    with Retry-After (kervan.core.errors) instead of holding a web worker until the lock goes, which with a few
    workers stalls the whole site. The task worker and manage.py keep PostgreSQL's default (wait as long as it
    takes).

    On SQLite the lock is the database's one write lock, held by an import's transaction or the task worker: a web
    request that writes meanwhile waits up to `timeout` (SQLite's busy timeout; writes begin IMMEDIATE, so the wait
    is at BEGIN, never a failed upgrade half-way), then gets "database is locked", answered 503 + Retry-After like
    any database error (kervan.core.errors). Without this it waits config/database.py's 10 s."""
    busy_ms = lock_timeout_ms(timeout)

    def limit(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [timeout])
        elif connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms:d}")

    connection_created.connect(limit, weak=False, dispatch_uid="kervan.core.db.limit_lock_waits")
