"""Incremental upkeep of CustomerStats, called by order actions inside their transaction.

The stats row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions already
serialise writers), changed in Python with exact Decimals, and saved: no scan of the customer's orders.
"""

from decimal import Decimal

from django.utils.translation import gettext as _

from kervan.core.money import check_amount
from kervan.customers.cache import customers_changed
from kervan.customers.models import CustomerStats


def _locked(customer_id: int) -> CustomerStats:
    stats = CustomerStats.objects.select_for_update().filter(customer_id=customer_id).first()
    return stats or CustomerStats.objects.create(customer_id=customer_id)


def _save(stats: CustomerStats) -> None:
    # The sums use the same 14-digit AmountField as one order: a sum beyond it refuses the change that caused it
    # (a 4xx, nothing written) instead of failing in the database.
    check_amount(stats.total_spent, _("the customer's total spent"))
    check_amount(stats.refunded_total, _("the customer's total refunded"))
    stats.save()
    customers_changed([stats.customer_id])


def stats_record_order(*, customer_id: int, amount: Decimal, currency: str, placed_at) -> None:
    stats = _locked(customer_id)
    stats.order_count += 1
    stats.total_spent += amount
    stats.currency = currency
    if stats.first_order_at is None or placed_at < stats.first_order_at:
        stats.first_order_at = placed_at
    if stats.last_order_at is None or placed_at > stats.last_order_at:
        stats.last_order_at = placed_at
    stats.recompute_average()
    _save(stats)


def stats_record_cancellation(*, customer_id: int, net_amount: Decimal, first_order_at, last_order_at) -> None:
    """A cancelled order leaves the aggregates: its count and what is left of its value after refunds.

    The caller passes the first/last order dates of the remaining orders, since they may have been this order's.
    """
    stats = _locked(customer_id)
    stats.order_count = max(stats.order_count - 1, 0)
    stats.total_spent -= net_amount
    stats.first_order_at, stats.last_order_at = first_order_at, last_order_at
    stats.recompute_average()
    _save(stats)


def stats_record_refund(*, customer_id: int, amount: Decimal, counts_in_total: bool) -> None:
    stats = _locked(customer_id)
    stats.refunded_total += amount
    if counts_in_total:
        stats.total_spent -= amount
    stats.recompute_average()
    _save(stats)


def stats_record_return(*, customer_id: int) -> None:
    stats = _locked(customer_id)
    stats.returns_count += 1
    stats.save(update_fields=["returns_count"])
    customers_changed([customer_id])


def stats_merge(*, survivor_id: int, merged_id: int) -> None:
    """Fold the merged customer's aggregates into the survivor's."""
    survivor = _locked(survivor_id)
    merged = _locked(merged_id)
    survivor.order_count += merged.order_count
    survivor.total_spent += merged.total_spent
    survivor.refunded_total += merged.refunded_total
    survivor.returns_count += merged.returns_count
    survivor.first_order_at = _earliest(survivor.first_order_at, merged.first_order_at)
    survivor.last_order_at = _latest(survivor.last_order_at, merged.last_order_at)
    survivor.last_event_at = _latest(survivor.last_event_at, merged.last_event_at)
    survivor.recompute_average()
    _save(survivor)
    CustomerStats.objects.filter(customer_id=merged_id).update(
        order_count=0,
        total_spent=0,
        refunded_total=0,
        returns_count=0,
        average_order_value=0,
        first_order_at=None,
        last_order_at=None,
    )


def _earliest(a, b):
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a, b):
    return max(x for x in (a, b) if x is not None) if (a or b) else None
