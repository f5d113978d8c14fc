"""The precomputed figures of the Analytics page, and how they are kept fresh.

What is precomputed (kervan.reports.models), and why: at 10M orders a year of orders is about 5M rows; summing them
per view costs seconds on PostgreSQL, and the page's budget is 300 ms.
- Closed days × sales channel (`ChannelDay`): orders, orders with a rate, revenue (net of refunds, reporting
  currency, as kervan.orders.daily_sales sums it) and first orders. `analytics_refresh` re-sums the last
  REFRESH_DAYS closed days every hour (a refund or a cancellation of a recent order, a late rate); a day the page
  needs that has no row (a new install, a gap, a period further back) is summed on demand and stored. Today is
  summed live from the (placed_at) index, and kept in the cache for at most TODAY_SECONDS.
- New vs returning: an order is a new customer's when it is the customer's first order
  (placed_at = CustomerStats.first_order_at); so the period's new customers are its first orders, summed per day.
- The monthly cohort table (`CohortCell`), one pass over the orders of the last COHORT_MONTHS months, each night
  (`cohorts_refresh`) and on the first view of a shop that never had one.
- Segment sizes over time: entered/exited per segment and closed day (`SegmentDay`, from SegmentChange), refreshed
  with the rollup and on demand for missing days; today counted live (cached for TODAY_SECONDS).
- The repeat-purchase rate (customers with 2+ orders among customers with an order, from CustomerStats) every hour,
  and the CLV histogram (from the predictions) whenever the predictions were refreshed since it was counted.
Older closed days are not re-summed by the hour: a refund on an order older than REFRESH_DAYS reaches the page when
`manage.py analytics_refresh --days N` is run (the page says when each figure was computed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from kervan.core import clock
from kervan.core.filters import day_start
from kervan.currency.selectors import reporting_currency
from kervan.customers.models import CustomerStats
from kervan.orders.daily_sales import shop_today
from kervan.orders.models import Order, OrderStatus, SalesChannel
from kervan.predictions.models import CustomerPrediction, PredictionFit
from kervan.reports.models import ChannelDay, CohortCell, SegmentDay, StoredFigure

REFRESH_DAYS = 35
TODAY_SECONDS = 60
COHORT_MONTHS = 24
ZERO = Decimal("0.00")
# The CLV histogram's bins, in the reporting currency: [edge_i, edge_i+1), the last one open.
CLV_EDGES = (0, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000)

_NET = ExpressionWrapper(
    Coalesce(F("reporting_total"), Value(ZERO)) - Coalesce(F("reporting_refunded"), Value(ZERO)),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)
# The customer's first order: a lookup of the order's customer in CustomerStats' primary key (an index probe per order,
# with no join through the customers table).
_FIRST = Case(
    When(
        Exists(CustomerStats.objects.filter(customer_id=OuterRef("customer_id"), first_order_at=OuterRef("placed_at"))),
        then=Value(1),
    ),
    default=Value(0),
)
_FIGURES = {
    "orders": Count("*"),
    "rated": Count("reporting_total"),
    "revenue": Coalesce(Sum(_NET), Value(ZERO), output_field=DecimalField(max_digits=16, decimal_places=2)),
    "new_orders": Coalesce(Sum(_FIRST, output_field=IntegerField()), Value(0)),
}


def _placed(low: dt.datetime, high: dt.datetime) -> QuerySet[Order]:
    return Order.objects.filter(placed_at__gte=low, placed_at__lt=high).exclude(status=OrderStatus.CANCELLED)


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def channel_days_live(first: dt.date, last: dt.date) -> list[ChannelDay]:
    """Every (day, channel) of [first, last] summed from the orders in one GROUP BY, zeros included (unsaved)."""
    zone = timezone.get_default_timezone()
    rows = (
        _placed(day_start(first), day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day", "sales_channel")
        .annotate(**_FIGURES)
        .order_by()
    )
    found = {(row["day"], row["sales_channel"]): row for row in rows}
    now, currency = clock.now(), reporting_currency()
    out = []
    for day in days_between(first, last):
        for channel in _channels(found, day):
            row = found.get((day, channel), {})
            out.append(
                ChannelDay(
                    day=day,
                    channel=channel,
                    currency=currency,
                    orders=row.get("orders", 0),
                    rated=row.get("rated", 0),
                    revenue=Decimal(row.get("revenue", ZERO)).quantize(ZERO),
                    new_orders=int(row.get("new_orders", 0) or 0),
                    computed_at=now,
                )
            )
    return out


def _channels(found: dict[tuple[dt.date, str], Any], day: dt.date) -> list[str]:
    """The known channels, and any other value an order of that day carries (kept, not dropped)."""
    known = list(SalesChannel.values)
    return known + sorted({c for d, c in found if d == day and c not in known})


def _store(rows: Iterable[ChannelDay]) -> None:
    ChannelDay.objects.bulk_create(
        list(rows),
        update_conflicts=True,
        unique_fields=["day", "channel"],
        update_fields=["currency", "orders", "rated", "revenue", "new_orders", "computed_at"],
    )


def rollup_refresh(days: int = REFRESH_DAYS) -> int:
    """Re-sum the last `days` closed days from the orders and store them (idempotent). Returns the days stored."""
    yesterday = shop_today() - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=days - 1)
    _store(channel_days_live(first, yesterday))
    return days


def _stored(first: dt.date, last: dt.date) -> QuerySet[ChannelDay]:
    """The stored rows of the closed days [first, last], after summing (and storing) the days that have none or were
    summed in another reporting currency."""
    currency = reporting_currency()
    rows = ChannelDay.objects.filter(day__gte=first, day__lte=last, currency=currency)
    have = set(rows.values_list("day", flat=True).distinct())
    missing = [day for day in days_between(first, last) if day not in have]
    if missing:
        _store(row for row in channel_days_live(missing[0], missing[-1]) if row.day not in have)
    return rows


def channel_days(first: dt.date, last: dt.date) -> list[ChannelDay]:
    """Every (day, channel) of [first, last]: closed days from the rollup (missing ones, or ones summed in another
    reporting currency, are summed now and stored), today summed live (today_live) and later days as zeros."""
    today = shop_today()
    closed_last = min(last, today - dt.timedelta(days=1))
    shown: list[ChannelDay] = list(_stored(first, closed_last)) if first <= closed_last else []
    if first <= today <= last:
        shown.extend(today_live())
    return shown


_SUMS = {
    "orders": Sum("orders"),
    "rated": Sum("rated"),
    "revenue": Sum("revenue"),
    "new_orders": Sum("new_orders"),
}


def period_sums(first: dt.date, split: dt.date, last: dt.date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two periods read from the rollup at once, [first, split) and [split, last], summed in SQL: (the days of the
    second, each {"day", "orders", "rated", "revenue", "new_orders"}; per channel and period, each also with
    "channel" and "current"). Today is added from today_live; missing closed days are summed and stored first."""
    today = shop_today()
    closed_last = min(last, today - dt.timedelta(days=1))
    days: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    if first <= closed_last:
        rows = _stored(first, closed_last)
        days = list(rows.filter(day__gte=split).values("day").annotate(**_SUMS).order_by())
        current = Case(When(day__gte=split, then=Value(True)), default=Value(False))
        channels = list(rows.annotate(current=current).values("channel", "current").annotate(**_SUMS).order_by())
    if split <= today <= last:
        live = today_live()
        figures = ("orders", "rated", "revenue", "new_orders")
        days.append({"day": today, **{f: sum(getattr(r, f) for r in live) for f in figures}})
        channels.extend({"channel": r.channel, "current": True, **{f: getattr(r, f) for f in figures}} for r in live)
    return days, channels


def today_live() -> list[ChannelDay]:
    """Today's rows summed from the orders, at most TODAY_SECONDS old: on the busiest day of the 10M-order bench data
    (25,000 orders) the sum reads every order's row and its customer's stats row, 400 ms; the page is viewed more
    often than that is worth, and a minute is "live" for a day's totals."""
    today = shop_today()
    key = f"reports:today:{today.isoformat()}:{reporting_currency()}"
    rows = cache.get(key)
    if rows is None:
        rows = channel_days_live(today, today)
        cache.set(key, rows, TODAY_SECONDS)
    return list(rows)


def rollup_computed_at(first: dt.date, last: dt.date) -> dt.datetime | None:
    """When the oldest stored row of the closed days in [first, last] was summed (None: none stored)."""
    oldest: dt.datetime | None = ChannelDay.objects.filter(day__gte=first, day__lte=last).aggregate(
        oldest=Min("computed_at")
    )["oldest"]
    return oldest


# The cohort table ------------------------------------------------------------------------------------------------


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def cohorts_live(months: int = COHORT_MONTHS) -> dict[tuple[dt.date, int], int]:
    """{(cohort month, months since): customers who ordered then} for the cohorts of the last `months` months,
    counted from the orders (cancelled ones left out) in one GROUP BY."""
    zone = timezone.get_default_timezone()
    today = shop_today()
    start_index = _month_index(today) - (months - 1)
    start = dt.date(start_index // 12, start_index % 12 + 1, 1)
    rows = (
        Order.objects.exclude(status=OrderStatus.CANCELLED)
        .filter(placed_at__gte=day_start(start), customer__stats__first_order_at__gte=day_start(start))
        .annotate(
            cohort=TruncMonth("customer__stats__first_order_at", tzinfo=zone, output_field=DateField()),
            month=TruncMonth("placed_at", tzinfo=zone, output_field=DateField()),
        )
        .values("cohort", "month")
        .annotate(customers=Count("customer_id", distinct=True))
        .order_by()
    )
    cells: dict[tuple[dt.date, int], int] = {}
    for row in rows:
        cohort, month = _as_date(row["cohort"]), _as_date(row["month"])
        offset = _month_index(month) - _month_index(cohort)
        if offset >= 0:
            cells[(cohort, offset)] = cells.get((cohort, offset), 0) + row["customers"]
    return cells


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def cohorts_refresh(months: int = COHORT_MONTHS) -> int:
    """Recount the cohort table and replace it (idempotent). Returns how many cells it has."""
    from django.db import transaction

    cells = cohorts_live(months)
    now = clock.now()
    with transaction.atomic():
        CohortCell.objects.all().delete()
        CohortCell.objects.bulk_create(
            [CohortCell(cohort=c, offset=o, customers=n, computed_at=now) for (c, o), n in sorted(cells.items())]
        )
        StoredFigure.objects.update_or_create(
            key="cohorts", defaults={"data": {"cells": len(cells)}, "computed_at": now}
        )
    return len(cells)


# Figures over all customers --------------------------------------------------------------------------------------


def repeat_rate_live() -> dict[str, int]:
    counts = CustomerStats.objects.aggregate(
        buyers=Count("pk", filter=Q(order_count__gte=1)), repeat=Count("pk", filter=Q(order_count__gte=2))
    )
    return {"buyers": counts["buyers"], "repeat": counts["repeat"]}


def clv_histogram_live() -> dict[str, Any]:
    """Customers with a prediction per CLV bin (CLV_EDGES), counted in one pass."""
    bins: dict[str, Any] = {}
    for i, low in enumerate(CLV_EDGES):
        high = CLV_EDGES[i + 1] if i + 1 < len(CLV_EDGES) else None
        condition = Q(clv_12m__gte=low) if high is None else Q(clv_12m__gte=low, clv_12m__lt=high)
        bins[f"b{i}"] = Count("pk", filter=condition)
    counts = CustomerPrediction.objects.aggregate(**bins)
    fit = PredictionFit.objects.order_by("-fitted_at", "-id").first()
    return {
        "counts": [counts[f"b{i}"] for i in range(len(CLV_EDGES))],
        "fitted_at": None if fit is None else fit.fitted_at.isoformat(),
    }


def _put(key: str, data: dict[str, Any]) -> StoredFigure:
    figure, _created = StoredFigure.objects.update_or_create(
        key=key, defaults={"data": data, "computed_at": clock.now()}
    )
    return figure


def stored(key: str) -> StoredFigure | None:
    return StoredFigure.objects.filter(key=key).first()


def repeat_rate() -> StoredFigure:
    return stored("repeat_rate") or _put("repeat_rate", repeat_rate_live())


def clv_histogram() -> StoredFigure:
    """The stored histogram, recounted when the predictions were refreshed after it was counted."""
    figure = stored("clv_histogram")
    fit = PredictionFit.objects.order_by("-fitted_at", "-id").first()
    latest = None if fit is None else fit.fitted_at.isoformat()
    if figure is None or figure.data.get("fitted_at") != latest:
        figure = _put("clv_histogram", clv_histogram_live())
    return figure


REBUILD_CHUNK_DAYS = 31  # one GROUP BY per month of stored days: a bounded statement, not the whole history at once


def rollup_rebuild() -> int:
    """Re-sum every closed day the rollup holds, then the cohorts and the repeat-purchase rate: after a change any
    day may show (an import of old orders, a bulk load), which the hourly refresh of recent days would never
    reach. Idempotent. Returns the days stored."""
    first = ChannelDay.objects.order_by("day").values_list("day", flat=True).first()
    yesterday = shop_today() - dt.timedelta(days=1)
    days = 0
    while first is not None and first <= yesterday:
        last = min(first + dt.timedelta(days=REBUILD_CHUNK_DAYS - 1), yesterday)
        _store(channel_days_live(first, last))
        days += (last - first).days + 1
        first = last + dt.timedelta(days=1)
    cohorts_refresh()
    _put("repeat_rate", repeat_rate_live())
    return days


def analytics_refresh(days: int = REFRESH_DAYS) -> int:
    """The hourly refresh: the last `days` closed days of the rollup, the repeat-purchase rate and (if the
    predictions changed) the CLV histogram. Idempotent. Returns the days stored."""
    stored_days = rollup_refresh(days)
    segment_days_refresh(days)
    _put("repeat_rate", repeat_rate_live())
    clv_histogram()
    return stored_days


# Segment sizes ---------------------------------------------------------------------------------------------------

DAY_MARK = 0  # SegmentDay.segment_id of the row that says "this day was summed"


def segment_days_live(first: dt.date, last: dt.date) -> dict[tuple[dt.date, int], list[int]]:
    """{(day, segment id): [entered, exited]} of [first, last], counted from SegmentChange in one GROUP BY."""
    from kervan.segments.models import SegmentChange

    zone = timezone.get_default_timezone()
    rows = (
        SegmentChange.objects.filter(at__gte=day_start(first), at__lt=day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day", "segment_id", "kind")
        .annotate(n=Count("*"))
        .order_by()
    )
    out: dict[tuple[dt.date, int], list[int]] = {}
    for row in rows:
        counts = out.setdefault((row["day"], row["segment_id"]), [0, 0])
        counts[0 if row["kind"] == SegmentChange.Kind.ENTERED else 1] += row["n"]
    return out


def _store_segment_days(first: dt.date, last: dt.date) -> None:
    counted = segment_days_live(first, last)
    now = clock.now()
    rows = [SegmentDay(day=d, segment_id=DAY_MARK, computed_at=now) for d in days_between(first, last)]
    rows += [
        SegmentDay(day=d, segment_id=s, entered=n[0], exited=n[1], computed_at=now) for (d, s), n in counted.items()
    ]
    from django.db import transaction

    with transaction.atomic():
        SegmentDay.objects.filter(day__gte=first, day__lte=last).delete()
        SegmentDay.objects.bulk_create(rows)


def segment_days_refresh(days: int = REFRESH_DAYS) -> int:
    """Recount the last `days` closed days of segment changes (idempotent): hourly, with the sales rollup."""
    yesterday = shop_today() - dt.timedelta(days=1)
    _store_segment_days(yesterday - dt.timedelta(days=days - 1), yesterday)
    return days


def segment_net_changes(first: dt.date, segment_ids: list[int]) -> dict[int, dict[dt.date, int]]:
    """{segment id: {day: entered − exited}} from `first` through today: closed days from SegmentDay (missing ones
    counted and stored now), today counted live and kept in the cache for at most TODAY_SECONDS."""
    today = shop_today()
    yesterday = today - dt.timedelta(days=1)
    net: dict[int, dict[dt.date, int]] = {s: {} for s in segment_ids}
    if first <= yesterday:
        have = set(
            SegmentDay.objects.filter(day__gte=first, day__lte=yesterday, segment_id=DAY_MARK).values_list(
                "day", flat=True
            )
        )
        missing = [d for d in days_between(first, yesterday) if d not in have]
        if missing:
            _store_segment_days(missing[0], missing[-1])
        for day, segment_id, entered, exited in SegmentDay.objects.filter(
            day__gte=first, day__lte=yesterday, segment_id__in=segment_ids
        ).values_list("day", "segment_id", "entered", "exited"):
            net[segment_id][day] = entered - exited
    key = f"reports:segments-today:{today.isoformat()}"
    counted = cache.get(key)
    if counted is None:
        counted = segment_days_live(today, today)
        cache.set(key, counted, TODAY_SECONDS)
    for (day, segment_id), (entered, exited) in counted.items():
        if segment_id in net:
            net[segment_id][day] = entered - exited
    return net
