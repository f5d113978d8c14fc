"""Helpers for tests that need what another process would do."""

import psycopg
from django.db import connection


def other_session(*, autocommit: bool = True) -> psycopg.Connection:
    """A second PostgreSQL session on the test database, as another process (a worker, a reader) would have."""
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname=s["NAME"], autocommit=autocommit)
