"""The customer list as the workspace shows it: filters, sorts, columns and bulk actions (kervan.workspace.lists)."""

from django.core.cache import cache
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kervan.core.filters import parse_yes_no
from kervan.customers import actions, selectors
from kervan.customers.export import customers_export_response
from kervan.customers.models import Customer, Tag
from kervan.workspace.lists import BulkAction, Column, Filter, ListSpec
from kervan.workspace.search import SearchHit

FACET_SECONDS = 600


def city_choices() -> list[tuple[str, str]]:
    """The cities customers live in, for the filter: read once per ten minutes from the city index, not per page."""
    cities = cache.get("customers.facet.city")
    if cities is None:
        cities = list(
            Customer.objects.exclude(city="").order_by("city").values_list("city", flat=True).distinct()[:300]
        )
        cache.set("customers.facet.city", cities, FACET_SECONDS)
    return [(c, c) for c in cities]


def segment_choices() -> list[tuple[str, str]]:
    """The segments, for the "Segment" filter: kept in the cache by the segments app (which sits above customers and
    refreshes it whenever a segment changes, and every few minutes), so the list page runs no query for them."""
    return cache.get(SEGMENT_CHOICES_KEY) or []


SEGMENT_CHOICES_KEY = "segments.filter_choices"


def tag_choices() -> list[tuple[str, str]]:
    return [(t, t) for t in Tag.objects.order_by("name").values_list("name", flat=True)[:300]]


CONSENT_CHOICES = (
    ("granted", gettext_lazy("Granted")),
    ("refused", gettext_lazy("Refused")),
    ("unknown", gettext_lazy("Unknown")),
)


def customer_filters(values: dict, sort: str) -> selectors.CustomerFilters:
    """The list's raw values (page or API) as the selector's filters; a bad value raises naming its field."""
    has_orders = values.get("has_orders", "")
    return selectors.CustomerFilters(
        **{k: values.get(k, "") for k in LIST_TEXT_FILTERS},
        has_orders=parse_yes_no(has_orders, "has_orders") if has_orders else None,
        sort=sort,
    )


LIST_TEXT_FILTERS = (
    "q",
    "tag",
    "city",
    "consent_email",
    "consent_sms",
    "min_spent",
    "created_from",
    "created_to",
    "segment",
)


def customer_query(actor, values: dict, sort: str):
    return selectors.customer_list(actor=actor, filters=customer_filters(values, sort))


def customer_search(actor, words: str, limit: int) -> list[SearchHit]:
    """The global search's customers: the newest matching by name, email, phone or city (the list's own search)."""
    qs, _order = selectors.customer_list(actor=actor, filters=selectors.CustomerFilters(q=words))
    return [
        SearchHit(
            title=c.full_name or c.email or str(c.pk),
            url=reverse("customer360:detail", args=[c.pk]),
            subtitle=" · ".join(v for v in (c.email, c.phone, c.city) if v),
        )
        for c in qs.order_by("-created_at")[:limit]
    ]


def _tag(request, actor, ids: list[int], value: str) -> str:
    count = actions.customers_tag(actor=actor, customer_ids=ids, tag=value)
    return ngettext("Tag added to %(count)s customer.", "Tag added to %(count)s customers.", count) % {"count": count}


def customer_export(actor, values: dict, sort: str):
    return customers_export_response(actor=actor, filters=customer_filters(values, sort))


def _export(request, actor, ids: list[int], value: str):
    return customers_export_response(actor=actor, filters=selectors.CustomerFilters(ids=ids))


CUSTOMER_LIST = ListSpec(
    key="customers",
    title=gettext_lazy("Customers"),
    area="customers",
    url_name="customers:list",
    query=customer_query,
    export=customer_export,
    row_template="customers/_rows.html",
    template="customers/list.html",
    columns=(
        Column("customer", gettext_lazy("Customer"), sort="name"),
        Column("contact", gettext_lazy("Contact")),
        Column("city", gettext_lazy("City")),
        Column("orders", gettext_lazy("Orders"), num=True, sort="orders"),
        Column("total_spent", gettext_lazy("Total spent"), num=True, sort="total_spent"),
        Column("last_order", gettext_lazy("Last order"), sort="last_order"),
        Column("consent", gettext_lazy("Consent")),
        Column("created", gettext_lazy("Created"), default=False, sort="newest"),
    ),
    filters=(
        Filter(
            "q",
            gettext_lazy("Search"),
            kind="search",
            placeholder=gettext_lazy("Name, email, phone or city"),
            wide=True,
        ),
        Filter("city", gettext_lazy("City"), kind="choice", choices=city_choices),
        Filter("tag", gettext_lazy("Tag"), kind="choice", choices=tag_choices),
        Filter("segment", gettext_lazy("Segment"), kind="choice", choices=segment_choices),
        Filter("consent_email", gettext_lazy("Email consent"), kind="choice", choices=lambda: CONSENT_CHOICES),
        Filter("consent_sms", gettext_lazy("SMS consent"), kind="choice", choices=lambda: CONSENT_CHOICES),
        Filter(
            "has_orders",
            gettext_lazy("Buyers"),
            kind="choice",
            choices=lambda: (("yes", _("Has ordered")), ("no", _("Never ordered"))),
        ),
        Filter("min_spent", gettext_lazy("Spent at least"), kind="amount"),
        Filter("created_from", gettext_lazy("Created from"), kind="date"),
        Filter("created_to", gettext_lazy("Created until"), kind="date"),
    ),
    sorts=(
        ("newest", gettext_lazy("Newest")),
        ("name", gettext_lazy("Name")),
        ("total_spent", gettext_lazy("Total spent")),
        ("orders", gettext_lazy("Orders")),
        ("last_order", gettext_lazy("Last order")),
        ("oldest", gettext_lazy("Oldest")),
    ),
    bulk=(
        BulkAction("tag", gettext_lazy("Add a tag"), "customers", "write", _tag, needs_value=gettext_lazy("Tag")),
        BulkAction("export", gettext_lazy("Export selected (CSV)"), "exports", "read", _export),
    ),
    empty=gettext_lazy("No customers yet. Import a customer list, connect your tracker, or add one by hand."),
    empty_action=(gettext_lazy("Import customers"), "imports:list"),
)
