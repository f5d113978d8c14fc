"""CSV export of products with their stock and sales in a period, streamed (the customers' export writer: a BOM
for Excel, spreadsheet-formula-safe cells)."""

from django.conf import settings
from django.http import StreamingHttpResponse

from kervan.catalog import selectors
from kervan.core.audit import audit
from kervan.customers.export import export_stream

EXPORT_COLUMNS = (
    "id",
    "title",
    "brand",
    "category",
    "skus",
    "variants",
    "stock_total",
    "units_sold",
    "revenue",
    "currency",
    "sold_from",
    "sold_to",
    "created_at",
)


def export_rows(qs, period: selectors.Period):
    yield EXPORT_COLUMNS
    currency = settings.KERVAN_REPORTING_CURRENCY
    for p in qs.iterator(chunk_size=1000):
        variants = list(p.variants.all())
        yield (
            p.pk,
            p.title,
            p.brand,
            p.category.name if p.category else "",
            " ".join(v.sku for v in variants),
            len(variants),
            p.stock_total,
            p.units_sold,
            p.revenue,
            currency,
            period.first.isoformat(),
            period.last.isoformat(),
            p.created_at.isoformat(),
        )


def products_export_response(*, actor, filters: selectors.ProductFilters) -> StreamingHttpResponse:
    """The filtered product list as a streamed CSV download, audited."""
    actor.require("catalog", "read")
    actor.require("exports", "read")
    qs, order = selectors.product_list(actor=actor, filters=filters)
    period = selectors.sales_period(filters.sold_from, filters.sold_to)
    audit(
        actor=actor,
        action="export",
        object_type="catalog.product",
        changes={"filters": {k: v for k, v in vars(filters).items() if v not in ("", None, [], {})}},
    )
    ordering = (order, "-pk" if order.startswith("-") else "pk")
    rows = export_rows(selectors.with_variants(qs).order_by(*ordering), period)
    response = StreamingHttpResponse(export_stream(rows), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="kervan-products.csv"'
    return response
