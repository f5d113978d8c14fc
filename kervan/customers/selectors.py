"""Reads of customer data: the list (search, filters, sort), the 360 header, duplicates."""

from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.db.models.lookups import Contains, Exact, GreaterThan, GreaterThanOrEqual, LessThan
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core.errors import NotFound, check_choice, check_sort
from kervan.core.filters import date_range, parse_amount, parse_count
from kervan.core.text import search_fold
from kervan.customers.consent_state import consent_latest
from kervan.customers.models import Customer, CustomerStats, CustomFieldDefinition, Identity, Tag, last_order_sort

# Public sort names → the keyset order paginate gets: a non-null key annotated as "by_<sort>" (its own name per sort,
# so a cursor is never read by another sort, and the same whichever way customer_list finds the page).
SORTS = {
    "newest": "-by_newest",
    "oldest": "by_oldest",
    "name": "by_name",
    "total_spent": "-by_total_spent",
    "orders": "-by_orders",
    "last_order": "-by_last_order",
}
# The keys. The first three are served by the customer table's indexes, the last three by the stats table's
# (key, customer) indexes (models.CustomerStats.Meta.indexes).
SORT_KEYS = {
    "newest": lambda: F("created_at"),
    "oldest": lambda: F("created_at"),
    "name": lambda: F("name_key"),
    "total_spent": lambda: F("stats__total_spent"),
    "orders": lambda: F("stats__order_count"),
    "last_order": lambda: last_order_sort("stats__"),
}
STATS_SORTS = ("total_spent", "orders", "last_order")
# Filters that match at most this many customers are served from those customers (read through the filters' own
# indexes, then sorted); more, and the list walks the index of its sort key until it has a page (customer_list).
SELECTIVE = 5000
IDS_INLINE = 500


@dataclass
class CustomerFilters:
    q: str = ""
    tag: str = ""
    city: str = ""
    country: str = ""
    consent_email: str = ""
    consent_sms: str = ""
    has_orders: bool | None = None
    min_spent: str = ""
    created_from: str = ""  # YYYY-MM-DD, the shop's days (both ends included)
    created_to: str = ""
    ids: list[int] = field(default_factory=list)  # just these customers (a bulk selection)
    segment: str = ""  # a segment's id: its members only (kervan.segments keeps them in segment_memberships)
    sort: str = "newest"
    extra: dict = field(default_factory=dict)


def customer_list(*, actor: Actor, filters: CustomerFilters) -> tuple[QuerySet, str]:
    """Active (not merged-away) customers `actor` may see matching `filters`, with stats joined; returns (queryset,
    keyset order for kervan.core.pagination.paginate).

    A page is found one of two ways, whichever reads fewer rows at a million customers:
    - the filters match many customers (or none is set): the database walks the index of the sort key in order and
      stops at a page, checking the filters on each row it passes. For the sorts on totals it walks the stats
      table's index and joins each row back to its customer — "top spenders" reads 51 rows, not a million;
    - they match few (at most SELECTIVE): those customers are read through the filters' own indexes (search
      trigrams, city, tag, created_at, the stats indexes) and sorted. Walking would pass every non-matching row
      before the page: half a second for "ayşe yılmaz" by total spent, more for a small city by last order.
    The choice is made on the data, not on the planner's estimate, which cannot see how a filter and a sort key go
    together (new customers have not spent yet; few of them are "vip"): one extra query reads at most SELECTIVE+1
    ids of the matching customers first."""
    check_sort(filters.sort, SORTS)
    by = SORTS[filters.sort].lstrip("-")
    everyone = actor.scope("customers", Customer.objects.active().select_related("stats"))
    known_count = plain = None
    qs = _filtered(everyone, filters)
    if qs is not everyone:
        ids = list(qs.order_by().values_list("pk", flat=True)[: SELECTIVE + 1])
        if len(ids) <= SELECTIVE:
            key = SORT_KEYS[filters.sort]()
            # COALESCE(key, key) is the key, in a form no index serves: the database reads the few matching rows
            # and sorts them, instead of walking the key's index past every customer who does not match. It reads
            # them by id (SQLite, or a few hundred on PostgreSQL) or again through the filters' indexes, as for the
            # ids: PostgreSQL plans an IN list of thousands slower than it reads the rows.
            if not ids:
                qs = qs.none()
            elif connection.vendor == "sqlite" or len(ids) <= IDS_INLINE:
                qs = qs.filter(pk__in=ids)
            qs = qs.annotate(**{by: Coalesce(key, key)})
            if filters.sort not in STATS_SORTS:  # the page's stats are read for its rows only, not for every match
                qs = qs.select_related(None).prefetch_related("stats")
            qs.known_count = len(ids)  # exact: the list's count needs no query (kervan.workspace.lists.count_rows)
            return qs, SORTS[filters.sort]
    if connection.vendor == "sqlite" and qs is not everyone:
        plain = qs  # counted as it is: the hints below would steer a count away from the filters' indexes
        qs = _filtered(everyone, filters, many=True)
    elif connection.vendor == "sqlite":
        # SQLite has no estimate to show, and counting the active customers reads every row (merged_into_id is in
        # no index): all customers (counted on the smallest index) less the merged ones (their partial index).
        every = actor.scope("customers", Customer.objects.all())
        known_count = lambda: every.count() - every.filter(merged_into__isnull=False).count()  # noqa: E731 (when asked)
    if filters.sort in STATS_SORTS:
        # Every customer has a stats row (stats_create_empty), so the join can be an inner one: that lets the
        # database walk the stats index of the sort key and stop after a page, joining each row back to its customer
        # for the filters (to PostgreSQL's planner customer.id and stats.customer_id are then one value, so the
        # index's (key, customer_id) order is the list's (key, pk) order). Through a LEFT JOIN it reads and sorts
        # every customer: 1.1 s at 1M. The other sorts keep the LEFT JOIN, which a count leaves out.
        qs = qs.filter(stats__isnull=False)
    qs = qs.annotate(**{by: SORT_KEYS[filters.sort]()})
    if known_count is not None:
        qs.known_count = known_count
    elif plain is not None:
        qs.count_from = plain  # (kervan.workspace.lists.count_rows)
    return qs, SORTS[filters.sort]


class _Likely(Func):
    """SQLite's planner hint that a condition holds for most rows: without statistics (ANALYZE) it takes any indexed
    condition for a selective one, and would read a quarter of the customers through the city or stats index and
    sort them rather than walk the list's order. Only for filters known to match many (customer_list)."""

    template = "likelihood(%(expressions)s, 0.9)"
    output_field = BooleanField()


_LOOKUPS = {"exact": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "contains": Contains}


def _filtered(qs: QuerySet, filters: CustomerFilters, *, many: bool = False) -> QuerySet:
    """`qs` narrowed by `filters` (`qs` itself when none is set); a bad value raises naming its field. `many`: the
    filters are known to match many customers (SQLite is told so)."""

    def where(qs: QuerySet, field: str, lookup: str, value) -> QuerySet:
        # (not the sort's own column: a range of created_at is where the newest-first walk starts and stops)
        if (
            many
            and connection.vendor == "sqlite"
            and not (field == "created_at" and filters.sort in ("newest", "oldest"))
        ):
            condition = value if lookup == "exists" else _LOOKUPS[lookup](F(field), value)
            return qs.filter(_Likely(condition))
        return qs.filter(value) if lookup == "exists" else qs.filter(**{f"{field}__{lookup}": value})

    for word in search_fold(filters.q).split():
        qs = where(qs, "search_key", "contains", word)
    if filters.tag:
        # The tag's id first (a small table), so the planner sees which tag (its share of customers differs a lot:
        # "vip" is a quarter, "personel" a few hundred); then a semi-join: one probe of the (customer, tag) index per
        # customer walked, never a row per tag.
        tag_id = Tag.objects.filter(name=filters.tag).values_list("pk", flat=True).first()
        if tag_id is None:
            qs = qs.none()
        else:
            tagged = Exists(Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag_id=tag_id))
            qs = where(qs, "tags", "exists", tagged)
    if filters.city:
        qs = where(qs, "city", "exact", filters.city)
    if filters.country:
        qs = where(qs, "country", "exact", filters.country.upper())
    for channel in ("email", "sms"):
        value = getattr(filters, f"consent_{channel}")
        if value:
            check_choice(value, ("granted", "refused", "unknown"), field=f"consent_{channel}")
            qs = where(qs, f"consent_{channel}", "exact", "" if value == "unknown" else value)
    if filters.has_orders is True:
        qs = where(qs, "stats__order_count", "gt", 0)
    elif filters.has_orders is False:
        qs = where(qs, "stats__order_count", "exact", 0)
    if filters.min_spent:
        qs = where(qs, "stats__total_spent", "gte", parse_amount(filters.min_spent, "min_spent"))
    if filters.created_from or filters.created_to:
        low, high = date_range(
            filters.created_from, filters.created_to, start_field="created_from", end_field="created_to"
        )
        if low:
            qs = where(qs, "created_at", "gte", low)
        if high:
            qs = where(qs, "created_at", "lt", high)
    if filters.ids:
        qs = qs.filter(pk__in=filters.ids)
    if filters.segment:
        segment_id = parse_count(filters.segment, "segment", low=1, high=2**62)
        qs = qs.filter(segment_memberships__segment_id=segment_id)  # unique per (segment, customer): no duplicates
    return qs


def customer_get(*, actor: Actor, customer_id: int) -> Customer:
    """The profile that holds `customer_id`'s data: the customer, or the survivor it was merged into — an old id
    (an unsubscribe link, an integration's stored id) reads and writes the person, never a merged-away shell.
    Compare the result's pk with `customer_id` to know that it moved."""
    rows = actor.scope("customers", Customer.objects.select_related("stats"))
    try:
        customer = rows.get(pk=customer_id)
        while customer.merged_into_id:  # one step: a merge re-points earlier merges at its survivor
            customer = rows.get(pk=customer.merged_into_id)
        return customer
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            gettext("Customer %(customer_id)s does not exist.") % {"customer_id": customer_id}, "customer_not_found"
        )


@dataclass
class Customer360:
    customer: Customer
    stats: CustomerStats
    tags: list[str]
    identities: list[Identity]
    consents: dict  # channel → {"marketing": record|None, "transactional": record|None}, for the current address

    @cached_property
    def custom_fields(self) -> list[tuple[CustomFieldDefinition, object]]:
        """(definition, value) for every field an Admin defined; read only where shown (the API sends the values)."""
        values = self.customer.custom_fields
        return [(d, values.get(d.key)) for d in CustomFieldDefinition.objects.all()]


def customer_360(*, actor: Actor, customer: Customer) -> Customer360:
    """Everything the 360 header shows, in a handful of indexed queries (`customer` came from customer_get)."""
    actor.require("customers", "read")
    stats = getattr(customer, "stats", None) or CustomerStats(customer=customer)
    return Customer360(
        customer=customer,
        stats=stats,
        tags=sorted(customer.tags.values_list("name", flat=True)),
        identities=list(customer.identities.select_related("source").order_by("kind", "value")),
        consents=consent_latest(customer),
    )


DUPLICATE_REASONS = {
    "same_name": _("same name"),
    "same_city": _("same city"),
    "same_birth_date": _("same birth date"),
    "same_email_name": _("same email name"),
    "similar_phone": _("similar phone"),
}


def duplicate_candidates(*, actor: Actor, customer: Customer, limit: int = 20) -> list[tuple[Customer, list[str]]]:
    """Profiles that are probably the same person, each with why: same name plus a matching detail
    (city, birth date, email name, phone) — never the name alone, which is common ("Mehmet Yılmaz")."""
    if not customer.name_key:
        return []
    local = customer.email.split("@")[0] if customer.email else ""
    # The database narrows by name (indexed) and by "one more detail" at once, so a common name with thousands of
    # namesakes among a million customers still costs one small query.
    detail = Q()
    if customer.city:
        detail |= Q(city__iexact=customer.city)
    if customer.birth_date:
        detail |= Q(birth_date=customer.birth_date)
    if local:
        detail |= Q(email__startswith=f"{local}@")
    if customer.phone:
        detail |= Q(phone__endswith=customer.phone[-7:])
    if not detail:
        return []
    candidates = (
        actor.scope("customers", Customer.objects.active())
        .filter(detail, name_key=customer.name_key)
        .exclude(pk=customer.pk)
        .order_by("-created_at")[: limit * 2]
    )
    found = []
    for other in candidates:
        reasons = []
        if customer.city and search_fold(other.city) == search_fold(customer.city):
            reasons.append("same_city")
        if customer.birth_date and other.birth_date == customer.birth_date:
            reasons.append("same_birth_date")
        if local and other.email and other.email.split("@")[0] == local:
            reasons.append("same_email_name")
        if customer.phone and other.phone and other.phone[-7:] == customer.phone[-7:]:
            reasons.append("similar_phone")
        if reasons:
            found.append((other, ["same_name", *reasons]))
        if len(found) >= limit:
            break
    return found
