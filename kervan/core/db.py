"""PostgreSQL connection helpers: raw SQL where the ORM costs more than the statement (the event batch path), and
the lock-wait limit of web processes."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


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


def limit_lock_waits(timeout: str) -> None:
    """Make every PostgreSQL connection this process opens give up waiting for a lock after `timeout` ("5s").

    Web processes call it (config/wsgi.py): a request that would wait behind a long lock — a shop's first big import
    holds the customer tables (kervan.imports.bulk.indexes_built_after), a migration one table — is answered 503
    with Retry-After (kervan.core.errors) instead of holding a web worker until the lock goes, which with a few
    workers stalls the whole site. The task worker and manage.py keep PostgreSQL's default (wait as long as it
    takes)."""

    def limit(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [timeout])

    connection_created.connect(limit, weak=False, dispatch_uid="kervan.core.db.limit_lock_waits")
