"""The orders' cards on the Today page (kervan.workspace.today): orders paid but not shipped, returns waiting for
their refund, and sales today against the same weekday last week with the last 30 days as a chart.

Each count is the orders list's own filter, so the number on the card is the number of rows its link shows:
- paid, not shipped: `/orders/?status=paid&placed_to=<the day N days ago>` (N: settings.KERVAN_TODAY_UNSHIPPED_DAYS);
  an index range scan on the partial index of paid orders by placed_at (order_paid_time_idx);
- returns waiting: `/orders/?has_return=waiting`: orders with a return no refund has settled yet (Return.waiting);
  counted live
  when that is quick, else shown as the background count made it (register_today_count);
- sales: the last 30 days from the daily rollup (kervan.orders.daily_sales), today summed live.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.filters import day_start
from kervan.currency.selectors import reporting_currency
from kervan.orders.daily_sales import DaySales, daily_sales, sales_between, shop_today
from kervan.orders.models import Order, OrderStatus, Return
from kervan.workspace.today import (
    TodayCard,
    bounded_count,
    count_now_or_stored,
    list_url,
    register_today_card,
    register_today_count,
)

CHART_DAYS = 30


def unshipped_days() -> int:
    return int(getattr(settings, "KERVAN_TODAY_UNSHIPPED_DAYS", 2))


def paid_not_shipped(actor: Actor, days: int):
    """Orders still "paid" (not fulfilled, shipped, delivered or cancelled) placed on or before the day `days` days
    ago: what the orders list shows for status=paid&placed_to=<that day>."""
    last_day = shop_today() - dt.timedelta(days=days)
    rows = Order.objects.filter(status=OrderStatus.PAID, placed_at__lt=day_start(last_day + dt.timedelta(days=1)))
    return actor.scope("orders", rows), last_day


def returns_waiting(actor: Actor):
    """The orders with a return still waiting for its money — the orders list's has_return=waiting — as their ids,
    read from the small partial index of waiting returns (kervan.orders.actions.returns_settle keeps it)."""
    actor.require("orders", "read")
    return Return.objects.filter(waiting=True).order_by("order_id").values_list("order_id", flat=True).distinct()


def to_ship_context(actor: Actor) -> dict:
    days = unshipped_days()
    rows, last_day = paid_not_shipped(actor, days)
    return {
        "count": bounded_count(rows),
        "days": days,
        "url": list_url("orders:list", status=OrderStatus.PAID, placed_to=last_day.isoformat()),
    }


def returns_context(actor: Actor) -> dict:
    shown = count_now_or_stored("returns_waiting", actor)
    return {"count": shown.count, "as_of": shown.as_of, "url": list_url("orders:list", has_return="waiting")}


def _change(now: Decimal | int, before: Decimal | int) -> int | None:
    """The change from `before` to `now` in whole percent; None when there was nothing before."""
    if not before:
        return None
    return round((Decimal(now) - Decimal(before)) * 100 / Decimal(before))


def sales_context(actor: Actor) -> dict:
    actor.require("orders", "read")
    today = shop_today()
    start, end = day_start(today), day_start(today + dt.timedelta(days=1))
    so_far = sales_between(start, end)
    # The same weekday last week, up to the same time of day: a fair comparison for a day not over yet.
    week_ago = today - dt.timedelta(days=7)
    elapsed = min(max(clock.now() - start, dt.timedelta(0)), end - start)
    week_ago_so_far = sales_between(day_start(week_ago), day_start(week_ago) + elapsed)
    days = [*daily_sales(today - dt.timedelta(days=CHART_DAYS - 1), today - dt.timedelta(days=1)), so_far]
    week_ago_whole = next(d for d in days if d.day == week_ago)
    currency = reporting_currency()
    return {
        "currency": currency,
        "today": so_far,
        "week_ago": week_ago,
        "week_ago_so_far": week_ago_so_far,
        "week_ago_whole": week_ago_whole,
        "orders_change": _change(so_far.orders, week_ago_so_far.orders),
        "revenue_change": _change(so_far.revenue, week_ago_so_far.revenue),
        "days": days,
        "awaiting_rate": sum(d.awaiting_rate for d in days),
        "chart": _chart(days, currency),
        "today_url": list_url("orders:list", placed_from=today.isoformat(), placed_to=today.isoformat()),
        "week_ago_url": list_url("orders:list", placed_from=week_ago.isoformat(), placed_to=week_ago.isoformat()),
        "days_url": list_url("orders:list", placed_from=days[0].day.isoformat(), placed_to=today.isoformat()),
    }


def _chart(days: list[DaySales], currency: str) -> dict:
    """The chart's Chart.js configuration (drawn by workspace/charts.js from a JSON block: no inline script)."""
    brand, today_colour = "rgba(180, 84, 26, 0.55)", "rgba(180, 84, 26, 1)"
    return {
        "type": "bar",
        "data": {
            "labels": [formats.date_format(d.day, "j M") for d in days],
            "datasets": [
                {
                    "type": "bar",
                    "label": str(_("Revenue")),
                    "data": [float(d.revenue) for d in days],
                    "backgroundColor": [brand] * (len(days) - 1) + [today_colour],
                    "yAxisID": "revenue",
                    "order": 2,
                },
                {
                    "type": "line",
                    "label": str(_("Orders")),
                    "data": [d.orders for d in days],
                    "borderColor": "#2f6fdb",
                    "backgroundColor": "#2f6fdb",
                    "pointRadius": 2,
                    "tension": 0.25,
                    "yAxisID": "orders",
                    "order": 1,
                },
            ],
        },
        "options": {
            "responsive": True,
            "maintainAspectRatio": False,
            "animation": False,
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom"}},
            "scales": {
                "revenue": {"type": "linear", "position": "left", "beginAtZero": True, "currency": currency},
                "orders": {
                    "type": "linear",
                    "position": "right",
                    "beginAtZero": True,
                    "grid": {"drawOnChartArea": False},
                    "ticks": {"precision": 0},
                },
            },
        },
    }


CHART_SCRIPTS = ("vendor/chartjs/chart.min.js", "workspace/charts.js")


def register() -> None:
    # With few returns waiting among many, PostgreSQL reads every returned order to count them (5 s at 740,000
    # returns): counted live when that is quick, else in the background (kervan.workspace.today).
    register_today_count("returns_waiting", returns_waiting)
    register_today_card(
        TodayCard(
            "orders_to_ship",
            _("Paid, not shipped"),
            area="orders",
            template="orders/today_to_ship.html",
            context=to_ship_context,
            position=10,
        )
    )
    register_today_card(
        TodayCard(
            "returns_waiting",
            _("Returns waiting"),
            area="orders",
            template="orders/today_returns.html",
            context=returns_context,
            position=20,
        )
    )
    register_today_card(
        TodayCard(
            "sales",
            _("Sales"),
            area="orders",
            template="orders/today_sales.html",
            context=sales_context,
            position=200,
            wide=True,
            scripts=CHART_SCRIPTS,
        )
    )
