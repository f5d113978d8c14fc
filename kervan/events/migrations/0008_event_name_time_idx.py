"""The event list filtered by a rare name, newest first (it otherwise walks the whole time index), leaving out the
tracker's high-volume browsing names so ingestion barely pays for it. Built CONCURRENTLY on PostgreSQL: the events
table keeps taking events while it builds."""

from django.db import migrations, models

from kervan.core.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("events", "0007_event_checkout_time_idx")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(
                fields=["name", "occurred_at", "id"],
                condition=~models.Q(name__in=("Added to Cart", "Viewed Page", "Viewed Product")),
                name="event_name_time_idx",
            ),
        )
    ]
