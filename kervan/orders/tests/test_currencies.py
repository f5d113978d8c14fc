"""Issue 20, defect 2: orders in several currencies. Every order keeps its own currency and amounts; the customer's
totals are kept in the reporting currency (TRY here), each order converted at its day's rate; an order whose rate is
missing waits, left out of the totals, and is counted once when the rate arrives."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.core.testing import LoopbackSite
from kervan.currency.actions import rate_set, rates_fetch
from kervan.currency.tests.test_rates import bulletin
from kervan.customers.actions import customer_merge
from kervan.customers.models import CustomerStats
from kervan.customers.selectors import CustomerFilters, customer_list
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.orders.models import Order, Refund
from kervan.orders.stats_rebuild import stats_rebuild

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
FRIDAY = dt.date(2026, 11, 27)
PLACED = dt.datetime(2026, 11, 27, 12, tzinfo=IST)


def stats_of(customer) -> CustomerStats:
    return CustomerStats.objects.get(customer=customer)


def no_drift() -> bool:
    drift: list = []
    stats_rebuild(check=True, on_drift=drift.append)
    assert not drift, [str(d) for d in drift]
    return True


def order(customer, currency: str, amount: str, placed_at=PLACED) -> Order:
    return make_order(customer, total_lines=((1, amount),), currency=currency, placed_at=placed_at)


@pytest.fixture
def rates():
    rate_set(actor=SYSTEM, currency="EUR", on=FRIDAY, try_per_unit="49.50")
    rate_set(actor=SYSTEM, currency="GBP", on=FRIDAY, try_per_unit="57.25")


def test_orders_in_three_currencies_add_up_converted_in_the_reporting_currency(rates):
    customer = make_customer()
    order(customer, "TRY", "1000.00")
    eur = order(customer, "EUR", "50.00")
    order(customer, "GBP", "20.00", placed_at=PLACED + dt.timedelta(hours=1))  # the last order: not its label
    stats = stats_of(customer)
    # 1,000 + 50 × 49.50 + 20 × 57.25, never 1,070
    assert (stats.total_spent, stats.currency, stats.order_count) == (Decimal("4620.00"), "TRY", 3)
    assert stats.average_order_value == Decimal("1540.00")
    eur.refresh_from_db()
    assert (eur.currency, eur.total, eur.reporting_rate, eur.reporting_total) == (
        "EUR",
        Decimal("50.00"),
        Decimal("49.5"),
        Decimal("2475.00"),
    )
    assert no_drift()


def test_the_rate_of_the_orders_own_local_day_applies(rates):
    rate_set(actor=SYSTEM, currency="EUR", on=FRIDAY + dt.timedelta(days=1), try_per_unit="50.00")
    customer = make_customer()
    # 23:30 in Istanbul on Friday is Friday 20:30 UTC; 00:30 on Saturday is still Friday 21:30 UTC.
    order(customer, "EUR", "10.00", placed_at=dt.datetime(2026, 11, 27, 23, 30, tzinfo=IST))
    order(customer, "EUR", "10.00", placed_at=dt.datetime(2026, 11, 28, 0, 30, tzinfo=IST))
    assert stats_of(customer).total_spent == Decimal("995.00")  # 495 + 500


def test_merging_a_try_customer_with_a_eur_customer_adds_converted_amounts(rates):
    survivor, merged = make_customer(), make_customer()
    order(survivor, "TRY", "1000.00")
    order(merged, "EUR", "50.00")
    assert stats_of(merged).currency == "TRY"
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    stats = stats_of(survivor)
    assert (stats.total_spent, stats.order_count, stats.currency) == (Decimal("3475.00"), 2, "TRY")
    assert no_drift()


def test_refunds_and_cancellation_of_a_eur_order(rates):
    customer = make_customer()
    kept = order(customer, "EUR", "100.00")
    refund_create(actor=SYSTEM, order=kept, amount="33.33")
    assert stats_of(customer).total_spent == Decimal("3300.16")  # 4,950.00 − 1,649.84 (1,649.835, half-even)
    refund_create(actor=SYSTEM, order=kept, amount="66.67")
    # A full refund in parts takes back exactly the converted total: the parts are converted cumulatively.
    assert sorted(Refund.objects.filter(order=kept).values_list("reporting_amount", flat=True)) == [
        Decimal("1649.84"),
        Decimal("3300.16"),
    ]
    stats = stats_of(customer)
    assert (stats.total_spent, stats.refunded_total, stats.order_count) == (Decimal("0.00"), Decimal("4950.00"), 1)

    cancelled = order(customer, "EUR", "10.00")
    refund_create(actor=SYSTEM, order=cancelled, amount="2.00")
    order_set_status(actor=SYSTEM, order=cancelled, status="cancelled")
    stats = stats_of(customer)
    assert (stats.total_spent, stats.refunded_total, stats.order_count) == (Decimal("0.00"), Decimal("5049.00"), 1)
    assert no_drift()


def test_an_order_without_a_rate_waits_and_is_counted_once_when_it_arrives(admin_client):
    customer = make_customer()
    order(customer, "TRY", "100.00")
    usd = order(customer, "USD", "10.00", placed_at=PLACED - dt.timedelta(days=30))  # the earliest, once counted
    usd.refresh_from_db()
    assert usd.awaiting_rate and usd.reporting_total is None
    refund_create(actor=SYSTEM, order=usd, amount="1.00")
    return_create(actor=SYSTEM, order=usd, lines=[{"order_line_id": usd.lines.get().pk, "quantity": 1}], reason="size")
    stats = stats_of(customer)
    assert (stats.total_spent, stats.order_count, stats.refunded_total) == (Decimal("100.00"), 1, Decimal("0.00"))
    assert stats.first_order_at == PLACED
    assert stats.returns_count == 1  # a return is not money: it counts at once
    assert no_drift()
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "$10.00 · awaiting exchange rate" in page

    # A rate published two days before the order's day applies (no bulletin on the days between).
    rate_set(actor=SYSTEM, currency="USD", on=usd.placed_at.date() - dt.timedelta(days=2), try_per_unit="42.00")
    stats = stats_of(customer)
    # 100 + 10 × 42 − 1 × 42
    assert (stats.total_spent, stats.order_count, stats.refunded_total) == (Decimal("478.00"), 2, Decimal("42.00"))
    assert stats.first_order_at == usd.placed_at
    assert no_drift()

    # Stored again (a correction, or the same rate twice): the order was counted already and keeps its rate.
    rate_set(actor=SYSTEM, currency="USD", on=usd.placed_at.date() - dt.timedelta(days=2), try_per_unit="43.00")
    rate_set(actor=SYSTEM, currency="USD", on=usd.placed_at.date(), try_per_unit="43.00")
    assert stats_of(customer).total_spent == Decimal("478.00") and stats_of(customer).order_count == 2
    assert no_drift()
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "$10.00 ≈ ₺420.00" in page


def test_a_rate_published_too_long_before_or_in_another_currency_does_not_count_it():
    customer = make_customer()
    order(customer, "USD", "10.00")
    rate_set(actor=SYSTEM, currency="EUR", on=FRIDAY, try_per_unit="49.50")
    rate_set(actor=SYSTEM, currency="USD", on=FRIDAY - dt.timedelta(days=10), try_per_unit="42.00")
    rate_set(actor=SYSTEM, currency="USD", on=FRIDAY + dt.timedelta(days=1), try_per_unit="42.00")
    assert stats_of(customer).order_count == 0
    assert Order.objects.get(customer=customer).awaiting_rate
    assert no_drift()


def test_a_cancelled_order_awaiting_its_rate_counts_only_its_refunds_when_it_arrives():
    customer = make_customer()
    usd = order(customer, "USD", "10.00")
    refund_create(actor=SYSTEM, order=usd, amount="3.00")
    order_set_status(actor=SYSTEM, order=usd, status="cancelled")
    assert stats_of(customer).order_count == 0
    rate_set(actor=SYSTEM, currency="USD", on=FRIDAY, try_per_unit="42.00")
    stats = stats_of(customer)
    assert (stats.total_spent, stats.order_count, stats.refunded_total) == (Decimal("0.00"), 0, Decimal("126.00"))
    assert no_drift()


def test_rates_fetched_from_the_bank_count_the_orders_waiting_for_them(settings):
    customer = make_customer()
    saturday = PLACED + dt.timedelta(days=1)
    order(customer, "USD", "10.00", placed_at=saturday)
    order(customer, "EUR", "2.00", placed_at=saturday)
    page = bulletin(FRIDAY, {"USD": (1, "42.3810"), "EUR": (1, "49.1000")})
    with LoopbackSite({"/202611/27112026.xml": (200, page)}) as site:
        settings.KERVAN_TCMB_URL = site.url
        assert rates_fetch(days=[FRIDAY]) == 2
        assert rates_fetch(days=[FRIDAY]) == 2  # fetched again: counted once
    stats = stats_of(customer)
    assert (stats.total_spent, stats.order_count) == (Decimal("522.01"), 2)  # 423.81 + 98.20
    assert no_drift()


def test_the_list_sorts_and_filters_by_the_converted_totals(rates):
    lira, euro = make_customer(), make_customer()
    order(lira, "TRY", "1000.00")
    order(euro, "EUR", "50.00")  # 2,475.00 TRY: more, though 50 < 1,000
    by_spent, key = customer_list(actor=SYSTEM, filters=CustomerFilters(sort="total_spent"))
    assert [c.pk for c in by_spent.order_by(key)] == [euro.pk, lira.pk]
    at_least, _ = customer_list(actor=SYSTEM, filters=CustomerFilters(min_spent="2000"))
    assert [c.pk for c in at_least] == [euro.pk]


def test_the_360_page_shows_the_orders_own_amount_and_the_converted_one(admin_client, rates):
    customer = make_customer()
    order(customer, "EUR", "50.00")
    order(customer, "TRY", "1000.00")
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "€50.00 ≈ ₺2,475.00" in page
    assert "₺1,000.00" in page and "₺1,000.00 ≈" not in page
