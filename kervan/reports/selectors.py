"""Reads of the Analytics page: the period, its figures against the previous period, the charts' series, the cohort
heat map, the CLV histogram and segment sizes over time. Everything reads the precomputed rows of
kervan.reports.rollup (today's orders are summed live); none scans the orders or the customers per view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.filters import day_start, parse_date
from kervan.orders.daily_sales import shop_today
from kervan.orders.models import SalesChannel
from kervan.reports import rollup
from kervan.reports.models import CohortCell

MAX_PERIOD_DAYS = 3 * 366
PERIODS = {
    "7d": gettext_lazy("Last 7 days"),
    "30d": gettext_lazy("Last 30 days"),
    "90d": gettext_lazy("Last 90 days"),
    "365d": gettext_lazy("Last 365 days"),
    "this_month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
    "custom": gettext_lazy("Custom dates"),
}
DEFAULT_PERIOD = "30d"
SEGMENTS_CHARTED = 6
DAYS_SHOWN = 92  # a longer period's chart and table show weeks


@dataclass(frozen=True)
class Period:
    key: str
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.days)]

    @property
    def low(self) -> dt.datetime:
        """The first day's start in the shop's time zone (a query's lower bound, included)."""
        return day_start(self.first)

    @property
    def high(self) -> dt.datetime:
        """The day after the last one, its start (a query's upper bound, excluded)."""
        return day_start(self.last + dt.timedelta(days=1))

    def previous(self) -> Period:
        """The same number of days just before."""
        last = self.first - dt.timedelta(days=1)
        return Period(self.key, last - dt.timedelta(days=self.days - 1), last)


def period_from(key: str, start: str = "", end: str = "") -> Period:
    """The period a picker value names (PERIODS), ending today; "custom": [start, end], both YYYY-MM-DD."""
    today = shop_today()
    key = key or DEFAULT_PERIOD
    if key.endswith("d") and key in PERIODS:
        return Period(key, today - dt.timedelta(days=int(key[:-1]) - 1), today)
    if key == "this_month":
        return Period(key, today.replace(day=1), today)
    if key == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return Period(key, last.replace(day=1), last)
    if key != "custom":
        raise KervanError(_("Unknown period: %(period)s.") % {"period": key}, "invalid_period", field="period")
    if not start or not end:
        raise KervanError(
            _("Choose both a start and an end date."), "invalid_range", field="start" if not start else "end"
        )
    first = parse_date(start, "start", label=_("From"))
    last = parse_date(end, "end", label=_("To"))
    if last < first:
        raise KervanError(_("To must not be before From."), "invalid_range", field="end")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise KervanError(_("Choose at most %(days)s days.") % {"days": MAX_PERIOD_DAYS}, "invalid_range", field="end")
    return Period(key, first, last)


@dataclass
class Figures:
    orders: int = 0
    rated: int = 0
    revenue: Decimal = Decimal("0.00")
    new_orders: int = 0
    by_channel: dict[str, Decimal] = field(default_factory=dict)
    orders_by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def returning_orders(self) -> int:
        return self.orders - self.new_orders

    @property
    def aov(self) -> Decimal | None:
        """Average order value: revenue over the orders that have a rate (None without one)."""
        return (self.revenue / self.rated).quantize(Decimal("0.01")) if self.rated else None

    @property
    def returning_share(self) -> float | None:
        return self.returning_orders / self.orders if self.orders else None


def _figures(rows: list[dict[str, Any]]) -> Figures:
    zero = Decimal("0.00")
    out = Figures(
        by_channel=dict.fromkeys(SalesChannel.values, zero), orders_by_channel=dict.fromkeys(SalesChannel.values, 0)
    )
    for row in rows:
        out.orders += row["orders"]
        out.rated += row["rated"]
        out.revenue += row["revenue"]
        out.new_orders += row["new_orders"]
        out.by_channel[row["channel"]] = out.by_channel.get(row["channel"], zero) + row["revenue"]
        out.orders_by_channel[row["channel"]] = out.orders_by_channel.get(row["channel"], 0) + row["orders"]
    return out


@dataclass(frozen=True)
class Delta:
    """A figure against the previous period: `pct` whole percent (None when the previous was zero or missing)."""

    now: Any
    before: Any

    @property
    def pct(self) -> int | None:
        if self.now is None or not self.before:
            return None
        return round((Decimal(self.now) - Decimal(self.before)) * 100 / Decimal(self.before))

    @property
    def up(self) -> bool:
        return self.now is not None and self.before is not None and Decimal(self.now) > Decimal(self.before)

    @property
    def down(self) -> bool:
        return self.now is not None and self.before is not None and Decimal(self.now) < Decimal(self.before)


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    orders: int
    revenue: Decimal
    new_orders: int

    @property
    def returning_orders(self) -> int:
        return self.orders - self.new_orders


@dataclass(frozen=True)
class Overview:
    period: Period
    previous: Period
    now: Figures
    before: Figures
    days: list[DayPoint]  # each day of the period, or each week (7 days from its first) when `weekly`
    rollup_at: dt.datetime | None  # when the oldest stored day of the period was summed
    weekly: bool = False

    def delta(self, name: str) -> Delta:
        return Delta(getattr(self.now, name), getattr(self.before, name))


def overview(actor: Actor, period: Period) -> Overview:
    """The period's figures and the previous period's, and the period's days (all channels summed), or its weeks
    (from the period's first day) when it is longer than DAYS_SHOWN days."""
    actor.require("analytics", "read")
    previous = period.previous()
    day_rows, channel_rows = rollup.period_sums(previous.first, period.first, period.last)
    found = {row["day"]: row for row in day_rows}
    step = 1 if period.days <= DAYS_SHOWN else 7
    points: list[DayPoint] = []
    for day in rollup.days_between(period.first, period.last):
        row = found.get(day)
        if (day - period.first).days % step == 0:
            points.append(DayPoint(day, 0, Decimal("0.00"), 0))
        if row is not None:
            last = points[-1]
            points[-1] = DayPoint(
                last.day,
                last.orders + row["orders"],
                last.revenue + row["revenue"],
                last.new_orders + row["new_orders"],
            )
    closed_last = min(period.last, shop_today() - dt.timedelta(days=1))
    rollup_at = rollup.rollup_computed_at(previous.first, closed_last) if previous.first <= closed_last else None
    return Overview(
        period,
        previous,
        _figures([r for r in channel_rows if r["current"]]),
        _figures([r for r in channel_rows if not r["current"]]),
        points,
        rollup_at,
        weekly=step == 7,
    )


@dataclass(frozen=True)
class CohortCellShown:
    pct: float  # % of the cohort who ordered that month

    @property
    def alpha(self) -> str:
        """The heat map's shade: full colour at 50% and above (retention after the first month is rarely higher)."""
        return f"{min(self.pct / 50, 1.0) * 0.85 + 0.05:.2f}"


@dataclass(frozen=True)
class CohortRow:
    cohort: dt.date
    size: int
    cells: list[CohortCellShown | None]  # offset 1, 2, …; None: that month has not come yet


@dataclass(frozen=True)
class Cohorts:
    rows: list[CohortRow]
    offsets: list[int]
    computed_at: dt.datetime | None


def cohorts(actor: Actor) -> Cohorts:
    """The retention heat map: per first-order month, the share of its customers who ordered again 1, 2, … months
    later. Read from the cohort table (counted now if the shop never had one)."""
    actor.require("analytics", "read")
    figure = rollup.stored("cohorts")
    if figure is None:
        rollup.cohorts_refresh()
        figure = rollup.stored("cohorts")
    cells = {(c.cohort, c.offset): c.customers for c in CohortCell.objects.all()}
    months = sorted({cohort for cohort, _offset in cells})
    if not months:
        return Cohorts([], [], figure.computed_at if figure else None)
    this_month = rollup._month_index(shop_today().replace(day=1))
    width = max(this_month - rollup._month_index(months[0]), 0)
    offsets = list(range(1, width + 1))
    rows = []
    for cohort in months:
        size = cells.get((cohort, 0), 0)
        reach = this_month - rollup._month_index(cohort)
        row = [
            CohortCellShown(round(cells.get((cohort, k), 0) * 100 / size, 1) if size else 0.0) if k <= reach else None
            for k in offsets
        ]
        rows.append(CohortRow(cohort, size, row))
    return Cohorts(rows, offsets, figure.computed_at if figure else None)


@dataclass(frozen=True)
class Histogram:
    labels: list[str]
    counts: list[int]
    computed_at: dt.datetime | None
    fitted_at: str | None


def clv_distribution(actor: Actor) -> Histogram:
    actor.require("analytics", "read")
    figure = rollup.clv_histogram()
    edges = rollup.CLV_EDGES
    labels = [f"{edges[i]:,}–{edges[i + 1]:,}" if i + 1 < len(edges) else f"{edges[i]:,}+" for i in range(len(edges))]
    return Histogram(
        labels, list(figure.data.get("counts", [0] * len(edges))), figure.computed_at, figure.data.get("fitted_at")
    )


@dataclass(frozen=True)
class RepeatRate:
    buyers: int
    repeat: int
    computed_at: dt.datetime

    @property
    def pct(self) -> float | None:
        return round(self.repeat * 100 / self.buyers, 1) if self.buyers else None


def repeat_rate(actor: Actor) -> RepeatRate:
    """Customers with two or more orders among the customers with an order (all time), as the last refresh counted."""
    actor.require("analytics", "read")
    figure = rollup.repeat_rate()
    return RepeatRate(figure.data["buyers"], figure.data["repeat"], figure.computed_at)


@dataclass(frozen=True)
class SegmentSeries:
    segment_id: int
    name: str
    sizes: list[int]  # members at the end of each day of the period (today: now)


def segment_sizes(actor: Actor, period: Period) -> tuple[list[dt.date], list[SegmentSeries]]:
    """The largest segments' sizes at the end of each day of the period, walked back from their current size
    through their entered/exited counts per day (kervan.reports.rollup.segment_net_changes)."""
    from kervan.segments.models import Segment

    actor.require("analytics", "read")
    days = rollup.days_between(period.first, period.last)
    segments = list(Segment.objects.order_by("-member_count", "id")[:SEGMENTS_CHARTED])
    if not segments:
        return days, []
    net = rollup.segment_net_changes(period.first + dt.timedelta(days=1), [s.pk for s in segments])
    series = []
    for segment in segments:
        per = net.get(segment.pk, {})
        size = segment.member_count
        after = sum(n for d, n in per.items() if d > period.last)  # changes after the period (a past period)
        size -= after
        sizes = []
        for day in reversed(days):
            sizes.append(max(size, 0))
            size -= per.get(day, 0)
        series.append(SegmentSeries(segment.pk, segment.name, list(reversed(sizes))))
    return days, series
