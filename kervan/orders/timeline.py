"""Orders on the customer record: their timeline entries (status changes, returns, refunds), the "Recent orders"
card of the Customer 360 page, and how a merge moves them. Registered in OrdersConfig.ready()."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.templatetags.kervan import money
from kervan.currency.selectors import reporting_currency
from kervan.customers.models import Customer
from kervan.customers.registry import (
    Card,
    TimelineSource,
    register_card,
    register_merge,
    register_model_timeline,
    register_timeline_source,
)
from kervan.events.labels import register_reference
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


STATUS_TITLES = {
    "placed": gettext_lazy("Order %(number)s placed"),
    "paid": gettext_lazy("Order %(number)s paid"),
    "fulfilled": gettext_lazy("Order %(number)s fulfilled"),
    "shipped": gettext_lazy("Order %(number)s shipped"),
    "delivered": gettext_lazy("Order %(number)s delivered"),
    "cancelled": gettext_lazy("Order %(number)s cancelled"),
}


def _latest_status_changes(customer_id: int) -> QuerySet[OrderStatusChange]:
    """One row per order of the customer: its latest status change. The timeline shows an order once, when it last
    moved, with every status it went through under it; the keyset cursor pages these rows like any other kind."""
    later = OrderStatusChange.objects.filter(order_id=OuterRef("order_id")).filter(
        Q(occurred_at__gt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), pk__gt=OuterRef("pk"))
    )
    return OrderStatusChange.objects.filter(customer_id=customer_id).filter(~Exists(later))


def _step_detail(details: dict) -> str:
    return f"{details.get('carrier', '')} {details.get('tracking_number', '')}".strip()


class _PresentOrders:
    """An order on the timeline: "Order #1001 shipped" (its latest status) with its amounts, and under it the steps
    it went through, oldest first. `many` reads the steps of a page's orders in one query."""

    def __call__(self, change: OrderStatusChange) -> dict[str, Any]:
        return self.many([change])[0]

    def many(self, changes: list[OrderStatusChange]) -> list[dict[str, Any]]:
        steps: dict[int, list[OrderStatusChange]] = {}
        for step in OrderStatusChange.objects.filter(order_id__in={c.order_id for c in changes}).order_by(
            "occurred_at", "id"
        ):
            steps.setdefault(step.order_id, []).append(step)
        return [self._one(change, steps.get(change.order_id, [change])) for change in changes]

    def _one(self, change: OrderStatusChange, steps: list[OrderStatusChange]) -> dict[str, Any]:
        order = change.order
        details: dict[str, Any] = {}
        for step in steps:
            details.update(step.details)
        data = {
            "order_id": order.pk,
            "status": change.status,
            "total": str(order.total),
            "currency": order.currency,
            "reporting_total": None if order.reporting_total is None else str(order.reporting_total),
            "reporting_currency": reporting_currency(),
            **details,
            "steps": [
                {"status": step.status, "occurred_at": step.occurred_at.isoformat(), **step.details} for step in steps
            ],
        }
        summary = order_amounts(order)
        if details.get("carrier"):
            summary += f" · {_step_detail(details)}"
        shown: dict[str, Any] = {
            "title": STATUS_TITLES[change.status] % {"number": order.number},
            "data": data,
            "summary": summary,
            "link": ("orders:detail", order.pk, "orders"),
        }
        if len(steps) > 1:
            shown["steps"] = [
                {
                    "title": step.get_status_display(),
                    "when": timezone.localtime(step.occurred_at).strftime("%d.%m.%Y %H:%M"),
                    "when_iso": step.occurred_at.isoformat(),
                    "detail": _step_detail(step.details),
                }
                for step in steps
            ]
        return shown


_present_order = _PresentOrders()


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


def _order_numbers(ids: set[str]) -> dict[str, str]:
    """What an event's "order_id" shows: the order's number ("#1001"), not Kervan's row id."""
    pks = [int(i) for i in ids if i.isdigit() and len(i) < 19]
    return {str(pk): number for pk, number in Order.objects.filter(pk__in=pks).values_list("pk", "number") if number}


def _recent_orders(customer: Customer) -> dict[str, Any] | None:
    orders = list(Order.objects.filter(customer=customer).order_by("-placed_at")[:5])
    for order in orders:
        order.amounts = order_amounts(order)  # type: ignore[attr-defined]
    return {"recent_orders": orders} if orders else None


def register() -> None:
    register_merge("orders", orders_reassign)
    from kervan.customers.registry import register_privacy
    from kervan.orders import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    hide_emitted_events(*EMITTED_EVENT_PREFIXES)
    register_reference("order_id", _order_numbers)
    register_timeline_source(
        TimelineSource(
            kind="order",
            label=gettext_lazy("Orders"),
            position=10,
            area="orders",
            rows=_latest_status_changes,
            time_field="occurred_at",
            present=_present_order,
            select_related=("order",),
        )
    )
    for kind, label, position, model, time_field, present in (
        ("return", gettext_lazy("Returns"), 20, Return, "created_at", _return),
        ("refund", gettext_lazy("Refunds"), 30, Refund, "occurred_at", _refund),
    ):
        register_model_timeline(kind, label, position, "orders", model, time_field, present, select_related=("order",))
    register_card(
        Card(name="recent_orders", template="orders/_recent_orders_card.html", area="orders", context=_recent_orders)
    )
