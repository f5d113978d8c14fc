"""What a template can say about its recipient, loaded for a whole batch at once and only as far as the template
reads it: `customer` (profile, custom fields, consent), `stats`, `predicted`, `last_order` (with its lines),
`cart` (what they added to the cart since their last order), `products` (the shop's newest active products, for a
product grid), `coupon("PREFIX")` (a code unique to the message), `flow` (what the flow that sent it knew: the
triggering event's `properties`, a `product`, the `coupon` a step issued), `unsubscribe_url`, `preferences_url`."""

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings

from kervan.catalog.models import Product
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.messaging.models import Message
from kervan.orders.models import Order, OrderLine
from kervan.predictions.models import CustomerPrediction

PRODUCT_GRID = 6
CART_EVENTS = 20


def batch_context(messages: list[Message], customers: dict[int, Customer], reads: frozenset[str]) -> dict[int, dict]:
    """message id → its template context."""
    ids = list(customers)
    stats = {s.customer_id: s for s in CustomerStats.objects.filter(customer_id__in=ids)} if "stats" in reads else {}
    predicted = (
        {p.customer_id: p for p in CustomerPrediction.objects.filter(customer_id__in=ids)}
        if "predicted" in reads
        else {}
    )
    last_orders = _last_orders(ids) if "last_order" in reads or "cart" in reads else {}
    carts = _carts(ids, last_orders) if "cart" in reads else {}
    products = _products() if "products" in reads else []
    contexts = {}
    for message in messages:
        customer = customers[message.customer_id]
        order = last_orders.get(customer.pk)
        contexts[message.pk] = {
            "customer": _customer(customer),
            "stats": _stats(stats.get(customer.pk)),
            "predicted": _predicted(predicted.get(customer.pk)),
            "last_order": _order(order) if order else None,
            "cart": carts.get(customer.pk, []),
            "products": products,
            "coupon": _coupon_maker(message),
            "flow": message.data or {},
        }
    return contexts


def _customer(c: Customer) -> dict[str, Any]:
    return {
        "id": c.pk,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "full_name": " ".join(p for p in (c.first_name, c.last_name) if p),
        "email": c.email,
        "phone": c.phone,
        "city": c.city,
        "country": c.country,
        "language": c.language,
        "birth_date": c.birth_date,
        "custom": dict(c.custom_fields or {}),
        "consent": {"email": c.consent_email, "sms": c.consent_sms, "push": c.consent_push},
    }


def _stats(s: CustomerStats | None) -> dict[str, Any]:
    if s is None:
        return {"order_count": 0, "total_spent": None, "last_order_at": None, "first_order_at": None}
    return {
        "order_count": s.order_count,
        "total_spent": s.total_spent,
        "currency": s.currency,
        "last_order_at": s.last_order_at,
        "first_order_at": s.first_order_at,
    }


def _predicted(p: CustomerPrediction | None) -> dict[str, Any]:
    if p is None:
        return {}
    return {
        "clv_12m": p.clv_12m,
        "p_alive": p.p_alive,
        "churn_risk": p.churn_risk,
        "expected_next_order_at": p.expected_next_order_at,
        "rfm_segment": p.rfm_segment,
    }


def _last_orders(ids: list[int]) -> dict[int, Order]:
    latest: dict[int, Order] = {}
    for order in Order.objects.filter(customer_id__in=ids).order_by("customer_id", "-placed_at", "-id"):
        latest.setdefault(order.customer_id, order)
    lines = defaultdict(list)
    for line in OrderLine.objects.filter(order__in=list(latest.values())).order_by("id"):
        lines[line.order_id].append(line)
    for order in latest.values():
        order.loaded_lines = lines[order.pk]  # type: ignore[attr-defined]
    return latest


def _order(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "placed_at": order.placed_at,
        "total": order.total,
        "currency": order.currency,
        "status": order.status,
        "lines": [
            {"title": line.title, "sku": line.sku, "quantity": line.quantity, "price": line.unit_price}
            for line in order.loaded_lines  # type: ignore[attr-defined]
        ],
    }


def _carts(ids: list[int], last_orders: dict[int, Order]) -> dict[int, list[dict]]:
    carts: dict[int, list[dict]] = defaultdict(list)
    added = Event.objects.filter(customer_id__in=ids, name="Added to Cart").order_by("-occurred_at")
    for event in added[: CART_EVENTS * len(ids)]:
        order = last_orders.get(event.customer_id)
        if (order is None or event.occurred_at > order.placed_at) and len(carts[event.customer_id]) < CART_EVENTS:
            p = event.properties or {}
            carts[event.customer_id].append(
                {k: p.get(k) for k in ("product_id", "name", "title", "price", "quantity", "url", "image_url")}
            )
    return carts


def _products() -> list[dict]:
    products = Product.objects.filter(is_active=True).order_by("-created_at", "-id")[:PRODUCT_GRID]
    return [{"id": p.pk, "title": p.title, "brand": p.brand} for p in products]


def _coupon_maker(message: Message) -> Callable[[str], str]:
    """coupon("HOSGELDIN") → "HOSGELDIN-7K3Q9XWA": the same code for the same message and prefix every time it
    renders (a preview, a retry), different for every message, and not guessable from the message id."""

    def coupon(prefix: str = "") -> str:
        digest = hmac.new(settings.SECRET_KEY.encode(), f"coupon:{message.pk}:{prefix}".encode(), hashlib.sha256)
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud on the phone to support
        number = int.from_bytes(digest.digest()[:8], "big")
        code = "".join(alphabet[(number >> (5 * i)) & 31] for i in range(8))
        return f"{prefix.upper()}-{code}" if prefix else code

    return coupon


def specimen_context() -> dict[str, Any]:
    """Every variable a template may use, filled in: a strict template is rendered against it when saved, so a
    variable that does not exist is refused then, not discovered in the middle of a campaign."""
    from decimal import Decimal

    from django.utils import timezone

    from kervan.customers.models import CustomFieldDefinition

    now = timezone.now()
    customer = Customer(pk=1, first_name="Ayşe", last_name="Yılmaz", email="ayse@example.com", phone="+905321112233")
    customer.custom_fields = {key: "" for key in CustomFieldDefinition.objects.values_list("key", flat=True)}
    line = {"title": "Ürün", "sku": "SKU-1", "quantity": 1, "price": Decimal("100.00")}
    order = {"number": "#1001", "placed_at": now, "total": Decimal("100.00"), "currency": "TRY", "status": "placed"}
    cart_item = {"product_id": 1, "name": "Ürün", "title": "Ürün", "price": "100.00", "quantity": 1}
    cart_item |= {"url": "https://shop.example.com/p/1", "image_url": "https://shop.example.com/p/1.jpg"}
    message = Message(pk=1, origin="specimen")
    return {
        "customer": _customer(customer),
        "stats": {"order_count": 1, "total_spent": Decimal("100.00"), "currency": "TRY"}
        | {"last_order_at": now, "first_order_at": now},
        "predicted": {"clv_12m": Decimal("250.00"), "p_alive": 0.8, "churn_risk": 0.2}
        | {"expected_next_order_at": now, "rfm_segment": "champions"},
        "last_order": {**order, "lines": [line]},
        "cart": [cart_item],
        "products": [{"id": 1, "title": "Ürün", "brand": "Marka"}],
        "coupon": _coupon_maker(message),
        "flow": {
            "event": "Started Checkout",
            "properties": {"items": [cart_item], "total": "100.00", "currency": "TRY"},
            "product": {"id": 1, "title": "Ürün", "brand": "Marka"},
            "coupon": "SEPET-7K3Q9XWA",
            "old_price": "120.00",
            "price": "100.00",
        },
        "unsubscribe_url": "https://example.com/u",
        "preferences_url": "https://example.com/p",
    }
