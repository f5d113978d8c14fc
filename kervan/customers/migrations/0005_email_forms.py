# Placeholder for the email normalisation data migration (issue 19, rule 5); filled in by that work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_plain_indexes")]
    operations = []
