"""The knowledge base's search index, one per database (kervan.support.search): a GIN-indexed tsvector column on
PostgreSQL, an FTS5 table on SQLite. Neither is a model field, so Django's table rebuilds on SQLite never drop it
(the FTS5 table is a table of its own) and the models stay the same on both databases."""

from django.db import migrations

POSTGRES = [
    "ALTER TABLE support_articletranslation ADD COLUMN search tsvector",
    "CREATE INDEX support_translation_search ON support_articletranslation USING GIN (search)",
]
POSTGRES_BACK = [
    "DROP INDEX IF EXISTS support_translation_search",
    "ALTER TABLE support_articletranslation DROP COLUMN IF EXISTS search",
]
SQLITE = [
    # Folded text only (ASCII), so the unicode61 tokenizer's own case and diacritics rules never come into it.
    "CREATE VIRTUAL TABLE support_kb_fts USING fts5(title, body, tokenize = 'unicode61')",
]
SQLITE_BACK = ["DROP TABLE IF EXISTS support_kb_fts"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_BACK, "sqlite": SQLITE_BACK}),
            elidable=False,
        ),
    ]
