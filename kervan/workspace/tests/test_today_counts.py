"""Figures that can be slow to count in a large shop (returns waiting, abandoned checkouts): counted live when that
is quick, otherwise shown as the scheduled background count left them, with its time."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.db.models.expressions import RawSQL

from kervan.accounts.actors import Actor
from kervan.core import schedule
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer, make_order
from kervan.events.actions import event_record
from kervan.orders.actions import return_create
from kervan.workspace import today as today_module
from kervan.workspace.models import TodayCount
from kervan.workspace.today import (
    BoundedCount,
    TodayCard,
    count_now_or_stored,
    count_within,
    register_today_card,
    register_today_count,
    today_counts_refresh,
)

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)
SYSTEM = Actor.system()
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="statement_timeout is PostgreSQL's")


@pytest.fixture
def slow_count():
    """A figure whose every row takes 0.3 s to test on PostgreSQL (pg_sleep): never counted within the time."""

    def rows(actor):
        return Customer.objects.annotate(slow=RawSQL("pg_sleep(0.3)::text", [])).filter(slow="")

    register_today_count("test_slow", rows)
    yield "test_slow"
    today_module._slow_counts.pop("test_slow")


def test_the_background_refresh_stores_every_figure_as_counted_live(clock):
    with clock.frozen(NOW):
        c = make_customer()
        order = make_order(c, status="delivered", placed_at=NOW - dt.timedelta(days=3))
        return_create(
            actor=SYSTEM, order=order, lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}], reason="size"
        )
        event_record(
            name="Started Checkout", occurred_at=NOW - dt.timedelta(hours=1), dedupe_key="c1", customer_id=c.pk
        )
        assert today_counts_refresh() >= 2
        stored = {row.key: (row.value, row.more, row.computed_at) for row in TodayCount.objects.all()}
        assert stored["returns_waiting"] == (1, False, NOW) and stored["abandoned_checkouts"] == (1, False, NOW)
        assert count_now_or_stored("returns_waiting", SYSTEM) == today_module.ShownCount(BoundedCount(1, False))
        today_counts_refresh()  # again: the same rows, updated in place
        assert TodayCount.objects.filter(key="returns_waiting").count() == 1
    assert schedule._schedules["today_counts_refresh"].every == dt.timedelta(minutes=10)


@postgres_only
def test_a_count_that_takes_too_long_is_cancelled_and_the_stored_one_shown(slow_count, clock):
    make_customer()
    with clock.frozen(NOW):
        assert count_within(Customer.objects.all(), 150) == BoundedCount(1, False)
        assert count_within(today_module._slow_counts[slow_count](SYSTEM), 150) is None
        # The connection is usable and has its own statement timeout back.
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            assert cursor.fetchone()[0] == "0"
        # Never counted before: counted now whatever it takes, and stored.
        assert count_now_or_stored(slow_count, SYSTEM) == today_module.ShownCount(BoundedCount(1, False))
        assert TodayCount.objects.get(key=slow_count).computed_at == NOW
        TodayCount.objects.filter(key=slow_count).update(value=7, computed_at=NOW - dt.timedelta(minutes=4))
        assert count_now_or_stored(slow_count, SYSTEM) == today_module.ShownCount(
            BoundedCount(7, False), NOW - dt.timedelta(minutes=4)
        )


@postgres_only
def test_the_card_says_when_its_figure_was_counted(slow_count, clock, admin_client):
    def context(actor):
        shown = count_now_or_stored(slow_count, actor)
        return {"count": shown.count, "as_of": shown.as_of, "url": "/customers/"}

    card = TodayCard("test_slow_card", "Slow", area="customers", template="orders/today_returns.html", context=context)
    register_today_card(card)
    try:
        with clock.frozen(NOW):
            make_customer()
            TodayCount.objects.create(key=slow_count, value=12, computed_at=NOW - dt.timedelta(minutes=6))
            page = admin_client.get("/").content.decode()
    finally:
        today_module._cards.pop(card.key)
    section = page[page.index('id="today-test_slow_card"') :]
    assert ">12</span>" in section and "Counted at 14:54" in section
