"""Orders in a privacy request (kervan.customers.privacy): every order with its lines, payments, shipments, returns
and refunds in the export; on erasure the amounts stay (the shop's books and revenue reports must not change) and
what leads back to the person goes: where the order was shipped to, tracking numbers (a carrier's page shows the
address), and the staff's free-text notes on returns and refunds."""

from typing import Any

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.orders.models import Order, OrderLine, OrderStatusChange, Payment, Refund, Return, ReturnLine, Shipment

ORDER_FIELDS = (
    "id",
    "number",
    "external_id",
    "source__name",
    "status",
    "currency",
    "subtotal",
    "discount_total",
    "tax_total",
    "shipping_total",
    "total",
    "refunded_total",
    "sales_channel",
    "marketplace",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "discount_codes",
    "placed_at",
    "shipping_country",
    "shipping_city",
)


def export(subject: PrivacySubject) -> dict[str, Any]:
    orders = Order.objects.filter(customer_id__in=subject.customer_ids).order_by("placed_at", "id")
    rows = {o["id"]: {**o, "source": o.pop("source__name")} for o in orders.values(*ORDER_FIELDS)}
    for key in ("lines", "payments", "shipments", "returns", "refunds", "status_changes"):
        for row in rows.values():
            row[key] = []
    children = {
        "lines": OrderLine.objects.values(
            "order_id", "sku", "title", "quantity", "unit_price", "discount", "tax", "total", "returned_quantity"
        ),
        "payments": Payment.objects.values(
            "order_id", "amount", "currency", "method", "provider", "reference", "installments", "status", "occurred_at"
        ),
        "shipments": Shipment.objects.values("order_id", "carrier", "tracking_number", "shipped_at", "delivered_at"),
        "returns": Return.objects.values("order_id", "id", "reason", "note", "external_id", "created_at"),
        "refunds": Refund.objects.values(
            "order_id", "amount", "currency", "reason", "note", "external_id", "occurred_at", "return_request_id"
        ),
        "status_changes": OrderStatusChange.objects.values("order_id", "status", "occurred_at", "details"),
    }
    for key, values in children.items():
        for child in values.filter(order_id__in=list(rows)).order_by("order_id", "id"):
            rows[child.pop("order_id")][key].append(child)
    returned = ReturnLine.objects.filter(return_request__order_id__in=list(rows))
    lines_of: dict[int, list[dict]] = {}
    for line in returned.values("return_request_id", "order_line__sku", "order_line__title", "quantity").order_by("id"):
        lines_of.setdefault(line.pop("return_request_id"), []).append(line)
    for row in rows.values():
        for ret in row["returns"]:
            ret["lines"] = lines_of.get(ret["id"], [])
    return {"orders": list(rows.values())}


def anonymise(subject: PrivacySubject) -> list[str]:
    ids = subject.customer_ids
    orders = Order.objects.filter(customer_id__in=ids)
    erased = []
    if orders.exclude(shipping_city="").update(shipping_city=""):
        erased.append("orders.Order.shipping_city")
    if Shipment.objects.filter(order__customer_id__in=ids).exclude(tracking_number="").update(tracking_number=""):
        erased.append("orders.Shipment.tracking_number")
    # A status change's details are the carrier and tracking number it came with.
    if OrderStatusChange.objects.filter(customer_id__in=ids).exclude(details={}).update(details={}):
        erased.append("orders.OrderStatusChange.details")
    if Return.objects.filter(customer_id__in=ids).exclude(note="").update(note=""):
        erased.append("orders.Return.note")
    if Refund.objects.filter(customer_id__in=ids).exclude(note="").update(note=""):
        erased.append("orders.Refund.note")
    return erased


HANDLER = PrivacyHandler(
    name="orders",
    export=export,
    anonymise=anonymise,
    models=("orders.Order", "orders.OrderStatusChange", "orders.Return", "orders.Refund"),
)
