"""WooCommerce REST API v3 objects (what its webhooks POST, the same serializer as the API) → canonical records.

Quirks read here: ids are integers (kept as their exact decimal string); money is a string ("29.35") except a
line's `price`, a number; every date comes as a local value and a *_gmt twin, both without an offset — the *_gmt
one is read, as UTC; a guest's customer_id is 0; a refund on an order is {id, reason (older versions: "refund"),
total} with a negative total.
"""

import datetime as dt
import functools
import json
from decimal import Decimal
from pathlib import Path

from kervan.imports.file_settings import SKIP, suggest_status
from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.values import ident, moment, money, need
from kervan.orders.models import OrderStatus, SalesChannel

PRESET = Path(__file__).resolve().parents[3] / "imports" / "presets" / "woocommerce_orders.json"

# WooCommerce's order attribution (8.5+) keeps the visit's UTM tags in the order's meta data.
UTM_KEYS = {
    "_wc_order_attribution_utm_source": "utm_source",
    "_wc_order_attribution_utm_medium": "utm_medium",
    "_wc_order_attribution_utm_campaign": "utm_campaign",
}
# created_via (and the attribution's source type) → Kervan's sales channel; the rest is the web store.
CHANNELS = {"pos": SalesChannel.POS, "woocommerce-pos": SalesChannel.POS, "mobile_app": SalesChannel.MOBILE_APP,
            "admin": SalesChannel.PHONE}  # fmt: skip
PAYMENT_METHODS = {"bacs": "bank_transfer", "cheque": "bank_transfer", "cod": "cod"}


@functools.cache
def statuses() -> dict[str, str]:
    """The history import's WooCommerce status words (one mapping for files and webhooks)."""
    return json.loads(PRESET.read_text())["statuses"]


def _meta(payload: dict) -> dict[str, str]:
    found = {}
    for item in payload.get("meta_data") or ():
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            found[str(item.get("key"))] = item["value"]
    return found


# -- customers --------------------------------------------------------------------------------------------------------


def customer(payload: dict) -> c.StoreCustomer:
    external_id = ident(need(payload, "id"))
    billing = payload.get("billing") or {}
    return c.StoreCustomer(
        external_id=external_id,
        email=str(payload.get("email") or billing.get("email") or ""),
        phone=str(billing.get("phone") or ""),
        first_name=str(payload.get("first_name") or billing.get("first_name") or ""),
        last_name=str(payload.get("last_name") or billing.get("last_name") or ""),
        city=str(billing.get("city") or ""),
        country=str(billing.get("country") or ""),
        created_at=moment(payload.get("date_created_gmt"), "date_created_gmt"),
        updated_at=moment(payload.get("date_modified_gmt"), "date_modified_gmt"),
    )


# -- orders -----------------------------------------------------------------------------------------------------------


def order(payload: dict) -> c.StoreOrder | None:
    """The order, or None for one Kervan does not keep (a checkout draft, an order without lines yet: its next
    update carries them)."""
    external_id = ident(need(payload, "id"))
    word = str(need(payload, "status"))
    status = suggest_status(word, statuses())
    if status == SKIP:
        return None
    status = {"refunded": OrderStatus.PAID, "returned": OrderStatus.DELIVERED}.get(status, status)
    status = status if status in OrderStatus.values else OrderStatus.PLACED  # a plugin's own status: still an order
    if status == OrderStatus.SHIPPED:  # a plugin's "shipped" without a carrier (Kervan's shipped needs one)
        status = OrderStatus.FULFILLED
    placed_at = moment(need(payload, "date_created_gmt"), "date_created_gmt")
    updated_at = moment(payload.get("date_modified_gmt"), "date_modified_gmt") or placed_at
    if not isinstance(payload.get("line_items"), list):
        raise UnexpectedPayload("'line_items' is missing")
    items = payload["line_items"]
    if not items:
        return None
    billing = payload.get("billing") or {}
    meta = _meta(payload)
    channel = CHANNELS.get(meta.get("_wc_order_attribution_source_type", "")) or CHANNELS.get(
        str(payload.get("created_via") or ""), ""
    )
    refunds = tuple(
        c.StoreRefund(
            external_id=ident(need(refund, "id")),
            amount=abs(money(refund.get("total"), "refunds.total")),
            occurred_at=updated_at,  # the order's list of refunds has no dates: the order's change is the refund's
            reason=str(refund.get("reason") or refund.get("refund") or ""),
        )
        for refund in payload.get("refunds") or ()
    )
    carrier, tracking_number, shipped_at = _tracking(payload)
    if tracking_number and status in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.FULFILLED):
        status = OrderStatus.SHIPPED
    return c.StoreOrder(
        external_id=external_id,
        number=str(payload.get("number") or external_id),
        customer=c.StoreCustomer(
            external_id=ident(payload.get("customer_id") or 0),
            email=str(billing.get("email") or ""),
            phone=str(billing.get("phone") or ""),
            first_name=str(billing.get("first_name") or ""),
            last_name=str(billing.get("last_name") or ""),
            city=str(billing.get("city") or ""),
            country=str(billing.get("country") or ""),
        ),
        placed_at=placed_at,
        updated_at=updated_at,
        currency=str(need(payload, "currency")),
        lines=tuple(line(item) for item in items),
        status=status,
        shipping_total=money(payload.get("shipping_total"), "shipping_total"),
        total=money(need(payload, "total"), "total"),
        discount_codes=tuple(str(x["code"]) for x in payload.get("coupon_lines") or () if x.get("code")),
        sales_channel=channel,
        utm_source=meta.get("_wc_order_attribution_utm_source", "")[:200],
        utm_medium=meta.get("_wc_order_attribution_utm_medium", "")[:200],
        utm_campaign=meta.get("_wc_order_attribution_utm_campaign", "")[:200],
        paid_at=moment(payload.get("date_paid_gmt"), "date_paid_gmt"),
        payment_method=PAYMENT_METHODS.get(str(payload.get("payment_method") or ""), ""),
        cancelled_at=updated_at if status == OrderStatus.CANCELLED else None,
        delivered_at=moment(payload.get("date_completed_gmt"), "date_completed_gmt"),
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=shipped_at,
        refunds=refunds,
    )


def _tracking(payload: dict) -> tuple[str, str, dt.datetime | None]:
    """The first parcel of WooCommerce Shipment Tracking (its `_wc_shipment_tracking_items` meta: provider, number,
    date_shipped as a Unix time): (carrier, tracking number, shipped at), or empty."""
    for item in payload.get("meta_data") or ():
        if not isinstance(item, dict) or item.get("key") != "_wc_shipment_tracking_items":
            continue
        for parcel in item.get("value") or ():
            if isinstance(parcel, dict) and parcel.get("tracking_number"):
                carrier = str(parcel.get("custom_tracking_provider") or parcel.get("tracking_provider") or "")
                shipped = str(parcel.get("date_shipped") or "")
                shipped_at = dt.datetime.fromtimestamp(int(shipped), dt.UTC) if shipped.isdigit() else None
                return carrier[:60] or "—", str(parcel["tracking_number"])[:100], shipped_at
    return "", "", None


def line(item: dict) -> c.StoreLine:
    """A line item: `subtotal` is before the coupons, `total` after; the unit price is the undiscounted one and the
    coupons' part is the line's discount."""
    quantity = need(item, "quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise UnexpectedPayload(f"line_items: quantity {quantity!r} is not a positive whole number")
    subtotal = money(item.get("subtotal"), "line_items.subtotal")
    total = money(item.get("total"), "line_items.total")
    unit_price = subtotal / quantity if subtotal else money(item.get("price"), "line_items.price")
    return c.StoreLine(
        title=str(item.get("name") or ""),
        quantity=quantity,
        unit_price=unit_price,
        sku=str(item.get("sku") or ""),
        discount=max(subtotal - total, Decimal(0)),
        tax=money(item.get("total_tax"), "line_items.total_tax"),
        external_id=ident(item.get("id") or 0),
        product_id=ident(item.get("product_id") or 0),
        variant_id=ident(item.get("variation_id") or 0),
    )


def order_refund(payload: dict, order_id: str = "") -> c.OrderRefunds:
    """A refund object (GET /orders/<id>/refunds/<id>, or a custom refund topic): its order is named by
    `order_id` (the caller's), the payload's order_id/parent_id, or its `up` link (…/orders/723)."""
    refund_id = ident(need(payload, "id"))
    if not order_id:
        order_id = ident(payload.get("order_id") or payload.get("parent_id") or 0)
    if not order_id:
        for link in (payload.get("_links") or {}).get("up") or ():
            order_id = str(link.get("href") or "").rstrip("/").rsplit("/", 1)[-1]
    if not order_id.isdigit():
        raise UnexpectedPayload("the refund does not name its order")
    units = []
    for item in payload.get("line_items") or ():
        if item.get("sku") and isinstance(item.get("quantity"), int) and item["quantity"]:
            units.append((str(item["sku"]), abs(item["quantity"])))
    when = moment(need(payload, "date_created_gmt"), "date_created_gmt")
    refund = c.StoreRefund(
        external_id=refund_id,
        amount=abs(money(need(payload, "amount"), "amount")),
        occurred_at=when,
        reason=str(payload.get("reason") or ""),
        lines=tuple(units),
    )
    return c.OrderRefunds(order_external_id=order_id, refunds=(refund,))


# -- products ---------------------------------------------------------------------------------------------------------


def is_variation(payload: dict) -> bool:
    return payload.get("type") == "variation" or ("type" not in payload and "attributes" in payload)


def variant(payload: dict, title: str = "") -> c.StoreVariant:
    """A simple product's or a variation's price and stock: on sale, the sale price is the price and the regular
    one the compare-at price."""
    regular = money(payload.get("regular_price"), "regular_price")
    sale = money(payload.get("sale_price"), "sale_price")
    price = sale or regular or money(payload.get("price"), "price")
    stock = payload.get("stock_quantity")
    tracked = payload.get("manage_stock") is True and isinstance(stock, int) and not isinstance(stock, bool)
    return c.StoreVariant(
        external_id=ident(need(payload, "id")),
        sku=str(payload.get("sku") or ""),
        title=title,
        price=price,
        compare_at_price=regular if sale and regular > sale else None,
        stock=stock if tracked else None,
    )


def variation_title(payload: dict) -> str:
    options = [str(a.get("option")) for a in payload.get("attributes") or () if isinstance(a, dict) and a.get("option")]
    return " / ".join(options) or str(payload.get("name") or "")


def product(payload: dict, currency: str, variations: list | None = None) -> c.StoreProduct:
    """A product. A variable product's variations are its variants when they are given (the backfill reads them;
    a webhook has only their ids, and each variation sends its own product.updated): without them the product
    carries no variants and only its title and status are applied."""
    external_id = ident(need(payload, "id"))
    if payload.get("type") == "variable":
        given = (
            variations
            if variations is not None
            else [v for v in payload.get("variations") or () if isinstance(v, dict)]
        )
        variants = tuple(variant(v, variation_title(v)) for v in given)
    else:
        variants = (variant(payload),)
    images = payload.get("images") or ()
    categories = payload.get("categories") or ()
    return c.StoreProduct(
        external_id=external_id,
        title=str(payload.get("name") or ""),
        currency=currency,
        variants=variants,
        url=str(payload.get("permalink") or ""),
        image_url=str(images[0].get("src") or "") if images and isinstance(images[0], dict) else "",
        category=str(categories[0].get("name") or "") if categories and isinstance(categories[0], dict) else "",
        active=payload.get("status", "publish") == "publish",
        updated_at=moment(payload.get("date_modified_gmt"), "date_modified_gmt"),
    )


def variation_product(payload: dict, currency: str) -> c.StoreProduct | None:
    """A variation delivered on its own (product.updated of a variation): its parent product with this one variant.
    No update time: the parent's own versions are not to be shadowed by its variations' (the writes are
    idempotent). None when the variation does not name its parent (older WooCommerce)."""
    parent = ident(payload.get("parent_id") or 0)
    if not parent:
        return None
    return c.StoreProduct(
        external_id=parent,
        title="",  # the parent's title is the parent's: an empty one leaves it as it is
        currency=currency,
        variants=(variant(payload, variation_title(payload)),),
        active=payload.get("status", "publish") == "publish",
    )
