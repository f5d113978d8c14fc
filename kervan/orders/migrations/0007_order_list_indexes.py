"""Indexes the order list needs at 1M customers / 10M orders (kervan/orders/selectors.py), and no more — each one is
written on every order insert:

- order_status_time_idx (status, placed_at DESC): a status filter with the newest-first sort (the Today page's
  "paid, not shipped after N days" link), read in index order without visiting other statuses;
- order_total_idx (total, id): the "highest total" sort (and min/max total ranges), walked backwards in exactly
  the keyset order (total, then id), so a page stops after its rows even where many orders share a total;
- order_number_idx (number): an order number exactly, its beginning (the search box and the global search) and the
  number sort. On PostgreSQL a prefix (LIKE 'K0001%') uses a plain index only under the "C" collation; in a
  database with another collation a second, varchar_pattern_ops index serves the prefix;
- shipment_tracking_idx (tracking_number): a tracking number typed into the search.

Left out on purpose: sales channel and source (few values, each a large share of the orders: the newest-first walk
finds a page at once), has_refund (a column of the order), has_return (returns are found by their order index).

(order_paid_time_idx of 0006, for the Today card, is the paid slice of order_status_time_idx.)

Raw SQL with no model state: orders/models.py stays as it is (other work appends to it); the same statements run on
SQLite and PostgreSQL, built CONCURRENTLY on PostgreSQL so a large orders table keeps taking orders meanwhile.
"""

from django.db import migrations

INDEXES = {
    "order_status_time_idx": "orders_order (status, placed_at DESC)",
    "order_total_idx": "orders_order (total, id)",
    "order_number_idx": "orders_order (number)",
    "shipment_tracking_idx": "orders_shipment (tracking_number)",
}
PATTERN_INDEX = "order_number_like_idx"


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    how = "CONCURRENTLY IF NOT EXISTS" if postgres else "IF NOT EXISTS"
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {how} {name} ON {target}")
    if postgres:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
            collation = cursor.fetchone()[0]
        if collation not in ("C", "POSIX"):  # PostgreSQL before 17 treats C.UTF-8 like any other locale here
            schema_editor.execute(f"CREATE INDEX {how} {PATTERN_INDEX} ON orders_order (number varchar_pattern_ops)")


def drop(apps, schema_editor):
    for name in [*INDEXES, PATTERN_INDEX]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("orders", "0006_order_paid_time_idx")]
    operations = [migrations.RunPython(create, drop)]
