"""Fewer structures to maintain per inserted event (bench/README.md, "Event ingestion").

- (customer, -occurred_at): (customer, name, occurred_at) finds a customer's events as well. The timeline's UNION
  ALL sorts a customer's events whichever index finds them (EXPLAIN on 3M events: same plan shape, 139 rows
  read for a typical customer); only a customer with a very large number of events reads more.
- The source_id index: only deleting a source used it (SET NULL), a rare admin operation.
- The FK constraint to customers: its deferred check at COMMIT read and key-share-locked the customer row for every
  event. Deleting a customer still deletes their events through Django's collector (on_delete=CASCADE).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("customers", "0004_plain_indexes"),
        ("events", "0003_drop_dedupe_like_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="event",
            name="event_customer_time_idx",
        ),
        migrations.AlterField(
            model_name="event",
            name="customer",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="source",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.source",
            ),
        ),
    ]
