"""The time of "Started Checkout" events only: the Today page's checkouts of the last 24 hours
(kervan/events/today.py) without reading the tracker's other events, with who started each so that PostgreSQL
answers from the index alone (INCLUDE; SQLite has none and builds a plain index).

On PostgreSQL the index is built CONCURRENTLY, so the events table keeps taking events while it builds."""

from django.db import migrations, models

from kervan.core.migration_ops import AddIndexConcurrentlyOnPostgres


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
