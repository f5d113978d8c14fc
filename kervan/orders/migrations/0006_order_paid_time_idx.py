"""The orders in "paid" by placed_at: the Today page's "paid, not shipped" card (kervan/orders/today.py).

On PostgreSQL the index is built CONCURRENTLY: an orders table of millions of rows keeps taking orders while it
builds. SQLite builds it the ordinary way."""

from django.db import migrations, models

from kervan.core.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("orders", "0005_dailysales")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status", "paid")), fields=["placed_at"], name="order_paid_time_idx"
            ),
        ),
    ]
