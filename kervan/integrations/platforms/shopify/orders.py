"""Shopify's orders, refunds, transactions and checkouts (webhook bodies and REST resources) as canonical records;
the shared readings (ids, money, times, customers, consent) are mapping.py's.

- Order status: cancelled_at wins; else the financial status through the history import's Shopify preset
  ("statuses" of kervan/imports/presets/shopify_orders.json; "refunded" is paid + its refunds); fulfilled with a
  tracking number → shipped, fulfilled without → fulfilled (as the import reads the export's column); a fulfillment
  whose shipment_status is "delivered" → delivered.
- A line's discount is the sum of its discount_allocations (Shopify's per-line share of every discount), else its
  deprecated total_discount; its tax the sum of its tax_lines. Payloads of older API versions whose lines carry
  neither have the order's total_discounts / total_tax spread over the lines in proportion to their amounts.
- The order's buyer_accepts_marketing=true is an email consent given at the order's time (false says only that the
  box was not ticked this time).
"""

import functools
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

from kervan.imports.file_settings import REFUNDED, suggest_status
from kervan.imports.presets import preset_get
from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.shopify.mapping import (
    ZERO,
    customer,
    customer_consents,
    fallback_sku,
    ident,
    moment,
    money,
    need,
    text,
)
from kervan.orders.models import OrderStatus, Payment, SalesChannel

CENT = Decimal("0.01")
# source_name → Kervan's sales channel; other values (an app's id, shopify_draft_order) are the web store.
CHANNELS = {"pos": SalesChannel.POS, "iphone": SalesChannel.MOBILE_APP, "android": SalesChannel.MOBILE_APP,
            "mobile_app": SalesChannel.MOBILE_APP}  # fmt: skip
FAILED_FULFILMENTS = {"cancelled", "failure", "error"}


@functools.cache
def preset_statuses() -> dict[str, str]:
    preset = preset_get("shopify_orders")
    return dict(preset.statuses) if preset else {}


def order_status(data: dict, fulfilment: dict | None) -> str:
    if data.get("cancelled_at"):
        return OrderStatus.CANCELLED
    status = suggest_status(text(data.get("financial_status")), preset_statuses()) or OrderStatus.PLACED
    if status == REFUNDED:  # a refund is recorded as such: the order itself was paid
        status = OrderStatus.PAID
    if status == OrderStatus.CANCELLED:
        return status
    if fulfilment and text(fulfilment.get("shipment_status")) == "delivered":
        return OrderStatus.DELIVERED
    if text(data.get("fulfillment_status")) == "fulfilled":
        return OrderStatus.SHIPPED if fulfilment and text(fulfilment.get("tracking_number")) else OrderStatus.FULFILLED
    return status


def last_fulfilment(data: dict) -> dict | None:
    done = [f for f in data.get("fulfillments") or [] if text(f.get("status")) not in FAILED_FULFILMENTS]
    return max(done, key=lambda f: text(f.get("created_at")), default=None)


def lines(items, source_key: str, *, order: dict | None = None) -> tuple[c.StoreLine, ...]:
    if not isinstance(items, list) or not items:
        raise UnexpectedPayload("no line_items")
    out = []
    for i, item in enumerate(items):
        quantity = need(item, "quantity", f"line_items[{i}]")
        allocations = item.get("discount_allocations") or item.get("applied_discounts") or []
        discount = sum((money(a.get("amount")) for a in allocations), ZERO) or money(item.get("total_discount"))
        out.append(
            c.StoreLine(
                title=text(item.get("title") or item.get("name"))[:255] or text(item.get("sku")) or "—",
                quantity=int(quantity),
                unit_price=money(need(item, "price", f"line_items[{i}]")),
                sku=fallback_sku(source_key, item.get("sku"), item.get("variant_id")),
                discount=discount,
                tax=sum((money(t.get("price")) for t in item.get("tax_lines") or []), ZERO),
                external_id=ident(item.get("id")),
                product_id=ident(item.get("product_id")),
                variant_id=ident(item.get("variant_id")),
            )
        )
    if order is not None:
        out = _spread_old_amounts(out, items, order)
    return tuple(out)


def _spread_old_amounts(out: list[c.StoreLine], items: list, order: dict) -> list[c.StoreLine]:
    """Older API versions put discounts and taxes on the order only: spread them over the lines by amount."""
    weights = [line.unit_price * line.quantity for line in out]
    if not any("tax_lines" in item for item in items) and money(order.get("total_tax")):
        out = [
            replace(line, tax=share)
            for line, share in zip(out, _shares(money(order["total_tax"]), weights), strict=True)
        ]
    if not any(k in item for item in items for k in ("discount_allocations", "total_discount")):
        if money(order.get("total_discounts")):
            shares = _shares(money(order["total_discounts"]), weights)
            out = [replace(line, discount=share) for line, share in zip(out, shares, strict=True)]
    return out


def _shares(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    total = sum(weights, ZERO)
    if not total:
        return [amount] + [ZERO] * (len(weights) - 1)
    shares = [(amount * w / total).quantize(CENT, ROUND_HALF_UP) for w in weights]
    shares[-1] += amount - sum(shares, ZERO)  # the rounding remainder
    return shares


def utm(landing_site) -> dict[str, str]:
    query = parse_qs(urlsplit(text(landing_site)).query)
    return {f"utm_{k}": query.get(f"utm_{k}", [""])[0][:100] for k in ("source", "medium", "campaign")}


def payment_method(gateway) -> str:
    name = text(gateway).lower()
    if "cash on delivery" in name or name in ("cod", "kapıda ödeme"):
        return Payment.Method.CASH_ON_DELIVERY
    if "bank" in name or "havale" in name or "eft" in name:
        return Payment.Method.BANK_TRANSFER
    return Payment.Method.CARD


def refund(data: dict, source_key: str) -> c.StoreRefund:
    """A refund object: the money is its successful refund transactions, the units its refund_line_items (by SKU)."""
    amount = sum(
        (money(t.get("amount")) for t in data.get("transactions") or []
         if text(t.get("kind")) == "refund" and text(t.get("status")) == "success"),
        ZERO,
    )  # fmt: skip
    units = []
    for item in data.get("refund_line_items") or []:
        line = item.get("line_item") or {}
        sku = fallback_sku(source_key, line.get("sku"), line.get("variant_id"))
        if sku and item.get("quantity"):
            units.append((sku, int(item["quantity"])))
    restock_types = {text(item.get("restock_type")) for item in data.get("refund_line_items") or []}
    return c.StoreRefund(
        external_id=ident(need(data, "id", "refund")),
        amount=amount,
        occurred_at=moment(data.get("processed_at")) or moment(need(data, "created_at", "refund")),
        reason=text(data.get("note")),
        lines=tuple(units),
        restock=bool(data.get("restock")) or bool(restock_types & {"return", "cancel"}),
    )


def order_records(data: dict, source_key: str) -> list:
    """An order (webhook body or REST resource): the customer, the order, and the consent it carries."""
    external_id = ident(need(data, "id", "order"))
    placed_at = moment(data.get("processed_at")) or moment(need(data, "created_at", "order"))
    language = text(data.get("customer_locale"))[:2]
    embedded = data.get("customer") if isinstance(data.get("customer"), dict) else None
    person = customer(embedded, email=text(data.get("email") or data.get("contact_email")),
                      phone=text(data.get("phone")), language=language)  # fmt: skip
    if embedded is None:  # a guest: the addresses say where they are
        address = data.get("billing_address") or data.get("shipping_address") or {}
        person = c.StoreCustomer(
            email=person.email,
            phone=person.phone,
            language=language,
            first_name=text(address.get("first_name")),
            last_name=text(address.get("last_name")),
            city=text(address.get("city")),
            country=text(address.get("country_code")).upper(),
        )
    fulfilment = last_fulfilment(data)
    delivered = fulfilment and text(fulfilment.get("shipment_status")) == "delivered"
    gateways = data.get("payment_gateway_names") or [data.get("gateway")]
    record = c.StoreOrder(
        external_id=external_id,
        number=text(data.get("name")) or text(data.get("order_number")) or external_id,
        customer=person,
        placed_at=placed_at,
        updated_at=moment(data.get("updated_at")),
        currency=text(need(data, "currency", "order")).upper(),
        lines=lines(data.get("line_items"), source_key, order=data),
        status=order_status(data, fulfilment),
        shipping_total=sum(
            (money(s.get("price")) for s in data.get("shipping_lines") or [] if not s.get("is_removed")), ZERO
        ),
        total=money(data.get("total_price"), default=None),
        discount_codes=tuple(text(d.get("code")) for d in data.get("discount_codes") or [] if d.get("code")),
        sales_channel=CHANNELS.get(text(data.get("source_name")), ""),
        **utm(data.get("landing_site")),
        payment_method=payment_method(gateways[0] if gateways else ""),
        cancelled_at=moment(data.get("cancelled_at")),
        shipped_at=moment(fulfilment.get("created_at")) if fulfilment else None,
        carrier=text(fulfilment.get("tracking_company"))[:100] if fulfilment else "",
        tracking_number=text(fulfilment.get("tracking_number"))[:100] if fulfilment else "",
        delivered_at=moment(fulfilment.get("updated_at")) if delivered else None,
        refunds=tuple(refund(r, source_key) for r in data.get("refunds") or []),
        test=bool(data.get("test")),
    )
    found: list = [person] if person.external_id else []
    found.append(record)
    if embedded:
        found += customer_consents(embedded, person)
    if data.get("buyer_accepts_marketing") is True and (person.external_id or person.email):
        proof = f"Shopify: buyer_accepts_marketing at checkout, order {record.number}"
        found.append(
            c.ConsentChange(customer=person, channel="email", granted=True, occurred_at=placed_at, proof=proof)
        )
    return found


def refund_records(data: dict, source_key: str) -> list:
    order_id = ident(need(data, "order_id", "refund"))
    return [c.OrderRefunds(order_external_id=order_id, refunds=(refund(data, source_key),))]


def transaction_records(data: dict) -> list:
    """order_transactions/create: a sale or capture that succeeded pays the order; a sale, capture or authorisation
    that failed is a "Payment Failed" event (for the flows). A successful authorisation only holds the money, and
    refunds arrive as refunds/create (with their lines): nothing to record for them here."""
    kind, status = text(data.get("kind")), text(data.get("status"))
    if status in ("failure", "error") and kind in ("authorization", "sale", "capture"):
        outcome = "failed"
    elif status == "success" and kind in ("sale", "capture"):
        outcome = "paid"
    else:
        return []
    details = data.get("payment_details") or {}
    return [
        c.OrderPayment(
            order_external_id=ident(need(data, "order_id", "transaction")),
            status=outcome,
            amount=money(need(data, "amount", "transaction")),
            currency=text(data.get("currency")).upper(),
            occurred_at=moment(data.get("processed_at")) or moment(need(data, "created_at", "transaction")),
            reference=ident(need(data, "id", "transaction")),
            method=payment_method(details.get("payment_method_name") or data.get("gateway")),
        )
    ]


def checkout_record(data: dict, source_key: str) -> list:
    """An abandoned checkout. The 2026-07 body has no "id": it is keyed on its token (else the cart token). The
    customer is the logged-in one when there is one (its own email), else whoever typed the checkout's email."""
    token = text(data.get("token")) or text(data.get("cart_token"))
    if not token:
        raise UnexpectedPayload("checkout has no token")
    embedded = data.get("customer") if isinstance(data.get("customer"), dict) else None
    person = customer(embedded, email=text(data.get("email")), phone=text(data.get("phone")),
                      language=text(data.get("customer_locale"))[:2])  # fmt: skip
    return [
        c.Checkout(
            token=token,
            customer=person,
            currency=text(data.get("currency") or data.get("presentment_currency")).upper(),
            lines=lines(data.get("line_items"), source_key),
            total=money(data.get("total_price")),
            recovery_url=text(data.get("abandoned_checkout_url")),
            occurred_at=moment(data.get("created_at")),
            updated_at=moment(data.get("updated_at")),
            completed=bool(data.get("completed_at")),
        )
    ]
