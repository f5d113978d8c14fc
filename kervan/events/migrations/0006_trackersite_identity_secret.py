"""TrackerSite.identity_secret: each site gets its own secret for identity-verification signatures."""

import secrets

from django.db import migrations, models


def give_each_site_a_secret(apps, schema_editor):
    TrackerSite = apps.get_model("events", "TrackerSite")
    for site in TrackerSite.objects.filter(identity_secret=""):
        site.identity_secret = "sk_" + secrets.token_urlsafe(32)
        site.save(update_fields=["identity_secret"])


class Migration(migrations.Migration):
    dependencies = [("events", "0005_event_time_index")]

    operations = [
        migrations.AddField(
            model_name="trackersite",
            name="identity_secret",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.RunPython(give_each_site_a_secret, migrations.RunPython.noop),
    ]
