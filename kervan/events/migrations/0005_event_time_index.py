"""(occurred_at, id) on events: the newest events of everyone without sorting the table (see Event).

On PostgreSQL the index is built CONCURRENTLY: an events table of millions of rows keeps taking events while it
builds (a plain CREATE INDEX would block ingestion for minutes). SQLite builds it the ordinary way."""

from django.db import migrations, models

from kervan.core.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("events", "0004_lean_event_indexes")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(fields=["occurred_at", "id"], name="event_time_idx"),
        ),
    ]
