"""Raw SQL on PostgreSQL where the ORM costs more than the statement (the event batch path)."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


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
