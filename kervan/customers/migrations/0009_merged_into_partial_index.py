"""merged_into is indexed for the merged-away profiles only (models.Customer.Meta.indexes says why).

The full index goes with a DROP INDEX rather than Django's AlterField, which on SQLite would rebuild the whole
customer table to change nothing else (and on PostgreSQL drop and re-check the foreign key)."""

import django.db.models.deletion
from django.db import migrations, models

FULL_INDEX = "customers_customer_merged_into_id_2994ddb6"  # Django's name for the ForeignKey's own index


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_scheduled_job"),
        ("customers", "0008_city_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{FULL_INDEX}"',
                    f'CREATE INDEX IF NOT EXISTS "{FULL_INDEX}" ON "customers_customer" ("merged_into_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="merged_into",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="merged_from",
                        to="customers.customer",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)),
                fields=["merged_into"],
                name="customer_merged_into_idx",
            ),
        ),
    ]
