import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_order_source_backfill")]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="source",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.source"),
        ),
    ]
