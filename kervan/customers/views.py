"""Customer pages: the list (search, filters, sort, export) and the Customer 360."""

from django.contrib import messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.text import Truncator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from kervan.accounts.context_processors import who_label
from kervan.accounts.decorators import require_access
from kervan.core.audit import audit_view
from kervan.core.errors import KervanError
from kervan.core.pagination import paginate
from kervan.core.web import form_action
from kervan.customers import actions, consent, custom_fields, selectors, timeline
from kervan.customers.cache import cached_360
from kervan.customers.export import customers_export_response
from kervan.customers.models import ConsentRecord, Customer, CustomFieldDefinition, Gender, Tag

FILTER_PARAMS = ("q", "tag", "city", "consent_email", "consent_sms", "min_spent", "sort")


def _filters(request) -> selectors.CustomerFilters:
    params = {name: request.GET.get(name, "").strip() for name in FILTER_PARAMS}
    params["sort"] = params["sort"] or "newest"
    has_orders = request.GET.get("has_orders")
    return selectors.CustomerFilters(**params, has_orders={"yes": True, "no": False}.get(has_orders))


@require_access("customers", "read")
def customer_list(request):
    filters = _filters(request)
    try:
        qs, order = selectors.customer_list(filters)
        page = paginate(qs, order=order, cursor=request.GET.get("cursor") or None, limit=50)
    except KervanError as exc:
        messages.error(request, exc.detail)
        return redirect("customers:list")
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "filters": filters,
        "has_orders": request.GET.get("has_orders", ""),
        "query": query.urlencode(),
        "tags": Tag.objects.order_by("name").values_list("name", flat=True)[:200],
        "cities": Customer.objects.exclude(city="").order_by("city").values_list("city", flat=True).distinct()[:300],
        "sorts": [
            ("newest", _("Newest")),
            ("name", _("Name")),
            ("total_spent", _("Total spent")),
            ("orders", _("Orders")),
            ("last_order", _("Last order")),
            ("oldest", _("Oldest")),
        ],
    }
    template = "customers/_rows.html" if request.htmx and request.GET.get("cursor") else "customers/list.html"
    return render(request, template, context)


@require_access("exports", "read")
def customer_export(request):
    return customers_export_response(actor=request.actor, filters=_filters(request))


TIMELINE_KINDS = [
    ("event", _lazy("Events")),
    ("order", _lazy("Orders")),
    ("return", _lazy("Returns")),
    ("refund", _lazy("Refunds")),
    ("note", _lazy("Notes")),
    ("merge", _lazy("Merges")),
    ("consent", _lazy("Consent")),
]
# The 360 page is rendered once per customer, language and role with these placeholders where each response
# differs (the viewer's CSRF token, name and the page's own address), then filled in per response: a cached view
# renders no template at all.
_HOLES = {"csrf_token": "kervan-hole-csrf-token", "who": "kervan-hole-who", "here": "kervan-hole-here"}


@require_access("customers", "read")
def customer_detail(request, customer_id: int):
    kinds = [k for k in request.GET.getlist("kind") if k in timeline.KINDS]
    cursor = request.GET.get("cursor") or None
    if request.htmx and cursor:
        customer = selectors.customer_get(customer_id)
        return render(request, "customers/_timeline_items.html", _timeline_page(customer, kinds, cursor))

    def build() -> dict:
        return _render_360(request, customer_id, kinds=kinds, cursor=cursor)

    if kinds or cursor or messages.get_messages(request):
        page = build()  # a filtered or later timeline page, or one-off messages to show: not cached
    else:  # the first view of a profile, by far the most frequent
        page = cached_360(customer_id, f"page:{get_language()}:{request.user.role}", build)
    if page["merged_into"]:
        messages.info(request, _("This profile was merged into another one."))
        return redirect("customers:detail", customer_id=page["merged_into"])
    audit_view(actor=request.actor, customer_id=customer_id)
    html = page["html"]
    for name, value in (
        ("csrf_token", get_token(request)),
        ("who", escape(who_label(request.user))),
        ("here", escape(request.get_full_path())),
    ):
        html = html.replace(_HOLES[name], value)
    return HttpResponse(html)


def _render_360(request, customer_id: int, *, kinds: list[str], cursor: str | None) -> dict:
    """The 360 page as HTML with _HOLES, or where a merged profile went."""
    customer = selectors.customer_get(customer_id)
    if customer.merged_into_id:
        return {"merged_into": customer.merged_into_id, "html": ""}
    context = {
        **_timeline_page(customer, kinds, cursor),
        "view": selectors.customer_360(customer),
        "all_kinds": TIMELINE_KINDS,
        "recent_orders": customer.orders.order_by("-placed_at")[:5],
        "channels": ConsentRecord.Channel.choices,
        "iys_sources": ConsentRecord.IysSource.choices,
        **_HOLES,
    }
    return {"merged_into": None, "html": render_to_string("customers/detail.html", context, request=request)}


def _timeline_page(customer, kinds: list[str], cursor: str | None) -> dict:
    """What the timeline templates show: one page of entries (item, presented) and the cursor for the next."""
    items, next_cursor = timeline.customer_timeline(customer_id=customer.pk, kinds=kinds or None, cursor=cursor)
    entries = [(item, _shown_on_page(item)) for item in items]
    return {"customer": customer, "entries": entries, "next_cursor": next_cursor, "kinds": kinds}


def _shown_on_page(item) -> dict:
    """timeline_present plus the text the page prints for it, made here: for 30 entries, template filters and
    loops cost more than the rest of building an uncached 360 page (dates, an event's first four properties)."""
    shown = timeline.timeline_present(item)
    when = timezone.localtime(item.occurred_at)
    shown["when"], shown["when_iso"] = when.strftime("%d.%m.%Y %H:%M"), when.isoformat()
    if item.kind == "event" and shown["data"]:
        first = list(shown["data"].items())[:4]
        shown["summary"] = " · ".join(f"{key}: {Truncator(value).chars(60)}" for key, value in first)
    return shown


def _form_profile(request) -> dict:
    data = {name: request.POST.get(name, "").strip() for name in actions.PROFILE_FIELDS}
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
            return redirect("customers:detail", customer_id=customer.pk)
    return render(
        request,
        "customers/form.html",
        {"form": form, "genders": Gender.choices, "definitions": CustomFieldDefinition.objects.all()},
    )


@require_access("customers", "write")
def customer_edit(request, customer_id: int):
    customer = selectors.customer_get(customer_id)
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
            return redirect("customers:detail", customer_id=customer.pk)
    form = {name: getattr(customer, name) or "" for name in actions.PROFILE_FIELDS}
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
    customer = selectors.customer_get(customer_id)
    form_action(request, actions.note_add, customer=customer, body=request.POST.get("body", ""))
    return redirect("customers:detail", customer_id=customer.pk)


@require_POST
@require_access("customers", "write")
def consent_add(request, customer_id: int):
    customer = selectors.customer_get(customer_id)
    form_action(
        request,
        consent.consent_record,
        customer=customer,
        **{name: request.POST.get(name, "") for name in ("channel", "status", "source", "proof", "iys_source")},
    )
    return redirect("customers:detail", customer_id=customer.pk)


@require_access("customers", "read")
def duplicate_badge(request, customer_id: int):
    """The count of likely duplicates on the Merge button, loaded after the page so it never slows the 360 down."""
    count = len(selectors.duplicate_candidates(selectors.customer_get(customer_id), limit=9))
    return HttpResponse(
        format_html('<span class="pill" title="{}">{}</span>', _("Likely duplicates"), count) if count else ""
    )


@require_access("customers", "write")
def customer_merge(request, customer_id: int):
    """Pick a suggested duplicate (or type an id), see both side by side, confirm."""
    survivor = selectors.customer_get(customer_id)
    other_id = request.POST.get("merged_id") or request.GET.get("with")
    other = None
    if other_id:
        try:
            other = selectors.customer_get(int(other_id))
        except (KervanError, ValueError):
            messages.error(request, _("No customer with that number."))
    if request.method == "POST" and other is not None:
        try:
            actions.customer_merge(actor=request.actor, survivor=survivor, merged=other)
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Profiles merged."))
            return redirect("customers:detail", customer_id=survivor.pk)
    return render(
        request,
        "customers/merge.html",
        {
            "customer": survivor,
            "other": other,
            "candidates": [
                (candidate, [selectors.DUPLICATE_REASONS[r] for r in reasons])
                for candidate, reasons in selectors.duplicate_candidates(survivor)
            ],
        },
    )


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
