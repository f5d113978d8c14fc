"""Names for the audit log, and on PostgreSQL one GIN index per language instead of one for both: a search is always
in one language, so its index holds only the texts it can match (bench/kb_search.py). Texts indexed before this keep
their body stems until they are saved again or `manage.py kb_reindex` runs; they match the same searches."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS support_translation_search_tr ON support_articletranslation USING GIN (search)"
    " WHERE language = 'tr'",
    "CREATE INDEX IF NOT EXISTS support_translation_search_en ON support_articletranslation USING GIN (search)"
    " WHERE language = 'en'",
    "DROP INDEX IF EXISTS support_translation_search",
]
BACKWARD = [
    "CREATE INDEX IF NOT EXISTS support_translation_search ON support_articletranslation USING GIN (search)",
    "DROP INDEX IF EXISTS support_translation_search_tr",
    "DROP INDEX IF EXISTS support_translation_search_en",
]


def _on_postgres(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("support", "0002_search_index")]

    operations = [
        migrations.AlterModelOptions(
            name="article",
            options={
                "ordering": ["position", "-published_at", "id"],
                "verbose_name": "help article",
                "verbose_name_plural": "help articles",
            },
        ),
        migrations.AlterModelOptions(
            name="articlecategory",
            options={
                "ordering": ["position", "name_tr", "id"],
                "verbose_name": "help category",
                "verbose_name_plural": "help categories",
            },
        ),
        migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD), elidable=False),
    ]
