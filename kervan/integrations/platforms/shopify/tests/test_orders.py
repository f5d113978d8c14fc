"""Shopify's order, refund and transaction webhooks (its published 2026-07 samples) through the real intake, worker
and sync: what lands in Kervan, field by field."""

import copy
import datetime as dt
from decimal import Decimal

import orjson
import pytest

from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.integrations import testing
from kervan.integrations.models import Delivery
from kervan.integrations.platforms.shopify.tests.helpers import connection, deliver, payload
from kervan.orders.models import Order, OrderStatus, Payment, Refund, Return

pytestmark = [pytest.mark.django_db, testing.needs_samples]

ORDER_ID = "820982911946154508"  # > 2^53: a float would have made it 820982911946154496
NEW_YEAR = dt.datetime(2022, 1, 1, 0, 0, tzinfo=dt.UTC)  # the samples' "2021-12-31T19:00:00-05:00"
SAMPLE_LINES = [  # (sku, title, unit price) of orders_create.json's five line items, in order
    ("SKU2006-001", "Aviator sunglasses", "89.99"),
    ("LENS-PROTECT-2YR", "Lens Protection Plan (2 Year)", "19.99"),
    ("CASE-LEATHER-PREM", "Premium Leather Case", "24.99"),
    ("SKU2006-020", "Mid-century lounger", "159.99"),
    ("SKU2006-035", "Coffee table", "119.99"),
]


def live_order() -> dict:
    """The sample order as a shop that took the money and shipped it: not cancelled, paid, fulfilled with the
    tracking of Shopify's REST fulfillment fixture, from a campaign link at the till, with a discount code; the
    lounger carries the refund sample's discount allocations and the checkout sample's tax line."""
    order = payload("orders_create.json")
    fulfilment = payload("rest_fixtures_shopify_python_api/fulfillment.json")["fulfillment"]
    refund_line = payload("refunds_create.json")["refund_line_items"][3]["line_item"]
    tax_line = payload("checkouts_create.json")["line_items"][0]["tax_lines"][0]
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid", fulfillment_status="fulfilled",
                 test=False, source_name="pos", discount_codes=[{"code": "TENOFF", "amount": "10.00",
                                                                 "type": "fixed_amount"}],
                 landing_site="/products/lounger?utm_source=newsletter&utm_medium=email&utm_campaign=winter",
                 fulfillments=[{**fulfilment, "status": "success"}])  # fmt: skip
    order["line_items"][3].update(discount_allocations=refund_line["discount_allocations"], tax_lines=[tax_line])
    return order


def test_orders_create_sample_lands_field_by_field():
    conn = connection()
    response = deliver(conn, testing.sample("shopify/orders_create.json"), "orders/create")
    assert response.status_code == 200 and response.json()["status"] == "accepted"

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DONE, delivery.error
    assert delivery.topic == "orders/create"
    assert delivery.headers["x-shopify-api-version"] == "2026-07"
    assert any("test order" in note for note in delivery.result["notes"])  # "test": true is flagged
    order = Order.objects.get()
    assert (order.source, order.external_id, order.number) == (conn.source, ORDER_ID, "#9999")
    assert order.currency == "USD"
    assert order.placed_at == NEW_YEAR
    assert order.total == Decimal("404.95")  # total_price, though current_total_price says 414.95
    assert order.shipping_total == Decimal("10.00")
    assert order.discount_codes == []
    assert order.sales_channel == "web"
    assert (order.utm_source, order.utm_medium, order.utm_campaign) == ("", "", "")
    # financial_status "voided" and cancelled_at set: cancelled, through placed.
    assert order.status == OrderStatus.CANCELLED
    assert list(order.status_changes.order_by("id").values_list("status", flat=True)) == ["placed", "cancelled"]
    lines = list(order.lines.order_by("id"))
    assert [(ln.sku, ln.title, str(ln.unit_price), ln.quantity) for ln in lines] == [
        (sku, title, price, 1) for sku, title, price in SAMPLE_LINES
    ]
    assert all(ln.discount == 0 and ln.tax == 0 for ln in lines)

    customer = order.customer
    assert (customer.email, customer.first_name, customer.last_name) == ("john@example.com", "John", "Smith")
    assert (customer.city, customer.country, customer.language) == ("Ottawa", "CA", "en")
    identity = Identity.objects.get(kind=Identity.Kind.SOURCE_ID, customer=customer)
    assert (identity.value, identity.source) == ("115310627314723954", conn.source)
    # buyer_accepts_marketing: an email consent given at checkout, its source the shop.
    consent = ConsentRecord.objects.get(customer=customer)
    assert (consent.channel, consent.status, consent.occurred_at) == ("email", "granted", NEW_YEAR)
    assert consent.source == "Shopify: Test shop"
    assert "buyer_accepts_marketing" in consent.proof and "#9999" in consent.proof


def test_orders_updated_sample_is_the_same_order_once():
    conn = connection()
    deliver(conn, testing.sample("shopify/orders_create.json"), "orders/create")
    deliver(conn, testing.sample("shopify/orders_updated.json"), "orders/updated")

    assert Order.objects.count() == 1 and Customer.objects.count() == 1
    assert ConsentRecord.objects.count() == 1
    second = Delivery.objects.get(topic="orders/updated")
    assert second.status == Delivery.Status.DONE
    assert second.result["counts"]["orders"] == {"ignored": 1}  # the same updated_at: nothing newer


def test_a_live_order_keeps_channel_utm_discounts_taxes_and_tracking():
    conn = connection()
    deliver(conn, live_order(), "orders/fulfilled")

    order = Order.objects.get()
    assert order.status == OrderStatus.SHIPPED
    assert list(order.status_changes.order_by("id").values_list("status", flat=True)) == ["placed", "paid", "shipped"]
    assert order.sales_channel == "pos"
    assert (order.utm_source, order.utm_medium, order.utm_campaign) == ("newsletter", "email", "winter")
    assert order.discount_codes == ["TENOFF"]
    lounger = order.lines.get(sku="SKU2006-020")
    assert (lounger.discount, lounger.tax) == (Decimal("10.00"), Decimal("11.94"))  # 5.00 + 5.00 allocated
    assert order.tax_total == Decimal("11.94") and order.discount_total == Decimal("10.00")
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number) == ("null-company", "1Z2345")
    payment = order.payments.get()
    assert (payment.provider, payment.method) == ("shopify", Payment.Method.CARD)


def test_refunds_create_sample_returns_the_lines_and_refunds_the_money():
    conn = connection()
    deliver(conn, live_order(), "orders/fulfilled")
    deliver(conn, testing.sample("shopify/refunds_create.json"), "refunds/create")

    delivery = Delivery.objects.get(topic="refunds/create")
    assert delivery.status == Delivery.Status.DONE, delivery.error
    refund = Refund.objects.get()
    assert refund.external_id == "890088186047892319"
    assert refund.amount == Decimal("85.00")  # its two successful refund transactions, 75.00 + 10.00
    assert refund.currency == "USD"  # the order's (the transactions' currency is null)
    assert refund.note == "Things were damaged"
    assert refund.occurred_at == NEW_YEAR
    returned = Return.objects.get()
    assert returned.external_id == "890088186047892319"
    assert sorted((ln.order_line.sku, ln.quantity) for ln in returned.lines.all()) == sorted(
        (sku, 1) for sku, _title, _price in SAMPLE_LINES
    )
    assert refund.return_request == returned

    # Shopify retries the same refund under a new delivery: counted once.
    deliver(conn, testing.sample("shopify/refunds_create.json"), "refunds/create")
    assert Refund.objects.count() == 1 and Return.objects.count() == 1


def test_a_refund_before_its_order_waits_for_it(clock):
    conn = connection()
    deliver(conn, testing.sample("shopify/refunds_create.json"), "refunds/create")
    waiting = Delivery.objects.get()
    assert waiting.status == Delivery.Status.RETRYING and ORDER_ID in waiting.error
    assert not Refund.objects.exists()

    deliver(conn, live_order(), "orders/fulfilled")
    clock.advance(dt.timedelta(hours=1))
    testing.process_all()
    waiting.refresh_from_db()
    assert waiting.status == Delivery.Status.DONE
    assert Refund.objects.get().amount == Decimal("85.00")


def test_order_transactions_create_sample():
    conn = connection()
    order = payload("orders_create.json")
    order.update(cancelled_at=None, financial_status="pending")
    deliver(conn, order, "orders/create")

    # The sample is an authorisation: money held, not taken — nothing changes.
    deliver(conn, testing.sample("shopify/order_transactions_create.json"), "order_transactions/create")
    assert Delivery.objects.get(topic="order_transactions/create").status == Delivery.Status.IGNORED
    assert Order.objects.get().status == OrderStatus.PLACED

    # The capture that follows pays the order.
    capture = payload("order_transactions_create.json")
    capture.update(kind="capture", id=120560818172775266, parent_id=capture["id"])
    deliver(conn, capture, "order_transactions/create")
    order = Order.objects.get()
    assert order.status == OrderStatus.PAID
    paid = order.payments.get()
    assert (paid.amount, paid.currency, paid.reference) == (Decimal("419.95"), "USD", "120560818172775266")
    assert (paid.provider, paid.method, paid.occurred_at) == ("shopify", Payment.Method.CARD, NEW_YEAR)

    # A declined sale is a "Payment Failed" event for the flows.
    failed = payload("order_transactions_create.json")
    failed.update(kind="sale", status="failure", id=120560818172775267)
    deliver(conn, failed, "order_transactions/create")
    from kervan.events.models import Event

    event = Event.objects.get(name="Payment Failed")
    assert event.customer_id == order.customer_id and event.properties["value"] == "419.95"


def test_orders_delete_sample_cancels_and_keeps_the_order():
    conn = connection()
    order = payload("orders_create.json")
    order.update(cancelled_at=None, financial_status="paid")
    deliver(conn, order, "orders/paid")
    deliver(conn, testing.sample("shopify/orders_delete.json"), "orders/delete")

    order = Order.objects.get(external_id=ORDER_ID)
    assert order.status == OrderStatus.CANCELLED and order.lines.count() == 5


def test_an_older_update_after_a_newer_one_changes_nothing():
    conn = connection()
    newer = payload("orders_create.json")  # cancelled at 2021-12-31 19:00 -05:00
    newer["updated_at"] = "2022-01-02T10:00:00-05:00"
    older = copy.deepcopy(newer)
    older.update(cancelled_at=None, financial_status="paid", updated_at="2022-01-01T10:00:00-05:00")
    deliver(conn, newer, "orders/cancelled")
    deliver(conn, older, "orders/paid")

    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert not order.payments.exists()
    late = Delivery.objects.get(topic="orders/paid")
    assert late.result["counts"]["orders"] == {"ignored": 1}


def test_a_retried_delivery_and_a_replay_change_nothing(admin_actor):
    from kervan.integrations.actions import delivery_replay

    conn = connection()
    body = orjson.dumps(live_order())
    first = deliver(conn, body, "orders/fulfilled", webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    again = deliver(conn, body, "orders/fulfilled", webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    assert first.json()["status"] == "accepted" and again.json() == {"status": "duplicate"}
    assert Delivery.objects.count() == 1

    def state():
        order = Order.objects.get()
        return (order.status, order.total, order.lines.count(), order.payments.count(), order.shipments.count(),
                order.status_changes.count(), ConsentRecord.objects.count(), Customer.objects.count())  # fmt: skip

    before = state()
    delivery_replay(actor=admin_actor, delivery=Delivery.objects.get())
    testing.process_all()
    assert Delivery.objects.get().status == Delivery.Status.DONE
    assert state() == before


def test_a_refund_in_the_order_and_in_refunds_create_is_counted_once():
    conn = connection()
    deliver(conn, live_order(), "orders/fulfilled")
    deliver(conn, testing.sample("shopify/refunds_create.json"), "refunds/create")
    updated = live_order()
    updated.update(updated_at="2022-01-02T10:00:00-05:00", financial_status="partially_refunded",
                   refunds=[payload("refunds_create.json")])  # fmt: skip
    deliver(conn, updated, "orders/updated")

    assert Delivery.objects.get(topic="orders/updated").result["counts"]["refunds"] == {"ignored": 1}
    order = Order.objects.get()
    assert order.refunds.count() == 1 and order.returns.count() == 1
    assert order.refunded_total == Decimal("85.00")
