"""The core's own background work."""

from django.db import connection
from django_tasks import task


@task()
def sqlite_statistics_refresh() -> str:
    """Nightly on SQLite: ANALYZE, so the planner knows the tables' sizes and how selective each index is (without
    statistics it may scan a million orders where an index serves). PostgreSQL keeps its own (autovacuum)."""
    if connection.vendor != "sqlite":
        return "not needed"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return "analyzed"
