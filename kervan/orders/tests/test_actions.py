import datetime as dt
from decimal import Decimal

import pytest

from kervan.catalog.actions import product_create
from kervan.catalog.models import StockLevel
from kervan.core.errors import Conflict, KervanError
from kervan.core.models import Source
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.events.models import Event
from kervan.orders.actions import NewOrder, order_create, order_set_status, refund_create, return_create
from kervan.orders.models import Order, OrderStatusChange, Shipment

pytestmark = pytest.mark.django_db


def stats_of(customer) -> CustomerStats:
    return CustomerStats.objects.get(customer=customer)


def test_order_totals_and_stats_are_kept_incrementally(system_actor):
    customer = make_customer()
    first = make_order(
        customer,
        total_lines=((2, "100.00"), (1, "49.90")),
        shipping="29.90",
        placed_at=dt.datetime(2026, 1, 10, tzinfo=IST),
    )
    assert first.subtotal == Decimal("249.90") and first.total == Decimal("279.80")
    make_order(customer, total_lines=((1, "20.10"),), placed_at=dt.datetime(2025, 6, 1, tzinfo=IST))
    stats = stats_of(customer)
    assert stats.order_count == 2
    assert stats.total_spent == Decimal("299.90")
    assert stats.average_order_value == Decimal("149.95")
    assert stats.first_order_at == dt.datetime(2025, 6, 1, tzinfo=IST)
    assert stats.last_order_at == dt.datetime(2026, 1, 10, tzinfo=IST)
    names = list(Event.objects.filter(customer=customer).values_list("name", flat=True))
    assert names.count("Placed Order") == 2 and names.count("Ordered Product") == 3


def test_replayed_order_delivery_is_not_counted_twice(system_actor):
    customer = make_customer()
    shop = Source.objects.create(key="shop", name="Shop", kind="shopify")
    delivery = NewOrder(
        customer=customer,
        source=shop,
        external_id="450789469",
        lines=[{"title": "Kazak", "quantity": 1, "unit_price": "300"}],
        placed_at=dt.datetime(2026, 1, 1, tzinfo=IST),
    )
    order, created = order_create(actor=system_actor, new_order=delivery)
    again, created_again = order_create(actor=system_actor, new_order=delivery)
    assert created and not created_again and again.pk == order.pk
    assert Order.objects.count() == 1 and stats_of(customer).order_count == 1
    assert stats_of(customer).total_spent == Decimal("300.00")


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"title": "x", "quantity": 0, "unit_price": "1"}],
        [{"title": "x", "quantity": 1, "unit_price": "abc"}],
        [{"title": "x", "quantity": 1.5, "unit_price": "1"}],
        [{"quantity": 1, "unit_price": "1"}],
        [{"title": "x", "quantity": 1, "unit_price": "-5"}],
    ],
)
def test_bad_orders_are_refused_and_write_nothing(system_actor, lines):
    customer = make_customer()
    with pytest.raises(KervanError):
        order_create(actor=system_actor, new_order=NewOrder(customer=customer, lines=lines))
    assert Order.objects.count() == 0 and stats_of(customer).order_count == 0
    assert not Event.objects.exists()


def test_naive_datetimes_are_refused(system_actor):
    with pytest.raises(KervanError) as exc:
        make_order(make_customer(), placed_at=dt.datetime(2026, 1, 1))
    assert exc.value.code == "naive_datetime"


def test_status_timeline_with_shipment_and_invalid_transitions(admin_actor):
    order = make_order(make_customer())
    order_set_status(actor=admin_actor, order=order, status="paid", payment={"method": "card", "installments": 3})
    order_set_status(actor=admin_actor, order=order, status="shipped", carrier="Yurtiçi Kargo", tracking_number="YK123")
    order_set_status(actor=admin_actor, order=order, status="delivered")
    statuses = list(OrderStatusChange.objects.filter(order=order).values_list("status", flat=True))
    assert statuses == ["placed", "paid", "shipped", "delivered"]
    shipment = Shipment.objects.get(order=order)
    assert shipment.carrier == "Yurtiçi Kargo" and shipment.delivered_at is not None
    assert order.payments.get().installments == 3
    with pytest.raises(Conflict):
        order_set_status(actor=admin_actor, order=order, status="cancelled")
    with pytest.raises(KervanError):
        order_set_status(actor=admin_actor, order=make_order(make_customer()), status="shipped")  # no carrier


def test_cancel_takes_the_order_out_of_the_stats(admin_actor):
    customer = make_customer()
    make_order(customer, total_lines=((1, "100"),), placed_at=dt.datetime(2026, 1, 1, tzinfo=IST))
    late = make_order(customer, total_lines=((1, "300"),), placed_at=dt.datetime(2026, 2, 1, tzinfo=IST))
    order_set_status(actor=admin_actor, order=late, status="cancelled")
    stats = stats_of(customer)
    assert stats.order_count == 1 and stats.total_spent == Decimal("100.00")
    assert stats.last_order_at == dt.datetime(2026, 1, 1, tzinfo=IST)


def test_partial_return_and_refunds(admin_actor):
    customer = make_customer()
    product = product_create(actor=admin_actor, title="Kazak", variants=[{"sku": "KZK-M", "price": "250", "stock": 5}])
    variant = product.variants.get()
    order, _ = order_create(
        actor=admin_actor,
        new_order=NewOrder(customer=customer, lines=[{"sku": "KZK-M", "quantity": 2, "unit_price": "250"}]),
    )
    assert StockLevel.objects.get(variant=variant).quantity == 3
    line = order.lines.get()
    assert line.title == "Kazak"
    ret, _created = return_create(
        actor=admin_actor, order=order, lines=[{"order_line_id": line.pk, "quantity": 1}], reason="size"
    )
    assert StockLevel.objects.get(variant=variant).quantity == 4
    with pytest.raises(KervanError):
        return_create(actor=admin_actor, order=order, lines=[{"order_line_id": line.pk, "quantity": 2}], reason="size")
    refund, created = refund_create(
        actor=admin_actor, order=order, amount="250", reason="size", return_request=ret, external_id="r-1"
    )
    replay, replay_created = refund_create(actor=admin_actor, order=order, amount="250", external_id="r-1")
    assert created and not replay_created and replay.pk == refund.pk
    stats = stats_of(customer)
    assert stats.returns_count == 1 and stats.refunded_total == Decimal("250.00")
    assert stats.total_spent == Decimal("250.00")
    with pytest.raises(KervanError) as exc:
        refund_create(actor=admin_actor, order=order, amount="250.01")
    assert exc.value.code == "refund_too_large"
    assert stats_of(customer).refunded_total == Decimal("250.00")
