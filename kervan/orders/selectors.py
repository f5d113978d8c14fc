"""Reads of orders: one order, the order list (search, filters, sorts) that the list page, its export and the API
share, the global search's order hits, the orders that contain a product, and the per-product daily sales that
the catalogue's rollup stores (kervan.catalog.sales)."""

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError, NotFound, check_choice
from kervan.core.filters import date_range, day_start, parse_amount, parse_count, parse_date, parse_yes_no
from kervan.core.models import Source
from kervan.core.text import search_fold
from kervan.customers.models import Customer
from kervan.orders.models import Order, OrderLine, OrderStatus, Return, SalesChannel, Shipment

# Public sort names → the one non-null field the keyset pagination orders by (the primary key breaks ties).
# Each is served by an index (kervan/orders/models.py): placed_at by order_time_idx (both directions), total by
# order_total_idx (total, id), number by order_number_idx (kervan/orders/migrations/0007_order_list_indexes.py).
SORTS = {
    "newest": "-placed_at",
    "oldest": "placed_at",
    "total": "-total",
    "number": "number",
}
HAS_RETURN = ("yes", "no", "waiting")
# A search word matching at most this many customers is sent to the database as a list of ids, which PostgreSQL
# combines with the number and tracking matches in one bitmap of index scans; more (a common first name) go as a
# subquery, and the newest-first walk of the orders finds their orders quickly because they are many.
CUSTOMER_IDS_INLINE = 2000
IDENTIFIER_MATCHES = 1000  # orders an order-number prefix or a tracking number may name at most
# A search matching at least this share of all customers is checked order by order instead (see _search).
COMMON_SHARE = 0.01
MAX_ID = 2**63 - 1


@dataclass
class OrderFilters:
    """The order list's filters as typed (page query string or API parameters): the selector parses and checks them,
    and a bad value is refused naming its field (the list page shows it beside that filter)."""

    q: str = ""  # an order number (exact or prefix), a customer's name/email/phone, or a tracking number
    status: list[str] = field(default_factory=list)  # any of these
    sales_channel: str = ""
    source: str = ""  # a Source key
    placed_from: str = ""  # YYYY-MM-DD, the shop's days (both ends included)
    placed_to: str = ""
    min_total: str = ""
    max_total: str = ""
    has_return: str = ""  # yes / no / waiting (a return still waiting for its money: Return.waiting)
    has_refund: str = ""  # yes / no
    customer: str = ""  # a customer id
    since: dt.datetime | None = None  # exact instants (the API's older since/until parameters)
    until: dt.datetime | None = None
    ids: list[int] = field(default_factory=list)  # just these orders (a bulk selection)
    sort: str = "newest"


def order_get(*, actor: Actor, order_id: int) -> Order:
    try:
        return actor.scope("orders", Order.objects.select_related("source")).get(pk=order_id)
    except Order.DoesNotExist:
        raise NotFound(_("Order %(order_id)s does not exist.") % {"order_id": order_id}, "order_not_found")


def order_list(*, actor: Actor, filters: OrderFilters) -> tuple[QuerySet, str]:
    """Orders `actor` may see matching `filters`; returns (queryset, keyset order for kervan.core.pagination)."""
    if filters.sort not in SORTS:
        raise KervanError(
            _("sort must be one of %(choices)s.") % {"choices": ", ".join(SORTS)}, "invalid_sort", field="sort"
        )
    qs = actor.scope("orders", Order.objects.all())
    statuses = [s for raw in filters.status for s in str(raw).split(",") if s.strip()]
    if statuses:
        qs = qs.filter(status__in=[check_choice(s.strip(), OrderStatus, field="status") for s in statuses])
    if filters.sales_channel:
        qs = qs.filter(sales_channel=check_choice(filters.sales_channel, SalesChannel, field="sales_channel"))
    if filters.source:
        source_id = Source.objects.filter(key=filters.source).values_list("pk", flat=True).first()
        if source_id is None:
            raise KervanError(
                _("source: there is no source '%(key)s'.") % {"key": filters.source}, "invalid_choice", field="source"
            )
        qs = qs.filter(source_id=source_id)
    if filters.placed_from or filters.placed_to:
        check_day(filters.placed_from, "placed_from")
        check_day(filters.placed_to, "placed_to")
        low, high = date_range(filters.placed_from, filters.placed_to, start_field="placed_from", end_field="placed_to")
        if low:
            qs = qs.filter(placed_at__gte=low)
        if high:
            qs = qs.filter(placed_at__lt=high)
    if filters.since:
        qs = qs.filter(placed_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(placed_at__lt=filters.until)
    low_total = parse_amount(filters.min_total, "min_total") if filters.min_total else None
    high_total = parse_amount(filters.max_total, "max_total") if filters.max_total else None
    if low_total is not None and high_total is not None and high_total < low_total:
        raise KervanError(
            _("%(end)s must not be less than %(start)s.") % {"end": "max_total", "start": "min_total"},
            "invalid_range",
            field="max_total",
        )
    if low_total is not None:
        qs = qs.filter(total__gte=low_total)
    if high_total is not None:
        qs = qs.filter(total__lte=high_total)
    if filters.has_return:
        value = check_choice(str(filters.has_return).strip().lower(), HAS_RETURN, field="has_return")
        returned = Exists(Return.objects.filter(order=OuterRef("pk")))
        if value == "no":
            qs = qs.filter(~returned)
        elif value == "waiting":
            qs = qs.filter(Exists(Return.objects.filter(order=OuterRef("pk"), waiting=True)))
        else:
            qs = qs.filter(returned)
    if filters.has_refund:
        if parse_yes_no(str(filters.has_refund), "has_refund"):
            qs = qs.filter(refunded_total__gt=0)
        else:
            qs = qs.filter(refunded_total=0)
    if filters.customer:
        qs = qs.filter(customer_id=parse_count(str(filters.customer), "customer", low=1, high=MAX_ID))
    if filters.ids:
        qs = qs.filter(pk__in=filters.ids)
    if filters.q.strip():  # last: its look-ups run only once every other value has been accepted
        qs = qs.filter(_search(filters.q))
    return qs, SORTS[filters.sort]


def check_day(value: str, field: str) -> None:
    """Refuse a date no order can have (year 1 or 9999 would overflow the time-zone arithmetic) naming its field."""
    if value and not 1900 <= parse_date(value, field).year <= 2999:
        raise KervanError(
            _("%(field)s must be a date between the years 1900 and 2999.") % {"field": field},
            "invalid_date",
            field=field,
        )


def number_forms(words: str) -> list[str]:
    """The spellings an order number may be stored in for what was typed: as typed, upper-cased ("k1001" for
    "K1001"), and with or without the "#" shops print before it."""
    typed = words.strip()
    forms = [typed, typed.upper()]
    for form in list(forms):
        forms.append(form[1:] if form.startswith("#") else f"#{form}")
    return list(dict.fromkeys(f for f in forms if f and f != "#"))


def number_starts_with(form: str) -> Q:
    """Orders whose number starts with `form`, as the number index can answer it. SQLite's LIKE is case-blind, so
    it cannot use the (case-sensitive) index: there the prefix is the key range [form, form with its last
    character moved one up), exact under SQLite's byte order (a scan of a million orders otherwise: 270 ms).
    PostgreSQL's LIKE 'K1%' uses the index (a pattern index outside the C collation, orders/0007)."""
    if connection.vendor == "sqlite" and form and ord(form[-1]) < 0x10FFFF:
        return Q(number__gte=form, number__lt=form[:-1] + chr(ord(form[-1]) + 1))
    return Q(number__startswith=form)


def _search(words: str) -> Q:
    """Orders whose number is or starts with `words`, whose shipment has that tracking number, or whose customer
    matches every word the way the customer list searches (Turkish-folded name, email, phone)."""
    match = Q()
    if not any(ch.isspace() for ch in words.strip()):  # numbers and tracking numbers are one word
        forms = number_forms(words)
        by_number = Q()
        for form in forms:
            by_number |= number_starts_with(form)
        # What was typed is an order number (or its beginning) or a tracking number: those orders, found from their
        # indexes, are the answer. OR-ed with the customer search below, PostgreSQL would walk every order by time
        # checking each (11–13 s at 10M orders, bench/lists.py).
        found = list(Order.objects.filter(by_number).values_list("pk", flat=True)[:IDENTIFIER_MATCHES])
        found += Shipment.objects.filter(tracking_number__in=forms).values_list("order_id", flat=True)[
            :IDENTIFIER_MATCHES
        ]
        if found:
            return Q(pk__in=sorted(set(found)))
    folded = search_fold(words).split()
    if folded:
        people = Customer.objects.active()
        for word in folded:
            people = people.filter(search_key__contains=word)
        ids = list(people.values_list("pk", flat=True)[: CUSTOMER_IDS_INLINE + 1])
        if len(ids) <= CUSTOMER_IDS_INLINE:
            if ids:
                match |= Q(customer_id__in=ids)
        elif _common(people):
            # So many customers match ("ayşe") that their orders are everywhere: walking the orders in the list's
            # order and checking each one's customer finds a page after a few hundred orders, where collecting the
            # tens of thousands of matching customers first would cost more than the page.
            by_customer = Q()
            for word in folded:
                by_customer &= Q(customer__search_key__contains=word)
            match |= by_customer
        else:
            match |= Q(customer_id__in=Subquery(people.values("pk")))
    return match if match else Q(pk__in=[])  # nothing matched anywhere: no order


def _common(people: QuerySet) -> bool:
    """Whether the planner expects at least COMMON_SHARE of all customers to match (PostgreSQL; SQLite's lists are
    small enough for the subquery either way)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        sql, params = people.values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        expected = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Customer._meta.db_table])
        row = cursor.fetchone()
    total = max(row[0] if row else 0, 1)
    return expected >= COMMON_SHARE * total


def order_search(*, actor: Actor, words: str, limit: int) -> list[Order]:
    """The global search's orders: the order with exactly that number (or tracking number); failing that, orders
    whose number starts with it. Index look-ups only."""
    rows = actor.scope("orders", Order.objects.select_related("customer"))
    forms = number_forms(words)
    if not forms:
        return []
    # The tracking matches go in as ids, so the number and id look-ups combine as two index scans (an OR with a
    # subquery would read every order).
    tracked = list(Shipment.objects.filter(tracking_number__in=forms).values_list("order_id", flat=True)[:limit])
    exact = rows.filter(Q(number__in=forms) | Q(pk__in=tracked))
    found = list(exact.order_by("-placed_at", "-pk")[:limit])
    if found or len(words.strip()) < 2:
        return found
    prefix = Q()
    for form in forms:
        prefix |= number_starts_with(form)
    # A few hundred matches found by the number index first, then ordered: ordering all orders by number and
    # filtering would walk the whole index when nothing starts with the words.
    first = Order.objects.filter(prefix).values("pk")[:200]
    return list(rows.filter(pk__in=Subquery(first)).order_by("number", "pk")[:limit])


def orders_with_product(*, actor: Actor, variant_ids: Iterable[int], limit: int = 10) -> list[Order]:
    """The latest orders with a line of one of these variants (a product's page), newest first."""
    variant_ids = list(variant_ids)
    if not variant_ids:
        return []
    rows = actor.scope("orders", Order.objects.select_related("customer"))
    # The lines' variant index finds the product's lines; the newest order ids among them are the newest orders.
    order_ids = list(
        OrderLine.objects.filter(variant_id__in=variant_ids)
        .order_by("-order_id")
        .values_list("order_id", flat=True)
        .distinct()[: limit * 2]
    )
    return list(rows.filter(pk__in=order_ids).order_by("-placed_at", "-pk")[:limit])


# --- the per-product daily sales behind the product list (kervan.catalog.sales stores them) ---------------------------


def product_sales(first: dt.date, last: dt.date) -> list[tuple[int, dt.date, int, Decimal]]:
    """(product id, shop day, units, revenue) over the orders placed on the shop's days first..last (both included):
    every order but cancelled ones, lines of a known variant; revenue in the reporting currency (lines of an order
    still awaiting its exchange rate count their units but no revenue until kervan.catalog.sales refreshes the day).
    One aggregate over the days' orders (order_time_idx) and their lines."""
    zone = timezone.get_default_timezone()
    lines = (
        OrderLine.objects.filter(
            order__placed_at__gte=day_start(first),
            order__placed_at__lt=day_start(last + dt.timedelta(days=1)),
            variant__isnull=False,
        )
        .exclude(order__status=OrderStatus.CANCELLED)
        .annotate(day=TruncDate("order__placed_at", tzinfo=zone))
        .values("variant__product_id", "day")
        .annotate(units=Sum("quantity"), revenue=Sum(F("total") * F("order__reporting_rate")))
        .order_by()
    )
    return [
        (row["variant__product_id"], row["day"], int(row["units"] or 0), Decimal(row["revenue"] or 0)) for row in lines
    ]


def orders_since(mark: int | None) -> tuple[set[dt.date], int]:
    """The shop days of the orders recorded after order id `mark` (new orders, or an import of past ones), and the
    newest order id: the catalogue's sales rollup refreshes those days. With no mark yet, no days (the rollup fills
    the days it has never seen anyway) — so the first look never scans every order."""
    newest = Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if mark is None or newest <= mark:
        return set(), max(newest, mark or 0)
    zone = timezone.get_default_timezone()
    newer = Order.objects.filter(pk__gt=mark, pk__lte=newest)
    days = set(newer.annotate(day=TruncDate("placed_at", tzinfo=zone)).values_list("day", flat=True).distinct())
    return days, newest


def first_order_day() -> dt.date | None:
    """The shop day of the earliest order (how far back the product sales rollup can go)."""
    first = Order.objects.order_by("placed_at").values_list("placed_at", flat=True).first()
    return timezone.localdate(first, timezone.get_default_timezone()) if first else None
