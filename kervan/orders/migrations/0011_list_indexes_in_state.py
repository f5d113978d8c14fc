"""Tell Django about the order list's indexes that 0007 created with raw SQL, so it keeps them.

On SQLite, Django changes a table by rebuilding it (a new table, the rows copied, the indexes it knows re-created):
0009's new shipping fields rebuilt orders_order and silently dropped 0007's indexes, which Django did not know
(an order list sorted by total or searched by number then read the whole table: 300-700 ms at 1M orders). From here
they are in the models' state, so every later rebuild keeps them; and they are created again where they went
missing (IF NOT EXISTS: a no-op on PostgreSQL, which alters tables in place and still has them).
"""

from django.db import migrations, models

INDEXES = {
    "order_status_time_idx": "orders_order (status, placed_at DESC)",
    "order_total_idx": "orders_order (total, id)",
    "order_number_idx": "orders_order (number)",
    "shipment_tracking_idx": "orders_shipment (tracking_number)",
}


def create_missing(apps, schema_editor):
    how = "CONCURRENTLY IF NOT EXISTS" if schema_editor.connection.vendor == "postgresql" else "IF NOT EXISTS"
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {how} {name} ON {target}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("orders", "0010_return_waiting")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_missing, migrations.RunPython.noop)],
            state_operations=[
                migrations.AddIndex(
                    model_name="order",
                    index=models.Index(fields=["status", "-placed_at"], name="order_status_time_idx"),
                ),
                migrations.AddIndex(
                    model_name="order", index=models.Index(fields=["total", "id"], name="order_total_idx")
                ),
                migrations.AddIndex(
                    model_name="order", index=models.Index(fields=["number"], name="order_number_idx")
                ),
                migrations.AddIndex(
                    model_name="shipment",
                    index=models.Index(fields=["tracking_number"], name="shipment_tracking_idx"),
                ),
            ],
        )
    ]
