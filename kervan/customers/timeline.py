"""The customer core's own entries on the Customer 360 timeline: notes, merges and consent records.

The merged, paginated timeline itself is read above the domains (kervan.customer360.timeline); this module only
says how the core's rows are found and shown, like every other app's timeline module.
"""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.customers.models import ConsentRecord, CustomerMerge, CustomerNote
from kervan.customers.registry import register_model_timeline


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
    notes = ("note", gettext_lazy("Notes"), 40, "customers", CustomerNote, "created_at", _note)
    register_model_timeline(*notes, select_related=("author",))
    merges = ("merge", gettext_lazy("Merges"), 50, "customers", CustomerMerge, "occurred_at", _merge)
    register_model_timeline(*merges, customer_field="survivor_id", select_related=("merged", "actor"))
    consents = ("consent", gettext_lazy("Consent"), 60, "customers", ConsentRecord, "occurred_at", _consent)
    register_model_timeline(*consents, select_related=("actor",))
