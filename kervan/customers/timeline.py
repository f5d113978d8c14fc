"""The customer core's own entries on the Customer 360 timeline: notes, merges and consent records.

The merged, paginated timeline itself is read above the domains (kervan.customer360.timeline); this module only
says how the core's rows are found and shown, like every other app's timeline module.
"""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.customers.models import ConsentRecord, CustomerMerge, CustomerNote
from kervan.customers.registry import TimelineSource, register_timeline_source


def _note(note: CustomerNote) -> dict[str, Any]:
    author = note.author.get_full_name() or note.author.username if note.author else ""
    return {"title": _("Note"), "data": {"body": note.body, "author": author}, "summary": note.body, "byline": author}


def _merge(merge: CustomerMerge) -> dict[str, Any]:
    return {
        "title": _("Merged with profile #%(id)s") % {"id": merge.merged_id},
        "data": {"merged_id": merge.merged_id, "snapshot": merge.snapshot},
    }


def _consent(record: ConsentRecord) -> dict[str, Any]:
    title = (
        _("%(channel)s consent granted (%(purpose)s)")
        if record.status == "granted"
        else _("%(channel)s consent refused (%(purpose)s)")
    )
    data = {
        "channel": record.channel,
        "status": record.status,
        "source": record.source,
        "proof": record.proof,
        "iys": f"{record.iys_channel}/{record.iys_status}/{record.iys_source}".strip("/"),
    }
    return {
        "title": title % {"channel": record.get_channel_display(), "purpose": record.get_purpose_display()},
        "data": data,
        "summary": f"{record.source} {data['iys']}".strip(),
    }


def register() -> None:
    for source in (
        TimelineSource(
            kind="note",
            label=gettext_lazy("Notes"),
            position=40,
            area="customers",
            rows=lambda customer_id: CustomerNote.objects.filter(customer_id=customer_id),
            time_field="created_at",
            select_related=("author",),
            present=_note,
        ),
        TimelineSource(
            kind="merge",
            label=gettext_lazy("Merges"),
            position=50,
            area="customers",
            rows=lambda customer_id: CustomerMerge.objects.filter(survivor_id=customer_id),
            time_field="occurred_at",
            select_related=("merged", "actor"),
            present=_merge,
        ),
        TimelineSource(
            kind="consent",
            label=gettext_lazy("Consent"),
            position=60,
            area="customers",
            rows=lambda customer_id: ConsentRecord.objects.filter(customer_id=customer_id),
            time_field="occurred_at",
            select_related=("actor",),
            present=_consent,
        ),
    ):
        register_timeline_source(source)
