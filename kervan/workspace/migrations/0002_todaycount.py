from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("workspace", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="TodayCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=60, unique=True)),
                ("value", models.PositiveIntegerField()),
                ("more", models.BooleanField(default=False)),
                ("computed_at", models.DateTimeField()),
            ],
        ),
    ]
