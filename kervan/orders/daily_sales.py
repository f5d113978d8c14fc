"""Orders and revenue per day, in the reporting currency: the figures of the Today page's sales card and its chart.

A day's figures: the orders placed that day (the shop's time zone, settings.TIME_ZONE) and not cancelled, and their
revenue Σ (reporting_total − reporting_refunded) — the same money CustomerStats adds up, so the chart and the
customers' totals agree. Orders still awaiting an exchange rate count as orders but add no money until their rate
comes (`awaiting_rate` says how many).

Why a rollup (DailySales): the card shows 30 days. Summing them live reads every order of the month — about 400,000
rows at 10M orders over two years, a second on PostgreSQL — on every view of the home page. The closed days are
therefore read from one row each, and only today is summed live, from the (placed_at) index: a range scan over
today's orders.

Why closed days still change, and how they are kept right: a refund or a cancellation of an earlier order, a rate
that arrives late, or an import of old orders changes that order's day. The order actions do not announce this (no
business logic in signals, and every write path would need to), so the recent days are recomputed instead:
`daily_sales_refresh` re-sums the last REFRESH_DAYS closed days every hour (scheduled from OrdersConfig.ready; one
GROUP BY over a month of orders, idempotent, an upsert per day), and a day the page needs that has no row (a new
install, a gap) is summed on demand and stored. A refund on an earlier day's order shows on the chart within the
hour; today's figures are always exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from kervan.core import clock
from kervan.core.filters import day_start
from kervan.currency.selectors import reporting_currency
from kervan.orders.models import DailySales, Order, OrderStatus

# The closed days the hourly refresh re-sums: the chart's 30 and a few more, so a day never falls off its end stale.
REFRESH_DAYS = 35
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DaySales:
    day: dt.date
    orders: int
    revenue: Decimal
    awaiting_rate: int = 0


def shop_today() -> dt.date:
    """Today in the shop's time zone (not the viewer's): the day the rollup's days are counted in."""
    return clock.now().astimezone(timezone.get_default_timezone()).date()


def _placed(low: dt.datetime, high: dt.datetime) -> QuerySet[Order]:
    return Order.objects.filter(placed_at__gte=low, placed_at__lt=high).exclude(status=OrderStatus.CANCELLED)


_NET = ExpressionWrapper(
    Coalesce(F("reporting_total"), Value(ZERO)) - Coalesce(F("reporting_refunded"), Value(ZERO)),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)
# Only columns order_time_idx holds (placed_at, status, reporting_total, reporting_refunded): on PostgreSQL the sums
# are an index-only scan. COUNT(*) rather than COUNT(id), which would visit each row for its id.
_FIGURES = {
    "orders": Count("*"),
    "rated": Count("reporting_total"),
    "revenue": Coalesce(Sum(_NET), Value(ZERO), output_field=DecimalField(max_digits=16, decimal_places=2)),
}


def _day(day: dt.date, row: Mapping[str, Any]) -> DaySales:
    return DaySales(day, row["orders"], Decimal(row["revenue"]).quantize(ZERO), row["orders"] - row["rated"])


def sales_between(low: dt.datetime, high: dt.datetime) -> DaySales:
    """The figures of the orders placed in [low, high), summed live (an index range scan on placed_at)."""
    return _day(low.date(), _placed(low, high).aggregate(**_FIGURES))


def sales_by_day(first: dt.date, last: dt.date) -> dict[dt.date, DaySales]:
    """Every day of [first, last] summed live from the orders in one GROUP BY; days without orders are zeros."""
    zone = timezone.get_default_timezone()
    rows = (
        _placed(day_start(first), day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day")
        .annotate(**_FIGURES)
        .order_by()
    )
    found = {row["day"]: _day(row["day"], row) for row in rows}
    return {day: found.get(day, DaySales(day, 0, ZERO)) for day in _days(first, last)}


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _store(days: dict[dt.date, DaySales], currency: str) -> None:
    now = clock.now()
    DailySales.objects.bulk_create(
        [
            DailySales(
                day=d.day,
                currency=currency,
                orders=d.orders,
                revenue=d.revenue,
                awaiting_rate=d.awaiting_rate,
                computed_at=now,
            )
            for d in days.values()
        ],
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=["currency", "orders", "revenue", "awaiting_rate", "computed_at"],
    )


def daily_sales_refresh(days: int = REFRESH_DAYS) -> int:
    """Re-sum the last `days` closed days (yesterday and before) from the orders and store them: idempotent, run
    every hour by the scheduler. Returns how many days were stored."""
    yesterday = shop_today() - dt.timedelta(days=1)
    summed = sales_by_day(yesterday - dt.timedelta(days=days - 1), yesterday)
    _store(summed, reporting_currency())
    return len(summed)


def daily_sales(first: dt.date, last: dt.date) -> list[DaySales]:
    """Each day of [first, last]: closed days from the rollup (a missing one, or one summed in another reporting
    currency, is summed now and stored), today and later summed live, never stored."""
    today = shop_today()
    currency = reporting_currency()
    closed_last = min(last, today - dt.timedelta(days=1))
    shown: dict[dt.date, DaySales] = {}
    if first <= closed_last:
        for row in DailySales.objects.filter(day__gte=first, day__lte=closed_last, currency=currency):
            shown[row.day] = DaySales(row.day, row.orders, row.revenue, row.awaiting_rate)
        missing = [day for day in _days(first, closed_last) if day not in shown]
        if missing:
            summed = sales_by_day(missing[0], missing[-1])
            fresh = {day: summed[day] for day in missing}
            _store(fresh, currency)
            shown.update(fresh)
    if last >= today:
        shown.update(sales_by_day(max(first, today), last))
    return [shown[day] for day in _days(first, last)]
