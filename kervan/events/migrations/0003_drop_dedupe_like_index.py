"""Drop the varchar_pattern_ops index PostgreSQL gets for the unique dedupe_key.

Django adds a second ("_like") index to every unique CharField on PostgreSQL for LIKE 'prefix%' queries. Nothing
searches dedupe keys by prefix; the unique index answers every lookup. Each event insert paid for maintaining it
(about 12% of the insert's database time in bench/ingest.py). The model is unchanged; Django drops the index with
IF EXISTS whenever it alters the field, so its absence is harmless.
"""

from django.db import migrations

INDEX = "events_event_dedupe_key_5875f0ee_like"


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "events_event" ("dedupe_key" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("events", "0002_trackersite")]

    operations = [migrations.RunPython(drop, restore, elidable=False)]
