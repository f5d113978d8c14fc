"""Orders on the customer record: their timeline entries (status changes, returns, refunds), the "Recent orders"
card of the Customer 360 page, and how a merge moves them. Registered in OrdersConfig.ready()."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.templatetags.kervan import money
from kervan.currency.selectors import reporting_currency
from kervan.customers.models import Customer
from kervan.customers.registry import Card, register_card, register_merge, register_model_timeline
from kervan.events.timeline import hide_emitted_events
from kervan.orders.actions import orders_reassign
from kervan.orders.models import Order, OrderStatusChange, Refund, Return

# Dedupe-key namespaces of the events the order actions emit ("Placed Order", "Refunded Order"…): the timeline shows
# the order rows themselves instead.
EMITTED_EVENT_PREFIXES = ("order:", "return:", "refund:")


def order_amounts(order: Order) -> str:
    """The order's own amount and, in another currency than the reporting one, its converted total ("€50,00 ≈
    ₺2.475,00") or that its rate is still awaited."""
    own = money(order.total, order.currency)
    target = reporting_currency()
    if order.currency == target:
        return own
    if order.reporting_total is None:
        return f"{own} · {_('awaiting exchange rate')}"
    return f"{own} ≈ {money(order.reporting_total, target)}"


def _status_change(change: OrderStatusChange) -> dict[str, Any]:
    order = change.order
    titles = {
        "placed": _("Order %(number)s placed"),
        "paid": _("Order %(number)s paid"),
        "fulfilled": _("Order %(number)s fulfilled"),
        "shipped": _("Order %(number)s shipped"),
        "delivered": _("Order %(number)s delivered"),
        "cancelled": _("Order %(number)s cancelled"),
    }
    data = {
        "order_id": order.pk,
        "status": change.status,
        "total": str(order.total),
        "currency": order.currency,
        "reporting_total": None if order.reporting_total is None else str(order.reporting_total),
        "reporting_currency": reporting_currency(),
    }
    data.update(change.details)
    summary = order_amounts(order)
    if data.get("carrier"):
        summary += f" · {data['carrier']} {data.get('tracking_number', '')}".rstrip()
    return {
        "title": titles[change.status] % {"number": order.number},
        "data": data,
        "summary": summary,
        "link": ("orders:detail", order.pk, "orders"),
    }


def _return(item: Return) -> dict[str, Any]:
    reason = item.get_reason_display()
    return {
        "title": _("Return on order %(number)s") % {"number": item.order.number},
        "data": {"order_id": item.order_id, "reason": reason, "note": item.note},
        "summary": reason,
        "link": ("orders:detail", item.order_id, "orders"),
    }


def _refund(refund: Refund) -> dict[str, Any]:
    reason = refund.get_reason_display()
    return {
        "title": _("Refund on order %(number)s") % {"number": refund.order.number},
        "data": {
            "order_id": refund.order_id,
            "amount": str(refund.amount),
            "currency": refund.currency,
            "reason": reason,
        },
        "summary": f"{money(refund.amount, refund.currency)} · {reason}",
        "link": ("orders:detail", refund.order_id, "orders"),
    }


def _recent_orders(customer: Customer) -> dict[str, Any] | None:
    orders = list(Order.objects.filter(customer=customer).order_by("-placed_at")[:5])
    for order in orders:
        order.amounts = order_amounts(order)  # type: ignore[attr-defined]
    return {"recent_orders": orders} if orders else None


def register() -> None:
    register_merge("orders", orders_reassign)
    hide_emitted_events(*EMITTED_EVENT_PREFIXES)
    for kind, label, position, model, time_field, present in (
        ("order", gettext_lazy("Orders"), 10, OrderStatusChange, "occurred_at", _status_change),
        ("return", gettext_lazy("Returns"), 20, Return, "created_at", _return),
        ("refund", gettext_lazy("Refunds"), 30, Refund, "occurred_at", _refund),
    ):
        register_model_timeline(kind, label, position, "orders", model, time_field, present, select_related=("order",))
    register_card(
        Card(name="recent_orders", template="orders/_recent_orders_card.html", area="orders", context=_recent_orders)
    )
