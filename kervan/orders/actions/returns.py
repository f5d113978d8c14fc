"""Returns: goods coming back on an order, line by line, with a reason; the stock goes back on the shelf."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.catalog.actions import stock_adjust
from kervan.catalog.models import StockMovement
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError, check_choice
from kervan.customers import stats
from kervan.events.actions import event_record
from kervan.events.models import CanonicalEvent
from kervan.orders.actions._checks import aware_or_now, check_line_quantity
from kervan.orders.models import Order, OrderStatus, Refund, Return, ReturnLine, ReturnReason


@transaction.atomic
def return_create(
    *,
    actor: Actor,
    order: Order,
    lines: list[dict],
    reason: str,
    note: str = "",
    occurred_at=None,
    external_id: str = "",
    restock: bool = True,
) -> tuple[Return, bool]:
    """Record a (partial) return: lines [{order_line_id, quantity}] with a reason. Stock goes back if restock.

    Returns (return, created): the same external_id again on the order returns the first return.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    external_id = str(external_id or "")
    if external_id and (existing := order.returns.filter(external_id=external_id).first()):
        return existing, False
    check_choice(reason, ReturnReason, field="reason")
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("A cancelled order cannot be returned."), "order_cancelled")
    if not lines:
        raise KervanError(_("A return needs at least one line."), "no_lines", field="lines")
    order_lines = {line.pk: line for line in order.lines.select_for_update()}
    wanted: dict[int, int] = {}
    for i, item in enumerate(lines):
        line_id = item.get("order_line_id")
        if line_id not in order_lines:
            raise KervanError(
                _("lines[%(index)s]: order line %(line_id)s is not on this order.") % {"index": i, "line_id": line_id},
                "unknown_line",
                field=f"lines.{i}.order_line_id",
            )
        wanted[line_id] = wanted.get(line_id, 0) + check_line_quantity(item.get("quantity"), i)
    for line_id, quantity in wanted.items():
        line = order_lines[line_id]
        if quantity > line.quantity - line.returned_quantity:
            raise KervanError(
                _("Only %(count)s of '%(title)s' can still be returned.")
                % {"count": line.quantity - line.returned_quantity, "title": line.title},
                "too_many_returned",
            )
    occurred_at = aware_or_now(occurred_at, "occurred_at")
    ret = Return.objects.create(
        order=order,
        customer_id=order.customer_id,
        reason=reason,
        note=note,
        external_id=external_id,
        created_at=occurred_at,
        actor=actor.user,
        waiting=order.refunded_total < order.total,  # nothing to wait for on an order already refunded in full
    )
    for line_id, quantity in wanted.items():
        line = order_lines[line_id]
        ReturnLine.objects.create(return_request=ret, order_line=line, quantity=quantity)
        line.returned_quantity += quantity
        line.save(update_fields=["returned_quantity"])
        if restock and line.variant_id:
            stock_adjust(
                actor=actor,
                variant=line.variant,
                delta=quantity,
                reason=StockMovement.Reason.RETURN,
                reference=order.number,
            )
        event_record(
            name=CanonicalEvent.RETURNED_PRODUCT,
            occurred_at=occurred_at,
            dedupe_key=f"return:{ret.pk}:line:{line_id}",
            customer_id=order.customer_id,
            source=order.source,
            properties={
                "order_id": order.pk,
                "sku": line.sku,
                "title": line.title,
                "quantity": quantity,
                "reason": reason,
            },
        )
    stats.stats_record_return(customer_id=order.customer_id)
    audit(
        actor=actor,
        action="create",
        obj=ret,
        customer_id=order.customer_id,
        changes={"return": [None, {str(k): v for k, v in wanted.items()}], "reason": [None, reason]},
    )
    return ret, True


def returns_settle(order_ids: Iterable[int] | None = None) -> int:
    """Mark the returns of these orders (all orders: None) that are no longer waiting for money: a refund names the
    return, or the whole order is refunded. Idempotent; for refunds recorded one by one and for bulk writes (the file
    import, the demo shop) that write returns and refunds without the actions. Returns how many it settled."""
    rows = Return.objects.filter(waiting=True).filter(
        Q(Exists(Refund.objects.filter(return_request=OuterRef("pk"))))
        | Q(order__refunded_total__gte=F("order__total"))
    )
    if order_ids is not None:
        rows = rows.filter(order_id__in=list(order_ids))
    return Return.objects.filter(pk__in=rows.values("pk")).update(waiting=False)
