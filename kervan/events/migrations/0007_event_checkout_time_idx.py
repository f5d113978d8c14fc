"""The time of "Started Checkout" events only: the Today page's checkouts of the last 24 hours
(kervan/events/today.py) without reading the tracker's other events, with who started each so that PostgreSQL
answers from the index alone (INCLUDE; SQLite has none and builds a plain index).

On PostgreSQL the index is built CONCURRENTLY, so the events table keeps taking events while it builds."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("events", "0006_trackersite_identity_secret")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(
                condition=models.Q(("name", "Started Checkout")),
                fields=["occurred_at"],
                include=["customer", "anonymous_id"],
                name="event_checkout_time_idx",
            ),
        ),
    ]
