"""`manage.py stats_rebuild` and the sampled check: CustomerStats recomputed from orders, refunds and returns."""

import datetime as dt
import logging
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_merge
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.orders.stats_rebuild import stats_rebuild
from kervan.orders.tasks import stats_check_sample

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
JAN, FEB, MAR = (dt.datetime(2026, m, 1, 12, tzinfo=IST) for m in (1, 2, 3))


def stats_of(customer) -> CustomerStats:
    return CustomerStats.objects.get(customer=customer)


@pytest.fixture
def shop():
    """Three customers whose stats the actions kept: one with a cancelled order that was partly refunded first, a
    refunded and a returned order; one merged into another; one who never bought."""
    buyer, merged, idle = make_customer(), make_customer(), make_customer()
    cancelled = make_order(buyer, total_lines=((1, "100.00"),), placed_at=JAN)
    refund_create(actor=SYSTEM, order=cancelled, amount="30.00")
    order_set_status(actor=SYSTEM, order=cancelled, status="cancelled")
    kept = make_order(buyer, total_lines=((2, "50.00"),), placed_at=FEB)
    refund_create(actor=SYSTEM, order=kept, amount="0.01")
    return_create(
        actor=SYSTEM, order=kept, lines=[{"order_line_id": kept.lines.get().pk, "quantity": 1}], reason="size"
    )
    make_order(buyer, total_lines=((1, "0.02"),), placed_at=MAR)
    make_order(merged, total_lines=((1, "10.00"),), placed_at=JAN)
    customer_merge(actor=SYSTEM, survivor=buyer, merged=merged)
    return buyer, merged, idle


def test_the_kept_stats_are_what_the_definitions_give(shop):
    buyer, merged, idle = shop
    stats = stats_of(buyer)
    # Not cancelled: 100.00 - 0.01 + 0.02 + 10.00 (the merged profile's) over 3 orders, 36.67 (36.669… rounded).
    assert (stats.total_spent, stats.order_count, stats.average_order_value) == (
        Decimal("110.01"),
        3,
        Decimal("36.67"),
    )
    assert (stats.first_order_at, stats.last_order_at) == (JAN, MAR)
    assert (stats.returns_count, stats.refunded_total) == (1, Decimal("30.01"))  # the cancelled order's refund too
    assert stats_of(merged).order_count == 0 and stats_of(idle).total_spent == 0
    assert stats_rebuild(check=True).drifted == 0


def test_check_reports_every_customer_that_differs_changes_nothing_and_exits_1(shop):
    buyer, merged, idle = shop
    CustomerStats.objects.filter(customer=buyer).update(total_spent=Decimal("999.00"), first_order_at=FEB)
    CustomerStats.objects.filter(customer=idle).update(returns_count=4)
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("stats_rebuild", "--check", stdout=out)
    assert exc.value.returncode == 1
    assert "3 customers checked" in str(exc.value) and "2 differ" in str(exc.value)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"customer {buyer.pk}: total_spent 999.00 -> 110.01,"
        " first_order_at 2026-02-01 09:00:00+00:00 -> 2026-01-01 09:00:00+00:00"
    )
    assert lines[1] == f"customer {idle.pk}: returns_count 4 -> 0"
    assert stats_of(buyer).total_spent == Decimal("999.00") and stats_of(idle).returns_count == 4


def test_rebuild_rewrites_what_differs_creates_a_missing_row_and_keeps_last_seen(shop):
    buyer, merged, idle = shop
    seen = dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC)
    CustomerStats.objects.filter(customer=buyer).update(
        total_spent=0, order_count=7, average_order_value=0, last_order_at=None, refunded_total=0, last_event_at=seen
    )
    CustomerStats.objects.filter(customer=idle).delete()
    out = StringIO()
    call_command("stats_rebuild", stdout=out)
    assert "3 customers checked" in out.getvalue() and "2 differed and were rewritten" in out.getvalue()
    test_the_kept_stats_are_what_the_definitions_give(shop)
    assert stats_of(buyer).last_event_at == seen
    assert stats_of(idle).currency == "TRY"
    out = StringIO()
    call_command("stats_rebuild", "--check", stdout=out)
    assert "0 differ" in out.getvalue()


def test_customer_and_sample_narrow_the_check(shop):
    buyer, merged, idle = shop
    CustomerStats.objects.filter(customer=idle).update(order_count=1)
    out = StringIO()
    call_command("stats_rebuild", "--check", "--customer", str(buyer.pk), "--customer", str(merged.pk), stdout=out)
    assert "2 customers checked" in out.getvalue() and "0 differ" in out.getvalue()
    with pytest.raises(CommandError, match="1 customers checked .*: 1 differ"):
        call_command("stats_rebuild", "--check", "--customer", str(idle.pk), stdout=StringIO())
    with pytest.raises(CommandError, match="3 customers checked"):
        call_command("stats_rebuild", "--check", "--sample", "50", stdout=StringIO())


def test_the_sampled_check_task_logs_each_drift(shop, caplog):
    buyer, merged, idle = shop
    assert stats_check_sample.call(size=10) == 0
    CustomerStats.objects.filter(customer=buyer).update(order_count=5)
    with caplog.at_level(logging.WARNING, logger="kervan.orders.stats_rebuild"):
        assert stats_check_sample.call(size=10) == 1
    (record,) = [r for r in caplog.records if r.msg == "stats.drift"]
    assert record.customer_id == buyer.pk and record.fields == {"order_count": ["5", "3"]}
    assert stats_of(buyer).order_count == 5


def test_batches_that_mostly_differ_are_locked_first_and_summed_once(shop):
    buyer, merged, idle = shop
    CustomerStats.objects.filter(customer__in=(buyer, merged)).update(order_count=42)
    found: list = []
    report = stats_rebuild(batch_size=1, on_drift=found.append)  # buyer's batch is all wrong: merged's locks first
    assert (report.customers, report.drifted) == (3, 2)
    assert [d.customer_id for d in found] == [buyer.pk, merged.pk]
    assert stats_rebuild(check=True).drifted == 0
