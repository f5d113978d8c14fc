"""The Source that rows imported from files belong to, so the same order imported twice is recognised."""

from kervan.core.models import Source

IMPORT_SOURCE_KEY = "import"


def import_source() -> Source:
    source, _ = Source.objects.get_or_create(
        key=IMPORT_SOURCE_KEY, defaults={"name": "File import", "kind": Source.Kind.IMPORT}
    )
    return source
