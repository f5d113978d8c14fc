"""Refunds: money paid back on an order, partly or fully, with or without a return behind it."""

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit
from kervan.core.errors import KervanError, check_choice
from kervan.core.money import to_amount
from kervan.customers import stats
from kervan.events.actions import event_record
from kervan.events.models import CanonicalEvent
from kervan.orders.actions._checks import aware_or_now
from kervan.orders.actions.returns import returns_settle
from kervan.orders.models import Order, OrderStatus, Refund, Return, ReturnReason
from kervan.orders.rates import refund_converted


@transaction.atomic
def refund_create(
    *,
    actor: Actor,
    order: Order,
    amount,
    reason: str = ReturnReason.OTHER,
    note: str = "",
    occurred_at=None,
    external_id: str = "",
    return_request: Return | None = None,
) -> tuple[Refund, bool]:
    """Refund money on an order (partial or full). The same external_id again returns the first refund."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    external_id = str(external_id or "")
    if external_id and (existing := order.refunds.filter(external_id=external_id).first()):
        return existing, False
    check_choice(reason, ReturnReason, field="reason")
    amount = to_amount(amount, "amount")
    if amount <= 0:
        raise KervanError(_("A refund must be more than zero."), "invalid_amount", field="amount")
    refundable = order.total - order.refunded_total
    if amount > refundable:
        raise KervanError(
            _("At most %(amount)s %(currency)s can still be refunded.")
            % {"amount": refundable, "currency": order.currency},
            "refund_too_large",
            field="amount",
        )
    if return_request is not None and return_request.order_id != order.pk:
        raise KervanError(_("That return belongs to another order."), "foreign_return", field="return_id")
    occurred_at = aware_or_now(occurred_at, "occurred_at")
    # In the reporting currency at the order's rate; an order awaiting its rate converts its refunds when it comes.
    converted = None if order.reporting_rate is None else refund_converted(order, amount)
    refund = Refund.objects.create(
        order=order,
        customer_id=order.customer_id,
        return_request=return_request,
        amount=amount,
        currency=order.currency,
        reporting_amount=converted,
        reason=reason,
        note=note,
        external_id=external_id,
        occurred_at=occurred_at,
        actor=actor.user,
    )
    order.refunded_total += amount
    if converted is not None and order.reporting_refunded is not None:
        order.reporting_refunded += converted
        order.save(update_fields=["refunded_total", "reporting_refunded", "updated_at"])
        stats.stats_record_refund(
            customer_id=order.customer_id, amount=converted, counts_in_total=order.status != OrderStatus.CANCELLED
        )
    else:
        order.save(update_fields=["refunded_total", "updated_at"])
    returns_settle([order.pk])  # the return it names, or all of them once the order is refunded in full
    event_record(
        name=CanonicalEvent.REFUNDED_ORDER,
        occurred_at=occurred_at,
        dedupe_key=f"refund:{refund.pk}",
        customer_id=order.customer_id,
        source=order.source,
        properties={"order_id": order.pk, "number": order.number, "value": str(amount), "reason": reason},
    )
    audit(
        actor=actor,
        action="create",
        obj=refund,
        customer_id=order.customer_id,
        changes={"refund": [None, str(amount)], "reason": [None, reason]},
    )
    return refund, True
