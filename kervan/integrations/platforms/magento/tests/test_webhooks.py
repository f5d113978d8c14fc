"""Magento 2 deliveries through the real intake and worker, on Adobe's published REST payloads
(../shared/data/webhooks/magento2), signed here as the shop's sender signs them (X-Kervan-Signature: sha256=<hex
HMAC>, or the shared secret in X-Magento-Webhook-Secret)."""

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from kervan.catalog.models import Product, Variant
from kervan.core.phones import normalize_phone
from kervan.customers.models import Customer, Identity
from kervan.integrations.models import Delivery, SyncState
from kervan.integrations.testing import connection_make, deliver, needs_samples, process_all, sample
from kervan.orders.models import Order, OrderStatus, Refund

pytestmark = [needs_samples, pytest.mark.django_db]
SECRET = "magento-test-secret"
UTC = dt.UTC


@pytest.fixture
def shop():
    return connection_make("magento", credentials={"access_token": "tok", "webhook_secret": SECRET})


def load(name: str):
    return json.loads(sample(f"magento2/{name}"))


def signed(topic: str, body: bytes, *, secret: str = SECRET) -> dict:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Magento-Topic": topic, "X-Kervan-Signature": f"sha256={signature}"}


def send(shop, topic: str, payload, *, raw: bytes | None = None, headers: dict | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    response = deliver(shop, body, headers or signed(topic, body))
    assert response.status_code == 200, response.content
    return response


def phone(raw: str, country: str) -> str:
    try:
        return normalize_phone(raw, country)
    except Exception:
        return ""


def shipment_of(order_id: int) -> dict:
    """The shipment Magento saves for POST /V1/order/3/ship (the published request): its items and tracks, with
    the ids and time Magento gives it."""
    request = load("POST_V1_order_3_ship.request.json")
    return {"entity_id": 1, "order_id": order_id, "created_at": "2017-08-21 23:05:00", **request}


def creditmemo_of(order: dict) -> dict:
    """The credit memo Magento saves for the published refund request (POST /V1/order/<id>/refund): the request's
    items and arguments, its lines priced as the order's items, and the ids and time Magento gives it."""
    request = load("POST_V1_order_5_refund.request.json")
    by_id = {item["item_id"]: item for item in order["items"]}
    items = [{"order_item_id": x["order_item_id"], "qty": x["qty"], "sku": by_id[x["order_item_id"]]["sku"],
              "price": by_id[x["order_item_id"]]["price"]} for x in request["items"]]  # fmt: skip
    arguments = request["arguments"]
    total = sum(x["price"] * x["qty"] for x in items) + arguments["shipping_amount"]
    total += arguments["adjustment_positive"] - arguments["adjustment_negative"]
    return {"entity_id": 7, "order_id": order["entity_id"], "created_at": "2017-08-22 09:00:00",
            "grand_total": total, "items": items, **{k: v for k, v in arguments.items()}}  # fmt: skip


# -- every published payload ------------------------------------------------------------------------------------------


def test_every_published_payload_is_accepted_and_processed(shop):
    order = load("GET_V1_orders_3.response.json")
    send(shop, "customer.save", None, raw=sample("magento2/POST_V1_customers.response.json"))
    send(shop, "order.save", None, raw=sample("magento2/GET_V1_orders_3.response.json"))
    send(shop, "invoice.save", None, raw=sample("magento2/GET_V1_invoices_3.response.json"))
    send(shop, "invoice.save", None, raw=sample("magento2/GET_V1_invoices_3.inventory_tutorial.response.json"))
    send(shop, "shipment.save", shipment_of(3))
    send(shop, "creditmemo.save", creditmemo_of(order))
    assert process_all() == 6
    assert list(Delivery.objects.filter(status=Delivery.Status.DEAD).values_list("topic", "error")) == []
    order = Order.objects.get(source=shop.source)
    assert order.external_id == "3" and order.status == OrderStatus.SHIPPED
    assert Refund.objects.get().external_id == "7"


# -- orders -----------------------------------------------------------------------------------------------------------


def test_the_order_field_by_field(shop):
    payload = load("GET_V1_orders_3.response.json")
    send(shop, "order.save", payload)
    process_all()
    order = Order.objects.get(source=shop.source, external_id="3")  # entity_id, exact
    assert order.number == "000000003"  # increment_id, zero-padded as Magento wrote it
    assert order.status == OrderStatus.PLACED  # pending
    assert order.currency == "USD"
    assert order.placed_at == dt.datetime(2017, 8, 21, 22, 22, 19, tzinfo=UTC)  # created_at is UTC without a zone
    # grand_total is what Magento charged (the published body lists 1 of its 4 lines; its totals are for all 4)
    assert order.total == Decimal("165.00") and order.shipping_total == Decimal("5.00")
    assert order.tax_total == Decimal("0.00") and order.discount_total == Decimal("0.00")
    (line,) = order.lines.all()
    assert (line.sku, line.title, line.quantity, line.unit_price, line.discount, line.tax) == (
        "WS12-M-Orange", "Radiant Tee-M-Orange", 1, Decimal("22.00"), Decimal("0.00"), Decimal("0.00"))  # fmt: skip
    customer = order.customer
    assert Identity.objects.get(kind=Identity.Kind.SOURCE_ID, source=shop.source).customer == customer
    assert Identity.objects.get(kind=Identity.Kind.SOURCE_ID, source=shop.source).value == "3"  # customer_id
    assert (customer.email, customer.first_name, customer.last_name) == ("jdoe@example.com", "Jane", "Doe")
    assert (customer.city, customer.country) == ("Purchase", "US")  # billing_address city / country_id
    assert customer.phone == phone("512-555-1111", "US")


def test_an_invoice_pays_and_a_shipment_ships_with_its_tracking(shop):
    send(shop, "order.save", load("GET_V1_orders_3.response.json"))
    send(shop, "invoice.save", load("GET_V1_invoices_3.response.json"))
    send(shop, "shipment.save", shipment_of(3))
    process_all()
    order = Order.objects.get(external_id="3")
    assert order.status == OrderStatus.SHIPPED
    paid = order.status_changes.get(status=OrderStatus.PAID)
    assert paid.occurred_at == dt.datetime(2017, 8, 21, 22, 36, 2, tzinfo=UTC)  # the invoice's created_at
    assert order.payments.get().provider == "magento"
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number) == ("United Parcel Service", "1Y-9876543210")
    assert shipment.shipped_at == dt.datetime(2017, 8, 21, 23, 5, tzinfo=UTC)
    send(shop, "shipment.save", shipment_of(3) | {"updated_at": "2017-08-21 23:06:00"})  # saved again
    process_all()
    assert order.shipments.count() == 1


def test_a_credit_memo_refunds_and_takes_back_its_units(shop):
    payload = load("GET_V1_orders_3.response.json")
    send(shop, "order.save", payload | {"status": "complete", "state": "complete"})
    send(shop, "creditmemo.save", creditmemo_of(payload))
    process_all()
    order = Order.objects.get(external_id="3")
    assert order.status == OrderStatus.DELIVERED  # complete
    refund = Refund.objects.get(order=order)
    assert (refund.external_id, refund.amount) == ("7", Decimal("22.00"))
    assert refund.occurred_at == dt.datetime(2017, 8, 22, 9, 0, tzinfo=UTC)
    returned = order.returns.get()
    assert [(x.order_line.sku, x.quantity) for x in returned.lines.all()] == [("WS12-M-Orange", 1)]


def test_adobe_commerce_webhooks_envelope_and_event_names(shop):
    payload = {"eventName": "observer.sales_order_save_after", "data": {"order": load("GET_V1_orders_3.response.json")}}
    body = json.dumps(payload).encode()
    headers = {"X-Magento-Webhook-Secret": SECRET}  # a fixed header of webhooks.xml; the topic from eventName
    send(shop, "", None, raw=body, headers=headers)
    process_all()
    delivery = Delivery.objects.get()
    assert (delivery.topic, delivery.status) == ("order.save", Delivery.Status.DONE)
    assert Order.objects.get().number == "000000003"


def test_configurable_children_guests_and_shop_statuses(shop):
    payload = load("GET_V1_orders_3.response.json")
    child = dict(payload["items"][0], item_id=4, parent_item_id=3, price=0, product_type="simple")
    payload["items"] = [dict(payload["items"][0], product_type="configurable"), child]
    payload |= {"customer_is_guest": 1, "customer_id": None, "status": "gift_wrapping", "state": "processing"}
    send(shop, "order.save", payload)
    process_all()
    assert Delivery.objects.get().error == ""
    order = Order.objects.get()
    assert order.lines.count() == 1  # the child item is the parent's line
    assert order.status == OrderStatus.PAID  # a shop's own status word: its state (processing)
    send(shop, "order.save", payload | {"status": "kargoda", "updated_at": "2017-08-21 23:00:00"})
    process_all()
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED  # "in the cargo": shipped, but the carrier comes with the shipment
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID).exists()  # a guest
    assert order.customer.email == "jdoe@example.com"


def test_a_customer_field_by_field(shop):
    envelope = {"eventName": "observer.customer_save_after_data_object",
                "data": {"customer_data_object": load("POST_V1_customers.response.json")}}  # fmt: skip
    send(shop, "", None, raw=json.dumps(envelope).encode(), headers={"X-Magento-Webhook-Secret": SECRET})
    process_all()
    identity = Identity.objects.get(kind=Identity.Kind.SOURCE_ID, source=shop.source)
    customer = identity.customer
    assert identity.value == "2"
    assert (customer.email, customer.first_name, customer.last_name) == ("jdoe@example.com", "Jane", "Doe")
    assert (customer.city, customer.country) == ("Purchase", "US")
    assert customer.phone == phone("512-555-1111", "US")
    send(shop, "customer.delete", {"id": 2})
    process_all()
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID).exists() and Customer.objects.count() == 1


# -- order of arrival, duplicates, retries ----------------------------------------------------------------------------


def test_the_same_delivery_twice_is_stored_once_and_counted_once(shop):
    body = sample("magento2/GET_V1_orders_3.response.json")
    assert send(shop, "order.save", None, raw=body).json()["status"] == "accepted"
    assert send(shop, "order.save", None, raw=body).json()["status"] == "duplicate"
    process_all()
    assert Delivery.objects.count() == 1 and Order.objects.count() == 1
    assert Order.objects.get().status_changes.count() == 1


def test_an_older_update_after_a_newer_one_changes_nothing(shop):
    older = load("GET_V1_orders_3.response.json")
    newer = older | {"status": "processing", "state": "processing", "updated_at": "2017-08-21 22:40:00"}
    send(shop, "order.save", newer)
    process_all()
    send(shop, "order.save", older | {"status": "canceled", "state": "canceled"} | {"updated_at": older["updated_at"]})
    process_all()
    order = Order.objects.get()
    assert order.status == OrderStatus.PAID
    assert SyncState.objects.get(kind="order").updated_at == dt.datetime(2017, 8, 21, 22, 40, tzinfo=UTC)


def test_a_retry_changes_nothing_and_an_invoice_before_its_order_waits(shop):
    send(shop, "invoice.save", load("GET_V1_invoices_3.response.json"))
    process_all()
    early = Delivery.objects.get()
    assert early.status == Delivery.Status.RETRYING and "3" in early.error and not Order.objects.exists()
    payload = load("GET_V1_orders_3.response.json")
    send(shop, "order.save", payload, headers=signed("order.save", json.dumps(payload).encode()) | {
        "X-Magento-Delivery-Id": "a"})  # fmt: skip
    send(shop, "order.save", payload, headers=signed("order.save", json.dumps(payload).encode()) | {
        "X-Magento-Delivery-Id": "b"})  # the sender retried under a new id  # fmt: skip
    process_all()
    Delivery.objects.filter(pk=early.pk).update(due_at=dt.datetime(2000, 1, 1, tzinfo=UTC))
    process_all()
    early.refresh_from_db()
    assert early.status == Delivery.Status.DONE
    assert Order.objects.count() == 1 and Order.objects.get().status == OrderStatus.PAID


# -- refusals ---------------------------------------------------------------------------------------------------------


def test_bad_signatures_are_refused_and_nothing_stored(shop):
    body = sample("magento2/GET_V1_orders_3.response.json")
    for headers in (
        signed("order.save", body, secret="wrong"),
        {"X-Magento-Topic": "order.save", "X-Kervan-Signature": "sha1=" + "0" * 40},
        {"X-Magento-Topic": "order.save", "X-Magento-Webhook-Secret": "wrong"},
        {"X-Magento-Topic": "order.save"},
    ):
        response = deliver(shop, body, headers)
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert not Delivery.objects.exists()


def test_malformed_json_is_refused(shop):
    body = b'{"entity_id": 3,'
    response = deliver(shop, body, signed("order.save", body))
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "change",
    [{"items": None}, {"items": []}, {"order_currency_code": None}, {"created_at": "21/08/2017"},
     {"grand_total": "lots"}, {"entity_id": None}],
)  # fmt: skip
def test_an_order_missing_what_it_needs_is_dead_and_nothing_written(shop, change):
    send(shop, "order.save", load("GET_V1_orders_3.response.json") | change)
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and "could not be read" in delivery.error
    assert not Order.objects.exists() and not Customer.objects.exists() and not SyncState.objects.exists()


def test_products_saved_and_deleted(shop):
    """A product as GET /V1/products/<sku> gives it (no published sample: the documented fields)."""
    tee = {"id": 1553, "sku": "WS12-M-Orange", "name": "Radiant Tee-M-Orange", "price": 22, "status": 1,
           "type_id": "simple", "updated_at": "2017-08-01 10:00:00",
           "extension_attributes": {"stock_item": {"qty": 12.0, "manage_stock": True}}}  # fmt: skip
    parent = {"id": 1550, "sku": "WS12", "name": "Radiant Tee", "price": 0, "status": 1, "type_id": "configurable"}
    send(shop, "product.save", {"product": tee})  # an envelope with the object under its name is read too
    send(shop, "observer.catalog_product_save_after", parent)  # a configurable parent alone: nothing to create
    process_all()
    assert not Delivery.objects.filter(status=Delivery.Status.DEAD).exists()
    variant = Variant.objects.get(sku="WS12-M-Orange")
    assert (variant.product.external_id, variant.price, variant.compare_at_price, variant.stock.quantity) == (
        "1553", Decimal("22.00"), None, 12)  # fmt: skip
    assert variant.product.title == "Radiant Tee-M-Orange" and variant.currency == shop.source.currency
    assert not Product.objects.filter(external_id="1550").exists()
    send(shop, "product.save", tee | {"status": 2, "updated_at": "2017-08-02 10:00:00"})  # disabled
    process_all()
    assert not Product.objects.get(external_id="1553").is_active
    send(shop, "product.delete", {"id": 1553})
    process_all()
    assert Delivery.objects.get(topic="product.delete").result["counts"] == {"products": {"deactivated": 1}}
