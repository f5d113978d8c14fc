"""Orders: recording one (NewOrder → order_create), moving it along its life (order_set_status, which also records
payments and shipments and undoes a cancelled order's effects), and moving a merged customer's orders."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.catalog.actions import stock_adjust
from kervan.catalog.models import StockMovement, Variant
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError, check_choice
from kervan.core.models import Source
from kervan.core.money import check_amount, to_amount, to_currency
from kervan.core.outgoing import emit
from kervan.core.sources import manual_source
from kervan.currency.selectors import convert, reporting_currency
from kervan.customers import stats
from kervan.customers.actions import customer_for_update
from kervan.customers.models import Customer
from kervan.events.actions import event_record, events_record
from kervan.events.models import CanonicalEvent
from kervan.orders.actions._checks import aware_or_now, check_line_quantity
from kervan.orders.actions.payments import payment_add
from kervan.orders.actions.shipments import shipment_add, shipments_deliver
from kervan.orders.models import (
    NEXT_STATUSES,
    Marketplace,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Refund,
    Return,
    SalesChannel,
)
from kervan.orders.rates import order_rate

STATUS_EVENTS = {
    OrderStatus.FULFILLED: CanonicalEvent.FULFILLED_ORDER,
    OrderStatus.SHIPPED: CanonicalEvent.SHIPPED_ORDER,
    OrderStatus.DELIVERED: CanonicalEvent.DELIVERED_ORDER,
    OrderStatus.CANCELLED: CanonicalEvent.CANCELLED_ORDER,
}


@dataclass(frozen=True, kw_only=True)
class NewOrder:
    """An order as a caller (the API, the import, tests, benchmarks) describes it to order_create. Plain data, checked
    by the action: a refusal must come back as a KervanError naming the field, whoever built the NewOrder."""

    customer: Customer
    lines: Sequence[Mapping[str, Any]]  # {sku, title, quantity, unit_price, discount, tax}; a known SKU gives the title
    placed_at: datetime | None = None  # None: now
    currency: str | None = None  # None: the shop's currency
    shipping_total: Decimal | int | str = 0
    total: Decimal | int | str | None = None  # None: lines + shipping; a store may send what it charged instead
    source: Source | None = None  # None: Kervan's manual source (kervan.core.sources); the API passes its own
    external_id: str = ""  # the source's own id: the same (source, external_id) again is a replay, not a new order
    number: str = ""  # what the customer sees; "" numbers it K000123
    status: str = OrderStatus.PLACED  # or paid/delivered: a store may send an order that is already that far
    sales_channel: str = SalesChannel.WEB
    marketplace: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    discount_codes: Sequence[str] = ()


def _clean_lines(lines: Sequence[Mapping[str, Any]]) -> list[OrderLine]:
    if not lines:
        raise KervanError(_("An order needs at least one line."), "no_lines", field="lines")
    skus = {str(line.get("sku") or "") for line in lines} - {""}
    variants = {v.sku: v for v in Variant.objects.filter(sku__in=skus).select_related("product")}
    cleaned = []
    for i, line in enumerate(lines):
        quantity = check_line_quantity(line.get("quantity"), i)
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


class OrderReplayConflict(Conflict):
    """The same (source, external_id) sent again with different content. `extra` (added to the API's error body)
    names the recorded order and each field that differs, with the stored and the sent value."""

    def __init__(self, order: Order, differences: list[dict[str, str]]):
        super().__init__(
            _(
                "Order %(number)s was already recorded with external_id %(external_id)s, and this one differs in: "
                "%(fields)s. An order is recorded once: send its status to /orders/%(id)s/status, refunds and returns "
                "to their endpoints, or a different order with its own external_id."
            )
            % {
                "number": order.number,
                "external_id": order.external_id,
                "fields": ", ".join(d["field"] for d in differences),
                "id": order.pk,
            },
            "order_conflict",
        )
        self.extra = {"order_id": order.pk, "differences": differences}


def order_create(*, actor: Actor, new_order: NewOrder, adjust_stock: bool = True) -> tuple[Order, bool]:
    """Record an order. Returns (order, created). The same (source, external_id) again with the same content returns
    the first order (a retry is harmless); with different content it raises OrderReplayConflict (409) listing what
    differs, and changes nothing.

    Why not "newest wins": by the time it is sent again the order is already in the customer's totals
    (CustomerStats), the stock and the "Placed Order" events, and may have been paid, shipped or refunded since;
    replacing its lines or amounts would rewrite revenue history without a trace, and a re-send carries no version
    that says which copy is newer. What changes in an order's life has its own action (status, payment, shipment,
    return, refund), so a changed re-send is a client bug or an edit to be made through those; the 409 says which.

    An order without a source gets Kervan's manual source (the API passes its own). The order lands on the profile
    that holds the customer now (the survivor, if they were merged), locked first, so a merge of the same person
    waits for it or it waits for the merge. `adjust_stock=False` records a past order (an import of history) without
    taking today's stock.
    """
    new_order = replace(
        new_order, source=new_order.source or manual_source(), external_id=str(new_order.external_id or "")
    )
    source, external_id = new_order.source, new_order.external_id
    if external_id and (existing := _delivered(source, external_id)):
        return _replayed(existing, new_order), False
    try:
        with transaction.atomic():
            return _order_create(actor=actor, new_order=new_order, adjust_stock=adjust_stock), True
    except IntegrityError:
        # The unique constraint decides between concurrent deliveries of one order: the first insert wins, the others
        # fail on it (PostgreSQL makes them wait until the winner commits) and answer with the winner's order.
        existing = _delivered(source, external_id) if external_id else None
        if existing is None:
            raise
        return _replayed(existing, new_order), False


def _replayed(order: Order, new_order: NewOrder) -> Order:
    differences = order_differences(order, new_order)
    if differences:
        raise OrderReplayConflict(order, differences)
    return order


def order_differences(order: Order, new_order: NewOrder) -> list[dict[str, str]]:
    """What `new_order` says differently from the recorded `order`: [{"field", "stored", "sent"}], [] when it is the
    same order. Only what the sender gave is compared: an omitted placed_at, total, number or line title was filled
    in by Kervan. The status is the same when the order has been in that status (a re-send of the first delivery
    of an order that has since moved on is still the same order)."""
    differences: list[dict[str, str]] = []

    def compare(field: str, stored: object, sent: object) -> None:
        if stored != sent:
            differences.append({"field": field, "stored": _shown(stored), "sent": _shown(sent)})

    customer = new_order.customer
    while customer.merged_into_id:  # the order moved to the survivor with the rest of the profile
        customer = customer.merged_into
    compare("customer_id", order.customer_id, customer.pk)
    if new_order.placed_at is not None:
        compare("placed_at", order.placed_at, aware_or_now(new_order.placed_at, "placed_at"))
    compare("currency", order.currency, to_currency(new_order.currency))
    compare("shipping_total", order.shipping_total, to_amount(new_order.shipping_total, "shipping_total"))
    if new_order.total is not None:
        compare("total", order.total, to_amount(new_order.total, "total"))
    if new_order.number:
        compare("number", order.number, new_order.number[:64])
    been = set(order.status_changes.values_list("status", flat=True)) | {order.status}
    if new_order.status not in been:
        compare("status", order.status, new_order.status)
    compare("sales_channel", order.sales_channel, new_order.sales_channel)
    compare("marketplace", order.marketplace, new_order.marketplace)
    for field in ("utm_source", "utm_medium", "utm_campaign"):
        compare(field, getattr(order, field), getattr(new_order, field)[:100])
    compare("discount_codes", list(order.discount_codes), list(new_order.discount_codes))
    stored_lines = list(order.lines.order_by("id"))
    if len(stored_lines) != len(new_order.lines):
        compare("lines", len(stored_lines), len(new_order.lines))
        return differences
    for i, (stored, sent) in enumerate(zip(stored_lines, new_order.lines, strict=True)):
        compare(f"lines[{i}].sku", stored.sku, str(sent.get("sku") or ""))
        if sent.get("title"):
            compare(f"lines[{i}].title", stored.title, str(sent["title"]).strip()[:255])
        compare(f"lines[{i}].quantity", stored.quantity, sent.get("quantity"))
        for field in ("unit_price", "discount", "tax"):
            compare(
                f"lines[{i}].{field}", getattr(stored, field), to_amount(sent.get(field) or 0, f"lines[{i}].{field}")
            )
    return differences


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _delivered(source: Source, external_id: str) -> Order | None:
    return Order.objects.filter(source=source, external_id=external_id).first()


def _order_create(*, actor: Actor, new_order: NewOrder, adjust_stock: bool) -> Order:
    customer = customer_for_update(new_order.customer.pk)
    currency = to_currency(new_order.currency)
    placed_at = aware_or_now(new_order.placed_at, "placed_at")
    status = new_order.status
    if status not in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.DELIVERED):
        raise KervanError(_("A new order starts as placed, paid or delivered."), "invalid_status", field="status")
    sales_channel = check_choice(new_order.sales_channel, SalesChannel, field="sales_channel")
    marketplace = check_choice(new_order.marketplace, Marketplace, field="marketplace")
    order_lines = _clean_lines(new_order.lines)
    shipping = to_amount(new_order.shipping_total, "shipping_total")
    subtotal = check_amount(sum((line.unit_price * line.quantity for line in order_lines), Decimal("0")), "subtotal")
    discount_total = check_amount(sum((line.discount for line in order_lines), Decimal("0")), "discount_total")
    tax_total = check_amount(sum((line.tax for line in order_lines), Decimal("0")), "tax_total")
    computed = check_amount(subtotal - discount_total + tax_total + shipping, "total")
    total = to_amount(new_order.total, "total") if new_order.total is not None else computed
    if total < 0:
        raise KervanError(_("total cannot be negative."), "invalid_amount", field="total")
    source = new_order.source
    rate = order_rate(currency, placed_at)  # None: awaiting a rate, left out of the totals until it comes
    order = Order.objects.create(
        customer=customer,
        source=source,
        external_id=new_order.external_id,
        number=new_order.number[:64],
        status=status,
        currency=currency,
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        shipping_total=shipping,
        total=total,
        reporting_rate=rate,
        reporting_total=None if rate is None else convert(total, rate),
        reporting_refunded=None if rate is None else Decimal(0),
        sales_channel=sales_channel,
        marketplace=marketplace,
        utm_source=new_order.utm_source[:100],
        utm_medium=new_order.utm_medium[:100],
        utm_campaign=new_order.utm_campaign[:100],
        discount_codes=list(new_order.discount_codes),
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
    if order.reporting_total is not None:
        stats.stats_record_order(
            customer_id=customer.pk, amount=order.reporting_total, currency=reporting_currency(), placed_at=placed_at
        )
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
    lines = [{"sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price, "total": x.total} for x in order_lines]
    more = {"status": status, "customer_id": customer.pk, "placed_at": placed_at, "source": source.key, "lines": lines}
    emit("order.placed", event_id=f"order:{order.pk}:placed", data={"order": {**placed["properties"], **more}})
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
    restock: bool = True,
) -> Order:
    """Move an order along its life: paid, fulfilled, shipped (carrier + tracking number), delivered, cancelled.
    A cancellation puts the unreturned units back in stock; `restock=False` when the stock is not Kervan's to keep
    (a connected store's, which sends its own counts)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    check_choice(status, OrderStatus, field="status")
    if status not in NEXT_STATUSES[order.status]:
        raise Conflict(
            _("An order that is %(current)s cannot become %(status)s.") % {"current": order.status, "status": status},
            "invalid_transition",
        )
    occurred_at = aware_or_now(occurred_at, "occurred_at")
    details = {}
    if status == OrderStatus.SHIPPED:
        shipment = shipment_add(order=order, carrier=carrier, tracking_number=tracking_number, shipped_at=occurred_at)
        details = {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
    if status == OrderStatus.DELIVERED:
        shipments_deliver(order=order, delivered_at=occurred_at)
    if status == OrderStatus.PAID and payment:
        payment_add(order=order, payment=payment, occurred_at=occurred_at)
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
        _cancel_effects(actor, order, restock=restock)
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
    return order


def _cancel_effects(actor: Actor, order: Order, *, restock: bool) -> None:
    """A cancelled order leaves the customer's aggregates (unless it awaits a rate: it was never in them) and puts
    unreturned stock back."""

    def remaining_span() -> tuple[datetime | None, datetime | None]:
        remaining = Order.objects.filter(customer_id=order.customer_id, reporting_rate__isnull=False).exclude(
            status=OrderStatus.CANCELLED
        )
        span = remaining.aggregate(first=Min("placed_at"), last=Max("placed_at"))
        return span["first"], span["last"]

    if order.reporting_total is not None and order.reporting_refunded is not None:
        stats.stats_record_cancellation(
            customer_id=order.customer_id,
            net_amount=order.reporting_total - order.reporting_refunded,
            remaining_span=remaining_span,
        )
    if not restock:
        return
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


def orders_reassign(*, from_customer_id: int, to_customer_id: int) -> None:
    """Move a merged customer's orders and their timeline rows to the surviving profile."""
    Order.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    OrderStatusChange.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    Return.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
    Refund.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
