"""The daily per-product sales rollup behind the product list (kervan.catalog.sales): counted on demand for the
days a period needs, kept fresh when orders arrive (today's with a bounded lag, a past day's at once), and counted
again each night for the changes an order id does not reveal (a cancellation)."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog import sales
from kervan.catalog.actions import product_create
from kervan.catalog.models import ProductDailySales, SalesDay
from kervan.catalog.selectors import ProductFilters, product_list
from kervan.catalog.tasks import product_sales_refresh
from kervan.customers.tests.factories import IST, make_customer
from kervan.orders.actions import NewOrder, order_create, order_set_status

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=IST)


def sell(customer, when, quantity=1, sku="S-1", price="100.00", **kwargs):
    order, _ = order_create(
        actor=SYSTEM,
        new_order=NewOrder(
            customer=customer,
            placed_at=when,
            lines=[{"sku": sku, "quantity": quantity, "unit_price": price}],
            **kwargs,
        ),
    )
    return order


def sold(**filters) -> tuple[int, Decimal]:
    qs, _order = product_list(actor=SYSTEM, filters=ProductFilters(**filters))
    product = qs.get()
    return product.units_sold, product.revenue


@pytest.fixture
def shop(clock):
    with clock.frozen(NOW):
        product_create(actor=SYSTEM, title="Sabun", variants=[{"sku": "S-1", "price": "100.00", "stock": 100}])
        customer = make_customer()
        sell(customer, NOW - dt.timedelta(days=2))
        sell(customer, NOW - dt.timedelta(days=40), quantity=5)  # outside the default period
    return customer


def test_a_period_is_counted_once_on_demand(shop, clock, django_assert_max_num_queries):
    with clock.frozen(NOW):
        assert sold() == (1, Decimal("100.00"))
        assert SalesDay.objects.count() == 30 and ProductDailySales.objects.count() == 1
        with django_assert_max_num_queries(6):  # fresh: the mark, the newest order, the period's days, the list
            assert sold() == (1, Decimal("100.00"))
        assert sold(sold_from="2026-02-01", sold_to="2026-02-28") == (5, Decimal("500.00"))
        assert SalesDay.objects.count() == 48  # the 18 days of February before the default period


def test_todays_sales_lag_by_at_most_the_refresh_interval(shop, clock):
    with clock.frozen(NOW):
        assert sold() == (1, Decimal("100.00"))
        sell(shop, NOW - dt.timedelta(minutes=5), quantity=2)
        assert sold() == (1, Decimal("100.00"))  # counted a moment ago
        clock.advance(dt.timedelta(seconds=sales.REFRESH_SECONDS))
        assert sold() == (3, Decimal("300.00"))


def test_an_order_recorded_later_for_a_past_day_is_counted_at_once(shop, clock):
    with clock.frozen(NOW):
        assert sold() == (1, Decimal("100.00"))
        # an import of history, a few days later: the days it touches were counted long after they ended
        clock.advance(dt.timedelta(days=1))
        sell(shop, NOW - dt.timedelta(days=10), quantity=4)
        assert sold() == (5, Decimal("500.00"))


def test_a_shop_day_ends_at_midnight_in_the_shops_time_zone(shop, clock):
    with clock.frozen(NOW):
        sell(shop, dt.datetime(2026, 3, 10, 23, 30, tzinfo=IST), quantity=7)  # 20:30 UTC, still the 10th in Istanbul
        assert sold(sold_from="2026-03-10", sold_to="2026-03-10") == (7, Decimal("700.00"))
        assert sold(sold_from="2026-03-11", sold_to="2026-03-11") == (0, Decimal("0.00"))


def test_cancelled_orders_do_not_count_and_the_nightly_pass_catches_a_late_cancellation(shop, clock):
    with clock.frozen(NOW):
        recent = sell(shop, NOW - dt.timedelta(days=3), quantity=2)
        sell(shop, NOW - dt.timedelta(days=4), quantity=9, status="placed")
        cancelled_at_once = sell(shop, NOW - dt.timedelta(days=5), quantity=50)
        order_set_status(actor=SYSTEM, order=cancelled_at_once, status="cancelled")
        assert sold() == (12, Decimal("1200.00"))
        clock.advance(dt.timedelta(days=1))
        order_set_status(actor=SYSTEM, order=recent, status="cancelled")  # an old order changes: no new order id
        assert sold() == (12, Decimal("1200.00"))
        counted = product_sales_refresh.call()
        assert counted >= sales.REFRESH_DAYS
        assert sold() == (10, Decimal("1000.00"))


def test_the_nightly_pass_fills_history(shop, clock):
    with clock.frozen(NOW):
        product_sales_refresh.call()
        # from the first order's day (40 days ago) to today
        assert SalesDay.objects.count() == 41
        assert sold(sold_from="2026-02-01", sold_to="2026-02-28") == (5, Decimal("500.00"))


def test_revenue_is_in_the_reporting_currency(shop, clock):
    from kervan.currency.models import ExchangeRate

    with clock.frozen(NOW):
        day = (NOW - dt.timedelta(days=1)).date()
        ExchangeRate.objects.create(on=day, currency="EUR", try_per_unit=Decimal("35.00"), source="manual")
        sell(shop, NOW - dt.timedelta(days=1), quantity=2, price="10.00", currency="EUR")
        assert sold() == (3, Decimal("800.00"))  # 100 TRY + 2 × 10 EUR × 35
