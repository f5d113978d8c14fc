"""Reads of the catalogue: the product list (search, filters, sorts, stock, units sold and revenue in a period), one
product, and the global search's products.

Units sold and revenue in a period come from the daily per-product rollup (ProductDailySales, kept fresh by
kervan.catalog.sales) and never from order lines. Measured on PostgreSQL 15 with 2M orders / 5M lines placed at
~9,000 orders a day (the density of 10M orders over three years), on a shared, loaded 2-core machine:

- the 30-day figures of every product from the order lines (join orders → lines → variants, GROUP BY product,
  ORDER BY units, LIMIT 51): 3.2–5.3 s per request — it reads ~270k orders and ~680k lines each time;
- the same page from the rollup (one correlated sum over ≤30 rows per product, index (product, day)): 1.2 ms;
- keeping the rollup fresh costs each request three small look-ups (the mark, the newest order id, the period's
  SalesDay rows); counting one day into it takes ~0.2 s, a 31-day stretch ~4.5 s, paid once per day (the nightly
  `product_sales_refresh` counts them before anyone asks).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.catalog import sales
from kervan.catalog.models import Category, Product, ProductDailySales, StockLevel, Variant
from kervan.core import clock
from kervan.core.errors import KervanError, NotFound
from kervan.core.filters import parse_count, parse_date, parse_yes_no
from kervan.core.text import search_fold

# Public sort names → the one non-null value the keyset pagination orders by (the primary key breaks ties).
SORTS = {
    "newest": "-created_at",
    "name": "search_key",
    "units_sold": "-units_sold",
    "revenue": "-revenue",
    "stock": "stock_total",  # lowest first: what to restock
}
DEFAULT_PERIOD_DAYS = 30
MAX_ID = 2**63 - 1


def low_stock_default() -> int:
    """The stock at or below which a variant without its own threshold is low (settings.KERVAN_LOW_STOCK_DEFAULT)."""
    return int(getattr(settings, "KERVAN_LOW_STOCK_DEFAULT", 5))


@dataclass
class ProductFilters:
    q: str = ""  # words of the name (Turkish-folded), or a SKU (exact or prefix)
    category: str = ""  # a category id (its sub-categories included)
    low_stock: str = ""  # yes: a variant at or below its threshold; no: none
    sold_from: str = ""  # YYYY-MM-DD; the period of units sold and revenue (default: the last 30 days)
    sold_to: str = ""
    ids: list[int] = field(default_factory=list)
    sort: str = "newest"


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def sales_period(sold_from: str = "", sold_to: str = "") -> Period:
    """The period the figures cover: both ends included, the last 30 days unless given, at most a year."""
    last = _day(sold_to, "sold_to") if sold_to else clock.localdate()
    first = _day(sold_from, "sold_from") if sold_from else last - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if last < first:
        raise KervanError(
            _("%(end)s must not be before %(start)s.") % {"end": "sold_to", "start": "sold_from"},
            "invalid_range",
            field="sold_to",
        )
    if (last - first).days >= sales.MAX_PERIOD_DAYS:
        raise KervanError(
            _("The sales period can be at most %(days)s days.") % {"days": sales.MAX_PERIOD_DAYS},
            "invalid_range",
            field="sold_from",
        )
    return Period(first, last)


def _day(value: str, field: str) -> dt.date:
    """A date of the sales period; years no sale can have (1, 9999) would overflow the time-zone arithmetic."""
    day = parse_date(value, field)
    if not 1900 <= day.year <= 2999:
        raise KervanError(
            _("%(field)s must be a date between the years 1900 and 2999.") % {"field": field},
            "invalid_date",
            field=field,
        )
    return day


def _period_sum(column: str, period: Period, output) -> Coalesce:
    rows = (
        ProductDailySales.objects.filter(product=OuterRef("pk"), day__gte=period.first, day__lte=period.last)
        .order_by()
        .values("product")
        .annotate(total=Sum(column))
        .values("total")
    )
    zero = Value(Decimal("0.00") if isinstance(output, DecimalField) else 0, output_field=output)
    return Coalesce(Subquery(rows, output_field=output), zero, output_field=output)


def product_list(*, actor: Actor, filters: ProductFilters) -> tuple[QuerySet, str]:
    """Products matching `filters`, each annotated with stock_total, units_sold and revenue (in the reporting
    currency) over the period, and `period`; returns (queryset, keyset order)."""
    if filters.sort not in SORTS:
        raise KervanError(
            _("sort must be one of %(choices)s.") % {"choices": ", ".join(SORTS)}, "invalid_sort", field="sort"
        )
    qs = actor.scope("catalog", Product.objects.all())
    if filters.category:
        category = parse_count(filters.category, "category", low=1, high=MAX_ID)
        if not Category.objects.filter(pk=category).exists():
            raise KervanError(
                _("category: there is no category %(id)s.") % {"id": category}, "invalid_choice", field="category"
            )
        qs = qs.filter(Q(category_id=category) | Q(category__parent_id=category))
    if filters.low_stock:
        low = Exists(
            StockLevel.objects.filter(
                variant__product=OuterRef("pk"),
                quantity__lte=Coalesce("variant__low_stock_threshold", Value(low_stock_default())),
            )
        )
        qs = qs.filter(low if parse_yes_no(filters.low_stock, "low_stock") else ~low)
    if filters.ids:
        qs = qs.filter(pk__in=filters.ids)
    period = sales_period(filters.sold_from, filters.sold_to)
    q = filters.q.strip()
    if q:  # after the checks above: its look-up runs only once every value has been accepted
        by_name = Q()
        for word in search_fold(q).split():
            by_name &= Q(search_key__contains=word)
        skus = list(dict.fromkeys((q, q.upper())))
        by_sku = Q()
        for sku in skus:
            by_sku |= Q(sku__startswith=sku)
        sku_products = list(Variant.objects.filter(by_sku).values_list("product_id", flat=True)[:1000])
        qs = qs.filter(by_name | Q(pk__in=sku_products)) if sku_products else qs.filter(by_name)
    sales.ensure_days(period.first, period.last)
    stock = (
        StockLevel.objects.filter(variant__product=OuterRef("pk"))
        .order_by()
        .values("variant__product")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    qs = qs.annotate(
        stock_total=Coalesce(Subquery(stock, output_field=IntegerField()), Value(0)),
        units_sold=_period_sum("units", period, IntegerField()),
        revenue=_period_sum("revenue", period, DecimalField(max_digits=16, decimal_places=2)),
    )
    return qs, SORTS[filters.sort]


def with_variants(qs: QuerySet) -> QuerySet:
    """`qs` with each product's variants and their stock in one more query (the list's rows, the export)."""
    return qs.select_related("category").prefetch_related(
        Prefetch("variants", queryset=Variant.objects.select_related("stock").order_by("pk"))
    )


def product_get(*, actor: Actor, product_id: int) -> Product:
    try:
        return with_variants(actor.scope("catalog", Product.objects.all())).get(pk=product_id)
    except (Product.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            _("Product %(product_id)s does not exist.") % {"product_id": product_id}, "product_not_found"
        ) from None


def product_sales_days(*, product: Product, period: Period) -> list[ProductDailySales]:
    """One product's days with sales in `period`, oldest first (its page's figures)."""
    sales.ensure_days(period.first, period.last)
    return list(product.daily_sales.filter(day__gte=period.first, day__lte=period.last).order_by("day"))


def product_search(*, actor: Actor, words: str, limit: int) -> list[Product]:
    """The global search's products: a SKU exactly, then names starting with the words, then names containing
    every word (Turkish-folded; the search key's indexes)."""
    rows = actor.scope("catalog", Product.objects.prefetch_related("variants"))
    typed = words.strip()
    found: list[Product] = list(
        rows.filter(pk__in=Variant.objects.filter(sku__in={typed, typed.upper()}).values("product_id"))[:limit]
    )
    folded = search_fold(typed)
    if not folded or len(found) >= limit:
        return found
    seen = [p.pk for p in found]
    found += list(rows.filter(search_key__startswith=folded).exclude(pk__in=seen).order_by("search_key")[:limit])
    if len(found) < limit:
        contains = rows.exclude(pk__in=[p.pk for p in found])
        for word in folded.split():
            contains = contains.filter(search_key__contains=word)
        found += list(contains.order_by("search_key")[: limit - len(found)])
    return found[:limit]
