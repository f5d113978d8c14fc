"""Every write to orders. Each keeps CustomerStats, the order timeline, the event store and the audit log in step,
inside one transaction, and each replayed delivery (same source + external id) is recognised, never counted twice."""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.catalog.actions import stock_adjust
from kervan.catalog.models import StockMovement, Variant
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError
from kervan.core.money import check_amount, to_amount, to_currency
from kervan.customers import stats
from kervan.customers.cache import customers_changed
from kervan.customers.models import Customer
from kervan.events.actions import event_record, events_record
from kervan.events.models import CanonicalEvent
from kervan.orders.models import (
    Marketplace,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Payment,
    Refund,
    Return,
    ReturnLine,
    ReturnReason,
    SalesChannel,
    Shipment,
)

# Which status may follow which. Skipping ahead is allowed (a POS sale is paid and fulfilled at once);
# going back is not, and a cancelled or delivered order is final.
NEXT_STATUSES = {
    OrderStatus.PLACED: {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.FULFILLED: {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
    OrderStatus.DELIVERED: set(),
    OrderStatus.CANCELLED: set(),
}
STATUS_EVENTS = {
    OrderStatus.FULFILLED: CanonicalEvent.FULFILLED_ORDER,
    OrderStatus.SHIPPED: CanonicalEvent.SHIPPED_ORDER,
    OrderStatus.DELIVERED: CanonicalEvent.DELIVERED_ORDER,
    OrderStatus.CANCELLED: CanonicalEvent.CANCELLED_ORDER,
}


def _aware(value, field: str):
    value = value or timezone.now()
    if timezone.is_naive(value):
        raise KervanError(_("%(field)s needs a time zone.") % {"field": field}, "naive_datetime", field=field)
    return value


def _clean_lines(lines: list[dict], currency: str) -> list[OrderLine]:
    if not lines:
        raise KervanError(_("An order needs at least one line."), "no_lines", field="lines")
    skus = {str(line.get("sku") or "") for line in lines} - {""}
    variants = {v.sku: v for v in Variant.objects.filter(sku__in=skus).select_related("product")}
    cleaned = []
    for i, line in enumerate(lines):
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise KervanError(
                _("lines[%(index)s].quantity must be a whole number ≥ 1.") % {"index": i},
                "invalid_quantity",
                field=f"lines.{i}.quantity",
            )
        unit_price = to_amount(line.get("unit_price"), f"lines[{i}].unit_price")
        discount = to_amount(line.get("discount") or 0, f"lines[{i}].discount")
        tax = to_amount(line.get("tax") or 0, f"lines[{i}].tax")
        if unit_price < 0 or discount < 0 or tax < 0:
            raise KervanError(
                _("lines[%(index)s]: amounts cannot be negative.") % {"index": i}, "invalid_amount", field=f"lines.{i}"
            )
        sku = str(line.get("sku") or "")
        variant = variants.get(sku)
        title = str(line.get("title") or (str(variant) if variant else "")).strip()[:255]
        if not title:
            raise KervanError(
                _("lines[%(index)s] needs a title or a known SKU.") % {"index": i},
                "invalid_line",
                field=f"lines.{i}.title",
            )
        cleaned.append(
            OrderLine(
                variant=variant,
                sku=sku,
                title=title,
                quantity=quantity,
                unit_price=unit_price,
                discount=discount,
                tax=tax,
                total=check_amount(unit_price * quantity - discount + tax, f"lines[{i}] total"),
            )
        )
    return cleaned


def order_create(
    *,
    actor: Actor,
    customer: Customer,
    lines: list[dict],
    placed_at=None,
    currency: str | None = None,
    shipping_total=0,
    total=None,
    source=None,
    external_id: str = "",
    number: str = "",
    status: str = OrderStatus.PLACED,
    sales_channel: str = SalesChannel.WEB,
    marketplace: str = "",
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
    discount_codes=(),
    adjust_stock: bool = True,
) -> tuple[Order, bool]:
    """Record an order. Returns (order, created); the same (source, external_id) again returns the first order.

    `total` defaults to lines + shipping; a store may send its own total (what the customer was charged).
    `adjust_stock=False` records a past order (an import of history) without taking today's stock.
    """
    external_id = str(external_id or "")
    if external_id:
        existing = Order.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            return _order_create(
                actor=actor,
                customer=customer,
                lines=lines,
                placed_at=placed_at,
                currency=currency,
                shipping_total=shipping_total,
                total=total,
                source=source,
                external_id=external_id,
                number=number,
                status=status,
                sales_channel=sales_channel,
                marketplace=marketplace,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=utm_campaign,
                discount_codes=discount_codes,
                adjust_stock=adjust_stock,
            ), True
    except IntegrityError:
        # A concurrent delivery of the same order won the race.
        existing = Order.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return existing, False


def _order_create(
    *,
    actor,
    customer,
    lines,
    placed_at,
    currency,
    shipping_total,
    total,
    source,
    external_id,
    number,
    status,
    sales_channel,
    marketplace,
    utm_source,
    utm_medium,
    utm_campaign,
    discount_codes,
    adjust_stock,
):
    if customer.merged_into_id:
        customer = customer.merged_into
    currency = to_currency(currency)
    placed_at = _aware(placed_at, "placed_at")
    if status not in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.DELIVERED):
        raise KervanError(_("A new order starts as placed, paid or delivered."), "invalid_status", field="status")
    if sales_channel not in SalesChannel.values:
        raise KervanError(
            _("sales_channel must be one of %(choices)s.") % {"choices": ", ".join(SalesChannel.values)},
            "invalid_choice",
            field="sales_channel",
        )
    if marketplace not in Marketplace.values:
        raise KervanError(_("Unknown marketplace."), "invalid_choice", field="marketplace")
    order_lines = _clean_lines(lines, currency)
    shipping = to_amount(shipping_total, "shipping_total")
    subtotal = check_amount(sum((line.unit_price * line.quantity for line in order_lines), Decimal("0")), "subtotal")
    discount_total = check_amount(sum((line.discount for line in order_lines), Decimal("0")), "discount_total")
    tax_total = check_amount(sum((line.tax for line in order_lines), Decimal("0")), "tax_total")
    computed = check_amount(subtotal - discount_total + tax_total + shipping, "total")
    total = to_amount(total, "total") if total is not None else computed
    if total < 0:
        raise KervanError(_("total cannot be negative."), "invalid_amount", field="total")
    order = Order.objects.create(
        customer=customer,
        source=source,
        external_id=external_id,
        number=number[:64],
        status=status,
        currency=currency,
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        shipping_total=shipping,
        total=total,
        sales_channel=sales_channel,
        marketplace=marketplace,
        utm_source=utm_source[:100],
        utm_medium=utm_medium[:100],
        utm_campaign=utm_campaign[:100],
        discount_codes=list(discount_codes),
        placed_at=placed_at,
    )
    if not order.number:
        order.number = f"K{order.pk:06d}"
        order.save(update_fields=["number"])
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    OrderStatusChange.objects.create(
        order=order, customer_id=customer.pk, status=OrderStatus.PLACED, occurred_at=placed_at, actor=actor.user
    )
    if status != OrderStatus.PLACED:
        OrderStatusChange.objects.create(
            order=order, customer_id=customer.pk, status=status, occurred_at=placed_at, actor=actor.user
        )
    for line in order_lines:
        if adjust_stock and line.variant_id:
            stock_adjust(
                actor=actor,
                variant=line.variant,
                delta=-line.quantity,
                reason=StockMovement.Reason.SALE,
                reference=order.number,
            )
    stats.stats_record_order(customer_id=customer.pk, amount=total, currency=currency, placed_at=placed_at)
    placed = {
        "name": CanonicalEvent.PLACED_ORDER,
        "occurred_at": placed_at,
        "dedupe_key": f"order:{order.pk}:placed",
        "properties": {
            "order_id": order.pk,
            "number": order.number,
            "value": str(total),
            "currency": currency,
            "items": len(order_lines),
            "sales_channel": sales_channel,
        },
    }
    ordered = [
        {
            "name": CanonicalEvent.ORDERED_PRODUCT,
            "occurred_at": placed_at,
            "dedupe_key": f"order:{order.pk}:line:{i}",
            "properties": {
                "order_id": order.pk,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "value": str(line.total),
            },
        }
        for i, line in enumerate(order_lines)
    ]
    events_record([placed, *ordered], customer_id=customer.pk, source=source)
    audit(
        actor=actor,
        action="create",
        obj=order,
        customer_id=customer.pk,
        changes={"order": [None, order.number], "total": [None, str(total)]},
    )
    return order


@transaction.atomic
def order_set_status(
    *,
    actor: Actor,
    order: Order,
    status: str,
    occurred_at=None,
    carrier: str = "",
    tracking_number: str = "",
    note: str = "",
    payment: dict | None = None,
) -> Order:
    """Move an order along its life: paid, fulfilled, shipped (carrier + tracking number), delivered, cancelled."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if status not in OrderStatus.values:
        raise KervanError(
            _("status must be one of %(choices)s.") % {"choices": ", ".join(OrderStatus.values)},
            "invalid_choice",
            field="status",
        )
    if status not in NEXT_STATUSES[order.status]:
        raise Conflict(
            _("An order that is %(current)s cannot become %(status)s.") % {"current": order.status, "status": status},
            "invalid_transition",
        )
    occurred_at = _aware(occurred_at, "occurred_at")
    details = {}
    if status == OrderStatus.SHIPPED:
        carrier = (carrier or "").strip()
        if not carrier:
            raise KervanError(_("A shipment needs a carrier."), "missing_carrier", field="carrier")
        details = {"carrier": carrier[:60], "tracking_number": (tracking_number or "").strip()[:100]}
        Shipment.objects.create(
            order=order, carrier=details["carrier"], tracking_number=details["tracking_number"], shipped_at=occurred_at
        )
    if status == OrderStatus.DELIVERED:
        order.shipments.filter(delivered_at__isnull=True).update(delivered_at=occurred_at)
    if status == OrderStatus.PAID and payment:
        _payment_add(order, payment, occurred_at)
    if note:
        details["note"] = note[:500]
    old = order.status
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    OrderStatusChange.objects.create(
        order=order,
        customer_id=order.customer_id,
        status=status,
        occurred_at=occurred_at,
        actor=actor.user,
        details=details,
    )
    if status == OrderStatus.CANCELLED:
        _cancel_effects(actor, order)
    if status in STATUS_EVENTS:
        event_record(
            name=STATUS_EVENTS[status],
            occurred_at=occurred_at,
            dedupe_key=f"order:{order.pk}:{status}",
            customer_id=order.customer_id,
            source=order.source,
            properties={"order_id": order.pk, "number": order.number, "value": str(order.total), **details},
        )
    audit(actor=actor, action="update", obj=order, customer_id=order.customer_id, changes={"status": [old, status]})
    customers_changed([order.customer_id])  # the 360 lists the order's status
    return order


def _payment_add(order: Order, payment: dict, occurred_at) -> Payment:
    method = payment.get("method", Payment.Method.CARD)
    if method not in Payment.Method.values:
        raise KervanError(_("Unknown payment method."), "invalid_choice", field="payment.method")
    installments = payment.get("installments", 1)
    if not isinstance(installments, int) or not 1 <= installments <= 36:
        raise KervanError(_("installments must be 1–36."), "invalid_installments", field="payment.installments")
    return Payment.objects.create(
        order=order,
        amount=to_amount(payment.get("amount", order.total), "payment.amount"),
        currency=order.currency,
        method=method,
        provider=str(payment.get("provider", ""))[:40],
        reference=str(payment.get("reference", ""))[:100],
        installments=installments,
        occurred_at=occurred_at,
    )


def _cancel_effects(actor: Actor, order: Order) -> None:
    """A cancelled order leaves the customer's aggregates and puts unreturned stock back."""
    remaining = Order.objects.filter(customer_id=order.customer_id).exclude(status=OrderStatus.CANCELLED)
    span = remaining.aggregate(first=Min("placed_at"), last=Max("placed_at"))
    stats.stats_record_cancellation(
        customer_id=order.customer_id,
        net_amount=order.total - order.refunded_total,
        first_order_at=span["first"],
        last_order_at=span["last"],
    )
    for line in order.lines.filter(variant__isnull=False).select_related("variant"):
        back = line.quantity - line.returned_quantity
        if back:
            stock_adjust(
                actor=actor,
                variant=line.variant,
                delta=back,
                reason=StockMovement.Reason.RETURN,
                reference=f"{order.number} cancelled",
            )


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
) -> Return:
    """Record a (partial) return: lines [{order_line_id, quantity}] with a reason. Stock goes back if restock."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if reason not in ReturnReason.values:
        raise KervanError(
            _("reason must be one of %(choices)s.") % {"choices": ", ".join(ReturnReason.values)},
            "invalid_choice",
            field="reason",
        )
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("A cancelled order cannot be returned."), "order_cancelled")
    if external_id and order.returns.filter(external_id=external_id).exists():
        return order.returns.get(external_id=external_id)
    if not lines:
        raise KervanError(_("A return needs at least one line."), "no_lines", field="lines")
    order_lines = {line.pk: line for line in order.lines.select_for_update()}
    wanted: dict[int, int] = {}
    for i, item in enumerate(lines):
        line_id, quantity = item.get("order_line_id"), item.get("quantity")
        if line_id not in order_lines:
            raise KervanError(
                _("lines[%(index)s]: order line %(line_id)s is not on this order.") % {"index": i, "line_id": line_id},
                "unknown_line",
                field=f"lines.{i}.order_line_id",
            )
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise KervanError(
                _("lines[%(index)s].quantity must be a whole number ≥ 1.") % {"index": i},
                "invalid_quantity",
                field=f"lines.{i}.quantity",
            )
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    for line_id, quantity in wanted.items():
        line = order_lines[line_id]
        if quantity > line.quantity - line.returned_quantity:
            raise KervanError(
                _("Only %(count)s of '%(title)s' can still be returned.")
                % {"count": line.quantity - line.returned_quantity, "title": line.title},
                "too_many_returned",
            )
    occurred_at = _aware(occurred_at, "occurred_at")
    ret = Return.objects.create(
        order=order,
        customer_id=order.customer_id,
        reason=reason,
        note=note,
        external_id=str(external_id or ""),
        created_at=occurred_at,
        actor=actor.user,
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
    return ret


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
    if reason not in ReturnReason.values:
        raise KervanError(
            _("reason must be one of %(choices)s.") % {"choices": ", ".join(ReturnReason.values)},
            "invalid_choice",
            field="reason",
        )
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
    occurred_at = _aware(occurred_at, "occurred_at")
    refund = Refund.objects.create(
        order=order,
        customer_id=order.customer_id,
        return_request=return_request,
        amount=amount,
        currency=order.currency,
        reason=reason,
        note=note,
        external_id=external_id,
        occurred_at=occurred_at,
        actor=actor.user,
    )
    order.refunded_total += amount
    order.save(update_fields=["refunded_total", "updated_at"])
    stats.stats_record_refund(
        customer_id=order.customer_id, amount=amount, counts_in_total=order.status != OrderStatus.CANCELLED
    )
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


def orders_reassign(*, from_customer_id: int, to_customer_id: int) -> None:
    """Move a merged customer's orders and their timeline rows to the surviving profile."""
    Order.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    OrderStatusChange.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    Return.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    Refund.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
