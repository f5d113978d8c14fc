"""The daily sales rollup behind the Today page's chart: closed days read from their rows (summed on demand when
missing), today summed live, refunds and cancellations of earlier days reflected by the scheduled refresh, which is
idempotent."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.core import schedule
from kervan.core.models import ScheduledJob
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create
from kervan.orders.daily_sales import REFRESH_DAYS, DaySales, daily_sales, daily_sales_refresh
from kervan.orders.models import DailySales, Order

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)
TODAY = NOW.date()
SYSTEM = Actor.system()


def day(n: int) -> dt.date:
    """n days before today."""
    return TODAY - dt.timedelta(days=n)


def at(n: int, hour: int) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour), tzinfo=IST)


@pytest.fixture
def at_now(clock):
    with clock.frozen(NOW):
        yield clock


def test_closed_days_are_summed_once_stored_then_read_from_their_rows(at_now):
    c = make_customer()
    make_order(c, placed_at=at(1, 0), total_lines=((1, "100.00"),))  # 00:00 Istanbul: yesterday
    make_order(c, placed_at=at(1, 23), total_lines=((2, "50.00"),))
    make_order(c, placed_at=at(3, 12), total_lines=((1, "70.00"),))
    assert DailySales.objects.count() == 0

    shown = daily_sales(day(3), day(1))
    assert shown == [
        DaySales(day(3), 1, Decimal("70.00")),
        DaySales(day(2), 0, Decimal("0.00")),
        DaySales(day(1), 2, Decimal("200.00")),
    ]
    # Missing days were summed on demand and stored, zeros included.
    assert {r.day: (r.orders, r.revenue, r.currency) for r in DailySales.objects.all()} == {
        day(3): (1, Decimal("70.00"), "TRY"),
        day(2): (0, Decimal("0.00"), "TRY"),
        day(1): (2, Decimal("200.00"), "TRY"),
    }
    # From now on the rows answer: a row changed by hand shows as changed (the orders are not summed again).
    DailySales.objects.filter(day=day(1)).update(orders=99)
    assert daily_sales(day(1), day(1))[0].orders == 99


def test_today_is_summed_live_and_never_stored(at_now):
    c = make_customer()
    assert daily_sales(day(1), day(0))[-1] == DaySales(TODAY, 0, Decimal("0.00"))
    make_order(c, placed_at=NOW - dt.timedelta(minutes=5), total_lines=((1, "42.50"),))
    assert daily_sales(day(1), day(0))[-1] == DaySales(TODAY, 1, Decimal("42.50"))
    assert not DailySales.objects.filter(day=TODAY).exists()
    daily_sales_refresh()
    assert not DailySales.objects.filter(day=TODAY).exists()  # the refresh stores closed days only


def test_refunds_and_cancellations_of_earlier_days_show_after_the_refresh(at_now):
    c = make_customer()
    refunded = make_order(c, status="paid", placed_at=at(2, 10), total_lines=((1, "300.00"),))
    cancelled = make_order(c, status="paid", placed_at=at(2, 11), total_lines=((1, "80.00"),))
    make_order(c, placed_at=at(2, 12), total_lines=((1, "20.00"),))
    assert daily_sales(day(2), day(2)) == [DaySales(day(2), 3, Decimal("400.00"))]

    refund_create(actor=SYSTEM, order=refunded, amount="120.00")
    order_set_status(actor=SYSTEM, order=cancelled, status="cancelled")
    assert daily_sales(day(2), day(2)) == [DaySales(day(2), 3, Decimal("400.00"))]  # the stored row, until…
    at_now.advance(dt.timedelta(hours=1))
    assert daily_sales_refresh() == REFRESH_DAYS
    assert daily_sales(day(2), day(2)) == [DaySales(day(2), 2, Decimal("200.00"))]  # 300 − 120 + 20


def test_the_refresh_is_idempotent_and_covers_the_recent_closed_days(at_now):
    c = make_customer()
    make_order(c, placed_at=at(1, 9), total_lines=((1, "10.00"),))
    make_order(c, placed_at=at(REFRESH_DAYS, 9), total_lines=((1, "20.00"),))
    make_order(c, placed_at=at(REFRESH_DAYS + 1, 9), total_lines=((1, "30.00"),))  # older than the refresh reaches
    daily_sales_refresh()
    first = list(DailySales.objects.order_by("day").values_list("day", "orders", "revenue"))
    daily_sales_refresh()
    assert list(DailySales.objects.order_by("day").values_list("day", "orders", "revenue")) == first
    assert len(first) == REFRESH_DAYS and first[0][0] == day(REFRESH_DAYS) and first[-1][0] == day(1)
    assert first[0][1:] == (1, Decimal("20.00")) and first[-1][1:] == (1, Decimal("10.00"))


def test_a_row_summed_in_another_reporting_currency_is_summed_again(at_now, settings):
    order = make_order(make_customer(), placed_at=at(1, 9), total_lines=((1, "10.00"),))
    daily_sales_refresh()
    # The shop now reports in euros, and its orders were converted again (0.25 EUR per TRY, say).
    settings.KERVAN_REPORTING_CURRENCY = "EUR"
    Order.objects.filter(pk=order.pk).update(reporting_rate=Decimal("0.25"), reporting_total=Decimal("2.50"))
    assert daily_sales(day(1), day(1)) == [DaySales(day(1), 1, Decimal("2.50"))]
    assert DailySales.objects.get(day=day(1)).currency == "EUR"


def test_orders_awaiting_a_rate_count_as_orders_without_revenue(at_now):
    make_order(make_customer(), placed_at=at(1, 9), currency="USD", total_lines=((1, "10.00"),))  # no USD rate
    assert daily_sales(day(1), day(1)) == [DaySales(day(1), 1, Decimal("0.00"), awaiting_rate=1)]


def test_the_scheduler_runs_the_refresh_every_hour(at_now, django_capture_on_commit_callbacks):
    assert schedule._schedules["daily_sales_refresh"].every == dt.timedelta(hours=1)
    make_order(make_customer(), placed_at=at(1, 9), total_lines=((1, "10.00"),))

    def tick():
        with django_capture_on_commit_callbacks(execute=True):
            return schedule.scheduler_tick()

    assert "daily_sales_refresh" not in tick()  # the job's row is made, due in an hour
    assert ScheduledJob.objects.get(name="daily_sales_refresh").due_at == NOW + dt.timedelta(hours=1)
    at_now.advance(dt.timedelta(hours=1, minutes=1))
    assert "daily_sales_refresh" in tick()
    assert DailySales.objects.get(day=day(1)).orders == 1
    assert DailySales.objects.count() == REFRESH_DAYS
