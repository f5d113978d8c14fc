"""The order list as the workspace shows it: filters, sorts, columns, bulk actions (kervan.workspace.lists), its CSV
export, and the global search's orders."""

from urllib.parse import urlencode

from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy, ngettext

from kervan.core.audit import audit
from kervan.core.models import Source
from kervan.customers.actions import customers_tag
from kervan.customers.export import export_stream
from kervan.orders import selectors
from kervan.orders.models import OrderLine, OrderStatus, SalesChannel, Shipment
from kervan.workspace.lists import BulkAction, Column, Filter, ListSpec
from kervan.workspace.search import SearchHit

# The filters the page and the API read as plain text (status is the one that takes several values).
TEXT_FILTERS = (
    "q",
    "sales_channel",
    "source",
    "placed_from",
    "placed_to",
    "min_total",
    "max_total",
    "has_return",
    "has_refund",
    "customer",
)


def order_filters(values: dict, sort: str) -> selectors.OrderFilters:
    """The list's raw values (page query string or API parameters) as the selector's filters."""
    status = values.get("status") or []
    return selectors.OrderFilters(
        **{k: _clean(values.get(k)) for k in TEXT_FILTERS},
        status=[_clean(s) for s in ([status] if isinstance(status, str) else status)],
        sort=_clean(sort) or "newest",
    )


def _clean(value) -> str:
    """A raw value as text, without the NUL characters no database filter can take (PostgreSQL refuses them)."""
    return str(value or "").replace("\x00", "").strip()


def with_rows(qs):
    """What a row shows besides the order: its customer and source (joined), its lines' quantities and its shipments'
    tracking numbers (two more queries per page, whatever the page size)."""
    return qs.select_related("customer", "source").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.only("id", "order_id", "quantity")),
        Prefetch("shipments", queryset=Shipment.objects.only("id", "order_id", "carrier", "tracking_number")),
    )


def order_query(actor, values: dict, sort: str):
    qs, order = selectors.order_list(actor=actor, filters=order_filters(values, sort))
    return with_rows(qs), order


def source_choices() -> list[tuple[str, str]]:
    """Sources, a small table (one row per connected store, marketplace account, import…)."""
    return [(s.key, s.label) for s in Source.objects.order_by("name")[:200]]


RETURN_CHOICES = (
    ("yes", gettext_lazy("Has a return")),
    ("waiting", gettext_lazy("Return waiting for a refund")),
    ("no", gettext_lazy("No return")),
)
REFUND_CHOICES = (("yes", gettext_lazy("Refunded (in part or in full)")), ("no", gettext_lazy("Not refunded")))


EXPORT_COLUMNS = (
    "id",
    "number",
    "placed_at",
    "status",
    "sales_channel",
    "marketplace",
    "source",
    "customer_id",
    "customer_name",
    "customer_email",
    "currency",
    "subtotal",
    "discount_total",
    "tax_total",
    "shipping_total",
    "total",
    "refunded_total",
    "items",
    "tracking_numbers",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "external_id",
)


def export_rows(qs):
    yield EXPORT_COLUMNS
    for o in qs.iterator(chunk_size=2000):
        yield (
            o.pk,
            o.number,
            o.placed_at.isoformat(),
            o.status,
            o.sales_channel,
            o.marketplace,
            o.source.key,
            o.customer_id,
            o.customer.full_name,
            o.customer.email,
            o.currency,
            o.subtotal,
            o.discount_total,
            o.tax_total,
            o.shipping_total,
            o.total,
            o.refunded_total,
            sum(line.quantity for line in o.lines.all()),
            " ".join(s.tracking_number for s in o.shipments.all() if s.tracking_number),
            o.utm_source,
            o.utm_medium,
            o.utm_campaign,
            o.external_id,
        )


def orders_export_response(*, actor, filters: selectors.OrderFilters) -> StreamingHttpResponse:
    """The filtered order list as a streamed CSV download (spreadsheet-formula safe), audited — for the list page,
    a bulk selection and the API alike."""
    actor.require("orders", "read")
    actor.require("exports", "read")
    qs, order = selectors.order_list(actor=actor, filters=filters)
    audit(
        actor=actor,
        action="export",
        object_type="orders.order",
        changes={"filters": {k: v for k, v in vars(filters).items() if v not in ("", None, [], {})}},
    )
    ordering = (order, "-pk" if order.startswith("-") else "pk")
    response = StreamingHttpResponse(
        export_stream(export_rows(with_rows(qs).order_by(*ordering))), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="kervan-orders.csv"'
    return response


def order_export(actor, values: dict, sort: str):
    return orders_export_response(actor=actor, filters=order_filters(values, sort))


def _export(request, actor, ids: list[int], value: str):
    return orders_export_response(actor=actor, filters=selectors.OrderFilters(ids=ids))


def _tag_customers(request, actor, ids: list[int], value: str) -> str:
    qs, _order = selectors.order_list(actor=actor, filters=selectors.OrderFilters(ids=ids))
    customer_ids = sorted(set(qs.values_list("customer_id", flat=True)))
    count = customers_tag(actor=actor, customer_ids=customer_ids, tag=value)
    return ngettext("Tag added to %(count)s customer.", "Tag added to %(count)s customers.", count) % {"count": count}


def order_search(actor, words: str, limit: int) -> list[SearchHit]:
    """The global search's orders: an order number (exactly, else its beginning) or a tracking number."""
    return [
        SearchHit(
            title=o.number or f"#{o.pk}",
            url=reverse("orders:detail", args=[o.pk]),
            subtitle=" · ".join(
                v
                for v in (o.customer.full_name or o.customer.email, o.get_status_display(), f"{o.total} {o.currency}")
                if v
            ),
        )
        for o in selectors.order_search(actor=actor, words=_clean(words), limit=limit)
    ]


def order_search_more(words: str) -> str:
    return f"{reverse('orders:list')}?{urlencode({'q': words})}"


ORDER_LIST = ListSpec(
    key="orders",
    title=gettext_lazy("Orders"),
    area="orders",
    url_name="orders:list",
    query=order_query,
    export=order_export,
    row_template="orders/_rows.html",
    template="orders/list.html",
    columns=(
        Column("number", gettext_lazy("Order"), sort="number"),
        Column("customer", gettext_lazy("Customer")),
        Column("placed", gettext_lazy("Placed"), sort="newest"),
        Column("status", gettext_lazy("Status")),
        Column("channel", gettext_lazy("Channel")),
        Column("source", gettext_lazy("Source")),
        Column("total", gettext_lazy("Total"), num=True, sort="total"),
        Column("items", gettext_lazy("Items"), default=False, num=True),
        Column("refunded", gettext_lazy("Refunded"), num=True),
        Column("tracking", gettext_lazy("Tracking number"), default=False),
    ),
    filters=(
        Filter(
            "q",
            gettext_lazy("Search"),
            kind="search",
            placeholder=gettext_lazy("Order number, customer name, email, phone or tracking number"),
            wide=True,
        ),
        Filter("status", gettext_lazy("Status"), kind="choice", choices=lambda: OrderStatus.choices),
        Filter("sales_channel", gettext_lazy("Sales channel"), kind="choice", choices=lambda: SalesChannel.choices),
        Filter("source", gettext_lazy("Source"), kind="choice", choices=source_choices),
        Filter("placed_from", gettext_lazy("Placed from"), kind="date"),
        Filter("placed_to", gettext_lazy("Placed until"), kind="date"),
        Filter("min_total", gettext_lazy("Total at least"), kind="amount"),
        Filter("max_total", gettext_lazy("Total at most"), kind="amount"),
        Filter("has_return", gettext_lazy("Returns"), kind="choice", choices=lambda: RETURN_CHOICES),
        Filter("has_refund", gettext_lazy("Refunds"), kind="choice", choices=lambda: REFUND_CHOICES),
        Filter("customer", gettext_lazy("Customer ID"), kind="number"),
    ),
    sorts=(
        ("newest", gettext_lazy("Newest")),
        ("oldest", gettext_lazy("Oldest")),
        ("total", gettext_lazy("Highest total")),
        ("number", gettext_lazy("Order number")),
    ),
    multi=("status",),
    bulk=(
        BulkAction("export", gettext_lazy("Export selected (CSV)"), "exports", "read", _export),
        BulkAction(
            "tag_customers",
            gettext_lazy("Tag the customers of these orders"),
            "customers",
            "write",
            _tag_customers,
            needs_value=gettext_lazy("Tag"),
        ),
    ),
    empty=gettext_lazy("No orders yet. Import your order history, connect your store, or send orders through the API."),
    empty_action=(gettext_lazy("Import orders"), "imports:list"),
)


def _product_orders(actor, product) -> dict:
    return {"orders": selectors.orders_with_product(actor=actor, variant_ids=[v.pk for v in product.variants.all()])}


def register() -> None:
    """The order list, its menu entry and global search source, and what orders give the catalogue: the product
    sales feed (kervan.catalog.sales) and the recent orders on a product's page. Called from OrdersConfig.ready()."""
    from django.utils.translation import gettext_lazy as _

    from kervan.catalog.registry import ProductPanel, register_product_panel
    from kervan.catalog.sales import SalesFeed, register_sales_feed
    from kervan.workspace.lists import register_list
    from kervan.workspace.nav import NavItem, register_nav
    from kervan.workspace.search import SearchSource, register_search

    register_list(ORDER_LIST)
    register_nav(NavItem("orders", _("Orders"), "orders:list", area="orders", position=20))
    register_search(
        SearchSource("orders", _("Orders"), "orders", order_search, position=20, more_url=order_search_more)
    )
    register_sales_feed(
        SalesFeed(
            totals=selectors.product_sales,
            changed_since=selectors.orders_since,
            first_day=selectors.first_order_day,
        )
    )
    register_product_panel(
        ProductPanel("orders", area="orders", template="orders/_product_orders.html", context=_product_orders)
    )
