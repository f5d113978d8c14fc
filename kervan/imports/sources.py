"""The Source that rows imported from files belong to, so the same order imported twice is recognised."""

from kervan.core.models import Source

IMPORT_SOURCE_KEY = "import"


def import_source() -> Source:
    source, _ = Source.objects.get_or_create(
        key=IMPORT_SOURCE_KEY, defaults={"name": "File import", "kind": Source.Kind.IMPORT}
    )
    return source


def import_sources() -> list[Source]:
    """The stores a file can come from, for the upload form: every source but Kervan's own channels."""
    return list(
        Source.objects.exclude(kind__in=(Source.Kind.MANUAL, Source.Kind.API, Source.Kind.TRACKER)).order_by("name")
    )


def source_for_upload(*, source_id: str = "", new_name: str = "") -> Source | None:
    """The source an upload names: an existing one by id, a new one by name (its key made from the name; the same
    name again is the same source), or None for the generic file import."""
    from django.utils.text import slugify
    from django.utils.translation import gettext as _

    from kervan.core.errors import KervanError

    name = (new_name or "").strip()[:120]
    if name:
        key = slugify(name)[:64]
        if not key:
            raise KervanError(_("Name the store with letters or digits."), "invalid_source", field="source")
        source, _created = Source.objects.get_or_create(key=key, defaults={"name": name, "kind": Source.Kind.IMPORT})
        return source
    if source_id:
        source = Source.objects.filter(pk=source_id if str(source_id).isdigit() else None).first()
        if source is None:
            source = Source.objects.filter(key=source_id).first()
        if source is None:
            raise KervanError(_("No such store."), "unknown_source", field="source")
        return source
    return None
