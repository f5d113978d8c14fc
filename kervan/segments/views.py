"""Segment pages: the list, the builder (htmx: rows, live count + sample, "why in / not in"), rebuild, CSV upload."""

import json
import time

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.customers.models import CustomFieldDefinition
from kervan.segments import actions, forms, selectors
from kervan.segments.models import Segment


def _custom() -> dict[str, str]:
    return dict(CustomFieldDefinition.objects.values_list("key", "field_type"))


def _row_context(row: dict, custom: dict, error: str = "") -> dict:
    name = row.get("field") or "city"
    row = {**row, "field": name}
    type_ = forms.field_type(name, custom)
    return {
        "row": row,
        "fields": forms.field_choices(custom),
        "ops": forms.op_choices(name, custom),
        "type": type_,
        "choices": forms.value_choices(name, custom),
        "channels": forms.channel_choices() if type_ == "consent_ledger" else [],
        "purposes": forms.purpose_choices() if type_ == "consent_ledger" else [],
        "windowed": name in forms.WINDOWED,
        "hint": forms.RATIO_HINT if type_ == "ratio" else "",
        "error": error,
    }


@require_access("segments", "read")
def segment_list(request):
    segments = selectors.segment_list(actor=request.actor)
    return render(request, "segments/list.html", {"segments": segments})


def _builder(
    request, segment: Segment | None, *, definition=None, name="", error: KervanError | None = None, status=200
):
    custom = _custom()
    definition = (
        definition
        if definition is not None
        else (segment.definition if segment else {"match": "all", "conditions": []})
    )
    rows = forms.rows_from_definition(definition)
    advanced = rows is None
    bad_row = forms.row_index(error.field) if error is not None and error.field else None
    row_contexts = [
        _row_context(r, custom, error.detail if error is not None and i == bad_row else "")
        for i, r in enumerate(rows or [])
    ]
    if not advanced and not row_contexts and (segment is None or segment.kind == Segment.Kind.DYNAMIC):
        row_contexts = [_row_context({"id": forms.new_row_id(), "field": "total_spent", "op": "gt"}, custom)]
    return render(
        request,
        "segments/builder.html",
        {
            "segment": segment,
            "name": name or (segment.name if segment else ""),
            "match": definition.get("match", "all") if isinstance(definition, dict) else "all",
            "rows": row_contexts,
            "advanced": advanced,
            "definition_json": json.dumps(definition, ensure_ascii=False, indent=2) if advanced else "",
            "error": error,
            "can_write": request.actor.can("segments", "write"),
            "members_url": reverse("customers:list") + f"?segment={segment.pk}" if segment else "",
        },
        status=status,
    )


@require_access("segments", "read")
def segment_new(request):
    if request.method == "POST":
        if not request.actor.can("segments", "write"):
            return render(request, "403.html", {"domain": "segments", "access": "write"}, status=403)
        kind = request.POST.get("kind", Segment.Kind.DYNAMIC)
        definition = forms.definition_from_post(request.POST) if kind == Segment.Kind.DYNAMIC else None
        try:
            segment = actions.segment_create(
                actor=request.actor, name=request.POST.get("name", ""), kind=kind, definition=definition
            )
        except KervanError as exc:
            return _builder(
                request, None, definition=definition, name=request.POST.get("name", ""), error=exc, status=400
            )
        if segment.kind == Segment.Kind.DYNAMIC:
            actions.segment_rebuild(segment=segment)
        messages.success(request, _("Segment saved."))
        return redirect("segments:detail", segment.pk)
    return _builder(request, None)


@require_access("segments", "read")
def segment_detail(request, segment_id: int):
    segment = selectors.segment_get(actor=request.actor, segment_id=segment_id)
    if request.method == "POST":
        if not request.actor.can("segments", "write"):
            return render(request, "403.html", {"domain": "segments", "access": "write"}, status=403)
        definition = forms.definition_from_post(request.POST) if segment.kind == Segment.Kind.DYNAMIC else None
        try:
            actions.segment_update(
                actor=request.actor, segment=segment, name=request.POST.get("name", ""), definition=definition
            )
        except KervanError as exc:
            return _builder(
                request, segment, definition=definition, name=request.POST.get("name", ""), error=exc, status=400
            )
        if segment.kind == Segment.Kind.DYNAMIC:
            actions.segment_rebuild(segment=segment)
        messages.success(request, _("Segment saved."))
        return redirect("segments:detail", segment.pk)
    return _builder(request, segment)


@require_access("segments", "read")
def builder_row(request):
    """One condition row (htmx): a new one, or the same row re-drawn with the operators of its chosen field."""
    row = {
        k: request.GET.get(f"c-{request.GET.get('i', '')}-{k}", "")
        for k in ("field", "op", "value", "value2", "name", "count", "days", "prop", "prop_value", "channel", "purpose")
    }
    row["id"] = request.GET.get("i") or forms.new_row_id()
    if not request.GET.get("i"):
        row["field"] = "city"
    return render(request, "segments/_row.html", _row_context(row, _custom()))


@require_access("segments", "read")
def builder_row_remove(request):
    return HttpResponse("")


@require_access("segments", "read")
@require_POST
def builder_count(request):
    """The live count and a sample of matching customers while editing (htmx)."""
    started = time.perf_counter()
    segment_id = request.POST.get("segment_id") or None
    try:
        definition = forms.definition_from_post(request.POST)
        preview = selectors.segment_preview(
            actor=request.actor, definition=definition, segment_id=int(segment_id) if segment_id else None
        )
    except KervanError as exc:
        return render(request, "segments/_count.html", {"error": exc})
    return render(
        request,
        "segments/_count.html",
        {"preview": preview, "ms": round((time.perf_counter() - started) * 1000)},
    )


@require_access("segments", "read")
@require_POST
def builder_why(request):
    """Each condition, held or failed, for one customer (htmx)."""
    segment_id = request.POST.get("segment_id") or None
    raw = request.POST.get("customer_id", "").strip()
    try:
        if not raw.isdigit():
            raise KervanError(_("Enter a customer id (a number)."), "invalid_customer", field="customer_id")
        definition = forms.definition_from_post(request.POST)
        inside, reasons = selectors.segment_explain(
            actor=request.actor,
            definition=definition,
            customer_id=int(raw),
            segment_id=int(segment_id) if segment_id else None,
        )
    except KervanError as exc:
        return render(request, "segments/_why.html", {"error": exc})
    return render(request, "segments/_why.html", {"inside": inside, "reasons": reasons, "customer_id": raw})


@require_access("segments", "write")
@require_POST
def segment_rebuild(request, segment_id: int):
    segment = selectors.segment_get(actor=request.actor, segment_id=segment_id)
    result = actions.segment_rebuild_now(actor=request.actor, segment=segment)
    messages.success(
        request,
        _("Rebuilt: %(entered)s entered, %(exited)s left, %(members)s members.")
        % {"entered": len(result.entered), "exited": len(result.exited), "members": result.members},
    )
    return redirect("segments:detail", segment.pk)


@require_access("segments", "write")
@require_POST
def segment_upload(request, segment_id: int):
    segment = selectors.segment_get(actor=request.actor, segment_id=segment_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise KervanError(_("Choose a CSV file of email addresses."), "no_file", field="file")
        added, missing = actions.static_list_add_csv(actor=request.actor, segment=segment, data=upload.read())
    except KervanError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            ngettext("%(count)s customer added.", "%(count)s customers added.", added) % {"count": added}
            + (" " + _("%(missing)s emails matched no customer.") % {"missing": missing} if missing else ""),
        )
    return redirect("segments:detail", segment.pk)


@require_access("segments", "write")
@require_POST
def segment_delete(request, segment_id: int):
    segment = selectors.segment_get(actor=request.actor, segment_id=segment_id)
    try:
        actions.segment_delete(actor=request.actor, segment=segment)
    except KervanError as exc:
        messages.error(request, exc.detail)
        return redirect("segments:detail", segment.pk)
    messages.success(request, _("Segment deleted."))
    return redirect("segments:list")
