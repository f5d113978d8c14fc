"""Magento 2 REST objects (GET /V1/orders/<id>, /V1/customers/<id>, /V1/invoices/<id>, /V1/creditmemo/<id>,
/V1/shipment/<id>, /V1/products/<sku> — the same JSON the webhooks carry) → canonical records.

Quirks read here: money fields are JSON numbers (Decimal(str(value)): 1917.6 stays 1917.6); times are
"YYYY-MM-DD HH:MM:SS" in UTC without a zone; entity_id is the object's id (the key), increment_id the number the
customer sees ("000000003", zero-padded: kept as a string); a configurable product's ordered line is two items — the
parent (with the child's SKU and the price) and the child (parent_item_id set, price 0): only the parent is a line;
discount amounts are negative.
"""

import datetime as dt
import functools
import json
from pathlib import Path

from kervan.imports.file_settings import SKIP, suggest_status
from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.values import ident, moment, money, need
from kervan.orders.models import OrderStatus

PRESET = Path(__file__).resolve().parents[3] / "imports" / "presets" / "magento2_order_grid.json"
# An order's `state` (Magento's fixed life cycle) when its `status` is a shop's own word the import does not know.
STATES = {
    "new": OrderStatus.PLACED,
    "pending_payment": OrderStatus.PLACED,
    "payment_review": OrderStatus.PLACED,
    "holded": OrderStatus.PLACED,
    "processing": OrderStatus.PAID,
    "complete": OrderStatus.DELIVERED,
    "closed": OrderStatus.PAID,  # refunded in full: paid, and its credit memos are the refunds
    "canceled": OrderStatus.CANCELLED,
}
PAYMENT_METHODS = {"banktransfer": "bank_transfer", "checkmo": "bank_transfer", "cashondelivery": "cod"}
INVOICE_PAID = 2  # Magento\Sales\Model\Order\Invoice::STATE_PAID


@functools.cache
def statuses() -> dict[str, str]:
    """The history import's Magento status words (one mapping for files and webhooks)."""
    return json.loads(PRESET.read_text())["statuses"]


def units(value, key: str = "qty") -> int:
    """A quantity (Magento keeps them as decimals: 1, 1.0, "1.0000"), as whole units."""
    amount = money(value, key)
    if amount != amount.to_integral_value() or amount < 0:
        raise UnexpectedPayload(f"'{key}' is not a whole number of units: {value!r}")
    return int(amount)


# -- customers --------------------------------------------------------------------------------------------------------


def customer(payload: dict) -> c.StoreCustomer:
    external_id = ident(need(payload, "id"))
    addresses = [a for a in payload.get("addresses") or () if isinstance(a, dict)]
    default = next((a for a in addresses if a.get("default_billing")), addresses[0] if addresses else {})
    dob = payload.get("dob")
    try:
        birth_date = dt.date.fromisoformat(str(dob)[:10]) if dob else None
    except ValueError:
        birth_date = None  # a malformed birthday is not worth losing the customer over
    return c.StoreCustomer(
        external_id=external_id,
        email=str(payload.get("email") or ""),
        phone=str(default.get("telephone") or ""),
        first_name=str(payload.get("firstname") or ""),
        last_name=str(payload.get("lastname") or ""),
        city=str(default.get("city") or ""),
        country=str(default.get("country_id") or ""),
        birth_date=birth_date,
        created_at=moment(payload.get("created_at")),
        updated_at=moment(payload.get("updated_at"), "updated_at"),
    )


# -- orders -----------------------------------------------------------------------------------------------------------


def order_status(payload: dict) -> str:
    """Kervan's status for the order's `status` (the import's words), else its `state`; SKIP for none to keep."""
    status = suggest_status(str(payload.get("status") or ""), statuses())
    if status == SKIP:
        return SKIP
    if status not in OrderStatus.values:
        status = {"refunded": OrderStatus.PAID, "returned": OrderStatus.DELIVERED}.get(status, "")
    status = status or STATES.get(str(payload.get("state") or ""), OrderStatus.PLACED)
    # A shop's "shipped" word without the shipment: Kervan's shipped needs the carrier, which the shipment brings.
    return OrderStatus.FULFILLED if status == OrderStatus.SHIPPED else status


def order(payload: dict) -> c.StoreOrder | None:
    external_id = ident(need(payload, "entity_id"))
    status = order_status(payload)
    if status == SKIP:
        return None
    placed_at = moment(need(payload, "created_at"))
    updated_at = moment(payload.get("updated_at"), "updated_at") or placed_at
    if not isinstance(payload.get("items"), list):
        raise UnexpectedPayload("'items' is missing")
    items = [item for item in payload["items"] if isinstance(item, dict) and not item.get("parent_item_id")]
    if not items:
        raise UnexpectedPayload("the order has no items")
    billing = payload.get("billing_address") or {}
    shipping = _shipping_address(payload)
    guest = bool(payload.get("customer_is_guest")) or not payload.get("customer_id")
    payment = payload.get("payment") or {}
    return c.StoreOrder(
        external_id=external_id,
        number=str(payload.get("increment_id") or external_id),
        customer=c.StoreCustomer(
            external_id="" if guest else ident(payload.get("customer_id")),
            email=str(payload.get("customer_email") or billing.get("email") or ""),
            phone=str(billing.get("telephone") or shipping.get("telephone") or ""),
            first_name=str(payload.get("customer_firstname") or billing.get("firstname") or ""),
            last_name=str(payload.get("customer_lastname") or billing.get("lastname") or ""),
            city=str(billing.get("city") or shipping.get("city") or ""),
            country=str(billing.get("country_id") or shipping.get("country_id") or ""),
        ),
        placed_at=placed_at,
        updated_at=updated_at,
        currency=str(need(payload, "order_currency_code")),
        lines=tuple(line(item) for item in items),
        status=status,
        shipping_total=money(payload.get("shipping_amount"), "shipping_amount"),
        total=money(need(payload, "grand_total"), "grand_total"),
        discount_codes=(str(payload["coupon_code"]),) if payload.get("coupon_code") else (),
        payment_method=PAYMENT_METHODS.get(str(payment.get("method") or ""), ""),
        cancelled_at=updated_at if status == OrderStatus.CANCELLED else None,
    )


def _shipping_address(payload: dict) -> dict:
    assignments = (payload.get("extension_attributes") or {}).get("shipping_assignments") or ()
    for assignment in assignments:
        address = ((assignment or {}).get("shipping") or {}).get("address")
        if isinstance(address, dict):
            return address
    return {}


def line(item: dict) -> c.StoreLine:
    return c.StoreLine(
        title=str(item.get("name") or ""),
        quantity=_positive(units(need(item, "qty_ordered"), "items.qty_ordered")),
        unit_price=money(item.get("price"), "items.price"),
        sku=str(item.get("sku") or ""),
        discount=abs(money(item.get("discount_amount"), "items.discount_amount")),
        tax=money(item.get("tax_amount"), "items.tax_amount"),
        external_id=ident(item.get("item_id")),
        product_id=ident(item.get("product_id")),
    )


def _positive(quantity: int) -> int:
    if quantity <= 0:
        raise UnexpectedPayload("items: a line without units")
    return quantity


def _progress(order_id: str, at: dt.datetime, **fields) -> c.StoreOrder:
    """What an invoice or a shipment says of its order, as an update of an order Kervan has (an order not yet in
    Kervan is waited for: kervan.integrations.sync retries a record without lines). No update time: the order's own
    versions stay the order's, and these writes are idempotent (status only forward, a tracking number once)."""
    return c.StoreOrder(
        external_id=order_id,
        number="",
        customer=c.StoreCustomer(),
        placed_at=at,
        currency="",
        lines=(),
        **fields,
    )


def invoice(payload: dict) -> c.StoreOrder | None:
    """A paid invoice: the order is paid (at the invoice's time); an open or cancelled one says nothing yet."""
    order_id = ident(need(payload, "order_id"))
    if payload.get("state") != INVOICE_PAID:
        return None
    paid_at = moment(need(payload, "created_at"))
    return _progress(order_id, paid_at, status=OrderStatus.PAID, paid_at=paid_at)


def shipment(payload: dict) -> c.StoreOrder:
    """A shipment: the order is shipped, with its first tracking number."""
    order_id = ident(need(payload, "order_id"))
    shipped_at = moment(need(payload, "created_at"))
    tracks = [t for t in payload.get("tracks") or () if isinstance(t, dict) and t.get("track_number")]
    track = tracks[0] if tracks else {}
    return _progress(
        order_id,
        shipped_at,
        status=OrderStatus.SHIPPED,
        shipped_at=shipped_at,
        carrier=str(track.get("title") or track.get("carrier_code") or "")[:60],
        tracking_number=str(track.get("track_number") or "")[:100],
    )


def creditmemo(payload: dict) -> c.OrderRefunds:
    """A credit memo: a refund of its order (grand_total, with shipping and adjustments), the units it takes back
    by SKU, restocked when Magento returned items to stock."""
    restocked = ((payload.get("extension_attributes") or {}).get("return_to_stock_items")) or ()
    taken_back: dict[str, int] = {}
    for item in payload.get("items") or ():
        if isinstance(item, dict) and item.get("sku"):
            # A configurable line is credited twice (the parent and its child, both with the child's SKU): once.
            sku = str(item["sku"])
            taken_back[sku] = max(taken_back.get(sku, 0), units(item.get("qty"), "items.qty"))
    comments = [
        str(x.get("comment")) for x in payload.get("comments") or () if isinstance(x, dict) and x.get("comment")
    ]
    refund = c.StoreRefund(
        external_id=ident(need(payload, "entity_id")),
        amount=money(need(payload, "grand_total"), "grand_total"),
        occurred_at=moment(need(payload, "created_at")),
        reason="; ".join(comments) or str(payload.get("customer_note") or ""),
        lines=tuple((sku, n) for sku, n in taken_back.items() if n),
        restock=bool(restocked),
    )
    return c.OrderRefunds(order_external_id=ident(need(payload, "order_id")), refunds=(refund,))


# -- products ---------------------------------------------------------------------------------------------------------


def product(payload: dict, currency: str) -> c.StoreProduct:
    """A product with its own SKU as its one variant (a configurable product's children are products of their own
    in Magento, each with its SKU: that is the SKU an order names). A configurable parent carries no variant: only
    its title and status are applied."""
    external_id = ident(need(payload, "id"))
    attributes = {
        str(a.get("attribute_code")): a.get("value")
        for a in payload.get("custom_attributes") or ()
        if isinstance(a, dict)
    }
    stock_item = (payload.get("extension_attributes") or {}).get("stock_item") or {}
    tracked = stock_item.get("manage_stock", True) and stock_item.get("qty") is not None
    price = money(payload.get("price"), "price")
    special = money(attributes.get("special_price"), "special_price")
    variants = ()
    if payload.get("type_id") != "configurable":
        variants = (
            c.StoreVariant(
                external_id=external_id,
                sku=str(need(payload, "sku")),
                title=str(payload.get("name") or ""),
                price=special if special and special < price else price,
                compare_at_price=price if special and special < price else None,
                stock=int(money(stock_item.get("qty"), "stock_item.qty")) if tracked else None,
            ),
        )
    return c.StoreProduct(
        external_id=external_id,
        title=str(payload.get("name") or ""),
        currency=currency,
        variants=variants,
        active=payload.get("status", 1) == 1,
        updated_at=moment(payload.get("updated_at"), "updated_at"),
    )
