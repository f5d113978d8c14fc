"""Orders in the shop's reporting currency (README, "Customer totals").

Every order keeps its own currency and amounts; the customer's totals are kept in the reporting currency
(settings.KERVAN_REPORTING_CURRENCY), each order converted at the rate of its placed day (Europe/Istanbul) from the
exchange-rate table (kervan.currency). The rate is stored on the order (Order.reporting_rate) with the converted
total, and each refund is converted at its order's rate: the totals and their recompute (stats_rebuild) add the
same stored amounts, so they agree to the cent. Amounts in different currencies are never added raw.

An order whose rate is missing is "awaiting a rate": for the customer's totals it is as if not yet placed (neither
its money nor its count; its returns still count, they are not money). When rates are stored, `orders_rated` (a
listener of kervan.currency) counts the orders they now cover, once each.
"""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.utils import timezone

from kervan.accounts.actors import Actor
from kervan.core.audit import audit
from kervan.currency.selectors import LOOKBACK, convert, rate_to_reporting, reporting_currency
from kervan.customers import stats
from kervan.orders.models import Order, OrderStatus, Refund

RATE_PLACES = Decimal("0.00000001")  # Order.reporting_rate's 8 places


def order_rate(currency: str, placed_at: dt.datetime) -> Decimal | None:
    """Units of the reporting currency for one unit of `currency` on the order's local placed day, as stored on the
    order (8 places); None while the rate is missing."""
    rate = rate_to_reporting(currency, timezone.localdate(placed_at))
    return None if rate is None else rate.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def refund_converted(order: Order, amount: Decimal) -> Decimal:
    """A new refund of `amount` on a rated order, in the reporting currency: the converted refunded total after it
    less the one before, so the refunds of an order add up to its refunded total converted (a full refund takes back
    exactly its reporting_total). Call before order.refunded_total includes `amount`."""
    assert order.reporting_rate is not None
    before = convert(order.refunded_total, order.reporting_rate)
    return convert(order.refunded_total + amount, order.reporting_rate) - before


def orders_rated(stored: dict[str, list[dt.date]]) -> None:
    """Rates were stored ({currency: [days]}): count the orders awaiting a rate that they now cover (orders in those
    currencies, or every currency when the reporting currency's own rate came, placed on a day a rate of those
    days applies to). Idempotent: an order already counted, or still without a rate, is left alone."""
    days = [day for currency_days in stored.values() for day in currency_days]
    if not days:
        return
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(min(days), dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(max(days) + LOOKBACK, dt.time.min, tzinfo=tz)
    awaiting = Order.objects.filter(reporting_rate__isnull=True, placed_at__gte=start, placed_at__lt=end)
    if reporting_currency() not in stored:
        awaiting = awaiting.filter(currency__in=list(stored))
    for order_id in awaiting.order_by("pk").values_list("pk", flat=True):
        order_rate_arrived(order_id)


@transaction.atomic
def order_rate_arrived(order_id: int) -> bool:
    """Convert an order awaiting a rate (and its refunds) now that the rate is known, and count it in its customer's
    totals: its value and count unless cancelled, its refunds as refunds. Returns whether it was counted now."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.reporting_rate is not None:
        return False
    rate = order_rate(order.currency, order.placed_at)
    if rate is None:
        return False
    refunded = Decimal(0)
    for refund in Refund.objects.filter(order_id=order.pk).order_by("pk"):
        refund.reporting_amount = convert(refunded + refund.amount, rate) - convert(refunded, rate)
        refund.save(update_fields=["reporting_amount"])
        refunded += refund.amount
    order.reporting_rate = rate
    order.reporting_total = convert(order.total, rate)
    order.reporting_refunded = convert(order.refunded_total, rate)
    order.save(update_fields=["reporting_rate", "reporting_total", "reporting_refunded", "updated_at"])
    kept = order.status != OrderStatus.CANCELLED
    if kept:
        stats.stats_record_order(
            customer_id=order.customer_id,
            amount=order.reporting_total,
            currency=reporting_currency(),
            placed_at=order.placed_at,
        )
    if order.reporting_refunded:
        stats.stats_record_refund(customer_id=order.customer_id, amount=order.reporting_refunded, counts_in_total=kept)
    audit(
        actor=Actor.system(),
        action="update",
        obj=order,
        customer_id=order.customer_id,
        changes={"reporting_total": [None, f"{order.reporting_total} {reporting_currency()}"]},
    )
    return True
