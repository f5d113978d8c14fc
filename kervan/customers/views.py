"""Customer pages: the list (search, filters, sort, export) and the Customer 360."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.core.web import form_action
from kervan.customers import actions, consent, custom_fields, selectors
from kervan.customers.lists import CUSTOMER_LIST
from kervan.customers.models import CustomFieldDefinition, Gender
from kervan.customers.profile import PROFILE_FIELDS
from kervan.workspace.lists import export_list, render_list


@require_access("customers", "read")
def customer_list(request):
    return render_list(request, CUSTOMER_LIST)


@require_access("exports", "read")
def customer_export(request):
    return export_list(request, CUSTOMER_LIST)


def _form_profile(request) -> dict:
    data = {name: request.POST.get(name, "").strip() for name in PROFILE_FIELDS}
    data["birth_date"] = data["birth_date"] or None
    return data


def _form_custom_fields(request) -> dict:
    return {d.key: request.POST.get(f"cf_{d.key}", "") for d in CustomFieldDefinition.objects.all()}


@require_access("customers", "write")
def customer_create(request):
    form = {}
    if request.method == "POST":
        form = request.POST
        try:
            customer = actions.customer_create(
                actor=request.actor,
                **_form_profile(request),
                custom_fields=_form_custom_fields(request),
                tags=[t for t in request.POST.get("tags", "").split(",") if t.strip()],
            )
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            return redirect("customer360:detail", customer_id=customer.pk)
    return render(
        request,
        "customers/form.html",
        {"form": form, "genders": Gender.choices, "definitions": CustomFieldDefinition.objects.all()},
    )


@require_access("customers", "write")
def customer_edit(request, customer_id: int):
    customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    if request.method == "POST":
        try:
            actions.customer_update(
                actor=request.actor,
                customer=customer,
                **_form_profile(request),
                custom_fields=_form_custom_fields(request),
                tags=[t for t in request.POST.get("tags", "").split(",") if t.strip()],
            )
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Saved."))
            return redirect("customer360:detail", customer_id=customer.pk)
    form = {name: getattr(customer, name) or "" for name in PROFILE_FIELDS}
    form["birth_date"] = customer.birth_date.isoformat() if customer.birth_date else ""
    form["tags"] = ", ".join(customer.tags.order_by("name").values_list("name", flat=True))
    for key, value in customer.custom_fields.items():
        form[f"cf_{key}"] = value
    return render(
        request,
        "customers/form.html",
        {
            "form": form,
            "customer": customer,
            "genders": Gender.choices,
            "definitions": CustomFieldDefinition.objects.all(),
        },
    )


@require_POST
@require_access("customers", "write")
def note_add(request, customer_id: int):
    customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    form_action(request, actions.note_add, customer=customer, body=request.POST.get("body", ""))
    return redirect("customer360:detail", customer_id=customer.pk)


@require_POST
@require_access("customers", "write")
def consent_add(request, customer_id: int):
    customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    form_action(
        request,
        consent.consent_record,
        customer=customer,
        **{name: request.POST.get(name, "") for name in ("channel", "status", "source", "proof", "iys_source")},
    )
    return redirect("customer360:detail", customer_id=customer.pk)


@require_access("customers", "read")
def duplicate_badge(request, customer_id: int):
    """The count of likely duplicates on the Merge button, loaded after the page so it never slows the 360 down."""
    count = len(
        selectors.duplicate_candidates(
            actor=request.actor, customer=selectors.customer_get(actor=request.actor, customer_id=customer_id), limit=9
        )
    )
    return HttpResponse(
        format_html('<span class="pill" title="{}">{}</span>', _("Likely duplicates"), count) if count else ""
    )


MERGE_SEARCH_HITS = 10


def _merge_search_hits(request, survivor) -> tuple[str, list]:
    """The profiles matching the search box (the customer list's own search), the survivor left out."""
    words = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    if len(words) < 2:
        return words, []
    rows, _order = selectors.customer_list(actor=request.actor, filters=selectors.CustomerFilters(q=words))
    return words, list(rows.exclude(pk=survivor.pk).order_by("-created_at")[:MERGE_SEARCH_HITS])


@require_access("customers", "write")
def customer_merge(request, customer_id: int):
    """Find the other profile (search by name, email, phone or city; a suggested duplicate; or its number), see both
    side by side, confirm."""
    survivor = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    other_id = request.POST.get("merged_id") or request.GET.get("with")
    other = None
    if other_id:
        try:
            other = selectors.customer_get(actor=request.actor, customer_id=int(other_id))
        except (KervanError, ValueError):
            messages.error(request, _("No customer with that number."))
    if request.method == "POST" and other is not None:
        try:
            actions.customer_merge(actor=request.actor, survivor=survivor, merged=other)
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Profiles merged."))
            return redirect("customer360:detail", customer_id=survivor.pk)
    words, hits = _merge_search_hits(request, survivor)
    return render(
        request,
        "customers/merge.html",
        {
            "customer": survivor,
            "other": other,
            "q": words,
            "hits": hits,
            "candidates": [
                (candidate, [selectors.DUPLICATE_REASONS[r] for r in reasons])
                for candidate, reasons in selectors.duplicate_candidates(actor=request.actor, customer=survivor)
            ],
        },
    )


@require_access("customers", "write")
def customer_merge_search(request, customer_id: int):
    """The merge page's search box as you type (htmx): the matching profiles, each with a Compare link."""
    survivor = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    words, hits = _merge_search_hits(request, survivor)
    return render(request, "customers/_merge_search.html", {"customer": survivor, "q": words, "hits": hits})


@require_access("settings", "read")
def custom_field_list(request):
    if request.method == "POST":
        if not request.actor.can("settings", "write"):
            return render(request, "403.html", {"domain": "settings", "access": "write"}, status=403)
        try:
            if request.POST.get("delete"):
                custom_fields.custom_field_delete(actor=request.actor, key=request.POST["delete"])
            else:
                custom_fields.custom_field_define(
                    actor=request.actor,
                    key=request.POST.get("key", "").strip(),
                    label=request.POST.get("label", ""),
                    field_type=request.POST.get("field_type", ""),
                    choices=request.POST.get("choices", "").split(","),
                    required=request.POST.get("required") == "on",
                )
        except KervanError as exc:
            messages.error(request, exc.detail)
        return redirect("customers:custom_fields")
    return render(
        request,
        "customers/custom_fields.html",
        {
            "definitions": CustomFieldDefinition.objects.all(),
            "types": CustomFieldDefinition.FieldType.choices,
        },
    )
