"""The daily sales rollup of the Today page's chart (kervan.orders.daily_sales)."""

from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_reporting_currency")]

    operations = [
        migrations.CreateModel(
            name="DailySales",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(unique=True)),
                ("currency", models.CharField(default="TRY", max_length=3)),
                ("orders", models.PositiveIntegerField(default=0)),
                ("revenue", models.DecimalField(decimal_places=2, default=Decimal("0"), max_digits=14)),
                ("awaiting_rate", models.PositiveIntegerField(default=0)),
                ("computed_at", models.DateTimeField()),
            ],
        ),
    ]
