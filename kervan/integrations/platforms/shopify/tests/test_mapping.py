"""The readings of Shopify's data that the end-to-end tests do not reach one by one: every financial status, the
fulfilment rules, Link headers, the call-limit wait, and the older REST shape's order-level amounts."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.integrations import testing
from kervan.integrations.platforms.shopify import client, orders
from kervan.integrations.platforms.shopify.tests.helpers import payload

pytestmark = testing.needs_samples


@pytest.mark.parametrize(
    ("financial", "status"),
    [("pending", "placed"), ("authorized", "placed"), ("partially_paid", "paid"), ("paid", "paid"),
     ("partially_refunded", "paid"), ("refunded", "paid"), ("voided", "cancelled"), ("expired", "cancelled"),
     (None, "placed")],
)  # fmt: skip
def test_financial_statuses_follow_the_import_preset(financial, status):
    order = payload("orders_create.json")
    order.update(cancelled_at=None, financial_status=financial)
    assert orders.order_status(order, None) == status


def test_fulfilment_and_cancellation():
    order = payload("orders_create.json")
    assert orders.order_status(order, None) == "cancelled"  # cancelled_at wins
    order.update(cancelled_at=None, financial_status="paid", fulfillment_status="fulfilled")
    assert orders.order_status(order, None) == "fulfilled"  # no tracking: handed over, not known to be in transit
    fulfilment = payload("rest_fixtures_shopify_python_api/fulfillment.json")["fulfillment"]
    assert orders.order_status(order, fulfilment) == "shipped"
    assert orders.order_status(order, {**fulfilment, "shipment_status": "delivered"}) == "delivered"
    order["fulfillment_status"] = "partial"
    assert orders.order_status(order, fulfilment) == "paid"
    # A failed fulfilment (order.json's) is not the order's shipment.
    legacy = payload("rest_fixtures_shopify_python_api/order.json")["order"]
    assert orders.last_fulfilment(legacy) is None


def test_older_orders_spread_order_level_discount_and_tax_over_their_lines():
    legacy = payload("rest_fixtures_shopify_python_api/order.json")["order"]
    legacy["total_discounts"] = "10.00"  # what its TENOFF code says
    (order,) = [r for r in orders.order_records(legacy, "shopify-1") if type(r).__name__ == "StoreOrder"]
    assert [line.discount for line in order.lines] == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]
    assert sum(line.tax for line in order.lines) == Decimal("11.94")
    assert order.payment_method == "card" and order.discount_codes == ("TENOFF",)
    # The 2026-07 shape has per-line keys (empty here): nothing is spread though total_discounts says 20.00.
    (current,) = [r for r in orders.order_records(payload("orders_create.json"), "s") if hasattr(r, "lines")]
    assert all(line.discount == 0 for line in current.lines)


def test_ids_stay_exact_and_lines_without_a_sku_name_their_variant():
    order = payload("orders_create.json")
    order["line_items"][0].update(sku=None, variant_id=642667041472713922)
    (record,) = [r for r in orders.order_records(order, "shopify-7") if hasattr(r, "lines")]
    assert record.external_id == "820982911946154508"
    assert record.lines[0].sku == "shopify-7-642667041472713922"
    assert record.lines[0].external_id == "487817672276298554"


def test_utm_and_channel():
    assert orders.utm("https://shop.example/?utm_source=ig&utm_medium=social&utm_campaign=kis") == {
        "utm_source": "ig", "utm_medium": "social", "utm_campaign": "kis"}  # fmt: skip
    assert orders.utm(None) == {"utm_source": "", "utm_medium": "", "utm_campaign": ""}
    assert orders.utm("http://www.example.com?source=abc")["utm_source"] == ""  # orders.json's landing_site
    assert orders.payment_method("Cash on Delivery (COD)") == "cod"
    assert orders.payment_method("Bank Deposit") == "bank_transfer"


def test_link_headers():
    url = "https://s.myshopify.com/admin/api/2026-07/orders.json?limit=250&page_info="
    link = f'<{url}prev1>; rel="previous", <{url}next2>; rel="next"'
    assert client.next_page_info(link) == "next2"
    assert client.next_page_info(link.split(", ")[0]) is None
    assert client.next_page_info(None) is None


def test_the_call_limit_wait(clock):
    client._note_bucket("https://a.myshopify.com", "39/40")  # 3 calls over the headroom, 2 calls/s drain
    client._note_bucket("https://b.myshopify.com", "20/40")  # room enough: no wait
    client._note_bucket("https://c.myshopify.com", "79/80")  # Plus: 4 calls/s
    started = clock.now()
    client._wait_for_room("https://b.myshopify.com")
    assert clock.now() == started
    client._wait_for_room("https://a.myshopify.com")
    assert clock.now() - started == dt.timedelta(seconds=1.5)
    client._wait_for_room("https://c.myshopify.com")  # its 0.75 s had passed meanwhile
    assert clock.now() - started == dt.timedelta(seconds=1.5)


@pytest.mark.parametrize(
    ("kind", "status", "outcome"),
    [("authorization", "success", None), ("authorization", "failure", "failed"), ("sale", "success", "paid"),
     ("capture", "success", "paid"), ("capture", "error", "failed"), ("sale", "pending", None),
     ("refund", "success", None), ("void", "success", None)],
)  # fmt: skip
def test_transactions(kind, status, outcome):
    transaction = payload("order_transactions_create.json")
    transaction.update(kind=kind, status=status)
    found = orders.transaction_records(transaction)
    assert [r.status for r in found] == ([outcome] if outcome else [])
    if found:
        (payment,) = found
        assert (payment.order_external_id, payment.reference) == ("820982911946154508", "120560818172775265")
        assert (payment.amount, payment.currency, payment.method) == (Decimal("419.95"), "USD", "card")
