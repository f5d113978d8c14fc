"""CustomerStats recomputed from the orders, refunds and returns: `manage.py stats_rebuild` and the sampled check.

The order actions keep CustomerStats incrementally; this is the independent sum that proves them right or puts them
right. It streams: customers in batches by id (keyset), each batch summed in the database by three GROUP BY
statements (orders, refunds, returns) and compared in Python with the stored rows, without locks. Only the customers
that differ are then locked and summed again, and written (customers.stats.stats_replace, the table's one writer):
a live shop waits only for the rows being put right, and a row changed during the scan is never overwritten with a
sum older than it. On bench's 1M customers / 10M orders (PostgreSQL, bench/stats_rebuild.py): a check 23-27 s, a
rewrite of every customer 55 s.

Not recomputed: last_event_at, a "last seen" time throttled to LAST_EVENT_GRANULARITY (kervan.customers.stats), not
a sum of orders.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Max, Min, Sum

from kervan.core.db import ids_in
from kervan.customers import stats
from kervan.customers.models import Customer
from kervan.customers.stats import Drift, Totals
from kervan.orders.models import Order, OrderStatus, Refund, Return

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000
_SUM = DecimalField(max_digits=20, decimal_places=2)
CENT = Decimal("0.01")  # SQLite sums amounts as floats: back to cents (exact on PostgreSQL already)


@dataclass
class RebuildReport:
    customers: int = 0  # customers compared
    drifted: int = 0  # customers whose stored aggregates differed (and, unless checking, were rewritten)


def customer_totals(customer_ids: list[int]) -> dict[int, Totals]:
    """What the orders, refunds and returns of these customers add up to, by customer id; a customer with none of
    them is left out (their Totals are all zero)."""
    found: dict[int, dict] = {}
    of_them = ids_in("customer_id", customer_ids)
    # The stored amounts in the reporting currency (kervan.orders.rates), as the order actions add them; an order
    # awaiting its rate (reporting_rate null) is not counted yet, its refunds' reporting_amount is null too.
    kept = Order.objects.filter(of_them, reporting_rate__isnull=False).exclude(status=OrderStatus.CANCELLED)
    for row in (
        kept.values("customer_id")
        .order_by()
        .annotate(
            total_spent=Sum(F("reporting_total") - F("reporting_refunded"), output_field=_SUM),
            order_count=Count("id"),
            first_order_at=Min("placed_at"),
            last_order_at=Max("placed_at"),
        )
    ):
        row["total_spent"] = row["total_spent"].quantize(CENT)
        found[row.pop("customer_id")] = row
    refunds = Refund.objects.filter(of_them, reporting_amount__isnull=False).values("customer_id").order_by()
    refunded_sums = refunds.annotate(s=Sum("reporting_amount", output_field=_SUM)).values_list("customer_id", "s")
    for customer_id, refunded in refunded_sums:
        found.setdefault(customer_id, {})["refunded_total"] = refunded.quantize(CENT)
    returns = Return.objects.filter(of_them).values("customer_id").order_by()
    for customer_id, count in returns.annotate(n=Count("id")).values_list("customer_id", "n"):
        found.setdefault(customer_id, {})["returns_count"] = count
    wanted = set(customer_ids)
    return {customer_id: Totals(**values) for customer_id, values in found.items() if customer_id in wanted}


def stats_rebuild(
    *,
    customer_ids: Iterable[int] | None = None,
    check: bool = False,
    on_drift: Callable[[Drift], None] = lambda drift: None,
    batch_size: int = BATCH_SIZE,
) -> RebuildReport:
    """Recompute the aggregates of every customer (or of `customer_ids`) and rewrite those that differ; `check` only
    reports them. `on_drift` hears of each, in id order."""
    report = RebuildReport()
    lock_first = False
    for ids in _batches(customer_ids, batch_size):
        report.customers += len(ids)
        if lock_first:
            found = stats.stats_replace(ids, customer_totals)
        else:
            totals = customer_totals(ids)
            suspects = stats.stats_drift({i: totals.get(i, stats.NO_TOTALS) for i in ids})
            found = stats.stats_replace([d.customer_id for d in suspects], customer_totals, write=not check)
        # Most of this batch differed (a rewrite after a bug): lock the next batch first and sum it once, rather than
        # sum it unlocked to find the customers that differ and then again under the lock. A rebuild of 1M customers
        # that all differ took 92 s the second way (bench/stats_rebuild.py).
        lock_first = not check and len(found) * 2 > len(ids)
        report.drifted += len(found)
        for drift in found:
            on_drift(drift)
    return report


def customer_sample(size: int) -> list[int]:
    """`size` customer ids drawn at random (one sort of the customer ids: well under a second at 1M)."""
    return list(Customer.objects.order_by("?").values_list("pk", flat=True)[:size])


def stats_check_sample(size: int) -> list[Drift]:
    """Check `size` customers drawn at random; each one that differs is logged (a warning, "stats.drift")."""
    sample = customer_sample(size)
    found: list[Drift] = []
    stats_rebuild(customer_ids=sample, check=True, on_drift=found.append)
    for drift in found:
        logger.warning(
            "stats.drift",
            extra={
                "customer_id": drift.customer_id,
                "fields": {k: [str(v) for v in vs] for k, vs in drift.fields.items()},
            },
        )
    logger.info("stats.sample_checked", extra={"customers": len(sample), "drifted": len(found)})
    return found


def _batches(customer_ids: Iterable[int] | None, size: int) -> Iterator[list[int]]:
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        for start in range(0, len(ids), size):
            yield ids[start : start + size]
        return
    after = 0
    while ids := list(Customer.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size]):
        yield ids
        after = ids[-1]
