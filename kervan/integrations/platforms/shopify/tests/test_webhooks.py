"""Shopify's customer, consent, product, checkout and privacy webhooks (its published 2026-07 samples) through the
real intake and worker; and what the intake refuses."""

import datetime as dt
from decimal import Decimal

import orjson
import pytest

from kervan.catalog.models import Product, Variant
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.events.models import Event
from kervan.integrations import testing
from kervan.integrations.models import Delivery
from kervan.integrations.platforms.shopify import PLATFORM
from kervan.integrations.platforms.shopify.tests.helpers import (
    connection,
    deliver,
    example_headers,
    headers,
    payload,
    sign,
)
from kervan.orders.models import Order

pytestmark = [pytest.mark.django_db, testing.needs_samples]

NEW_YEAR = dt.datetime(2022, 1, 1, 0, 0, tzinfo=dt.UTC)


def test_customers_create_then_delete():
    conn = connection()
    deliver(conn, testing.sample("shopify/customers_create.json"), "customers/create")
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name, customer.last_name) == ("bob@biller.com", "Bob", "Biller")
    assert (customer.city, customer.country) == ("Ottawa", "CA")  # country_code; the sample's country_name is "CA" too
    assert customer.phone == ""  # the customer's phone is null (555-555-5555 is the address's)
    identity = Identity.objects.get(kind=Identity.Kind.SOURCE_ID)
    assert (identity.value, identity.source, identity.customer) == ("706405506930370084", conn.source, customer)
    assert not ConsentRecord.objects.exists()  # 2025-01+ customer bodies carry no consent

    # An update of an older API version, with tags ("a, b") and a dated email consent.
    update = payload("customers_create.json")
    update.update(updated_at="2022-01-02T10:00:00-05:00", tags="VIP, wholesale",
                  email_marketing_consent={"state": "subscribed", "opt_in_level": "single_opt_in",
                                           "consent_updated_at": "2022-01-02T09:00:00-05:00"})  # fmt: skip
    deliver(conn, update, "customers/update")
    customer.refresh_from_db()
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "wholesale"]
    consent = ConsentRecord.objects.get()
    assert (consent.status, consent.occurred_at) == ("granted", dt.datetime(2022, 1, 2, 14, 0, tzinfo=dt.UTC))
    assert consent.proof == "Shopify: state=subscribed, opt_in_level=single_opt_in"

    deliver(conn, testing.sample("shopify/customers_delete.json"), "customers/delete")
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID).exists()
    assert Customer.objects.get().email == "bob@biller.com"  # the profile stays


def test_customers_email_marketing_consent_update_sample(clock):
    conn = connection()
    deliver(conn, testing.sample("shopify/customers_create.json"), "customers/create")
    deliver(conn, testing.sample("shopify/customers_email_marketing_consent_update.json"),
            "customers_email_marketing_consent/update")  # fmt: skip

    record = ConsentRecord.objects.get()
    assert record.customer == Customer.objects.get(email="bob@biller.com")
    assert (record.channel, record.status, record.address) == ("email", "refused", "bob@biller.com")
    assert record.source == "Shopify: Test shop"
    assert record.proof == "Shopify: state=not_subscribed"
    assert record.occurred_at == clock.now()  # consent_updated_at is null: the time Kervan learnt it

    # A later, dated subscription wins; the same one again is not recorded twice.
    clock.advance(dt.timedelta(minutes=1))
    subscribed = payload("customers_email_marketing_consent_update.json")
    subscribed["email_marketing_consent"] = {"state": "subscribed", "opt_in_level": "confirmed_opt_in",
                                             "consent_updated_at": clock.now().isoformat()}  # fmt: skip
    deliver(conn, subscribed, "customers_email_marketing_consent/update")
    deliver(conn, subscribed, "customers_email_marketing_consent/update")
    granted = ConsentRecord.objects.filter(status="granted")
    assert granted.count() == 1
    assert granted.get().proof == "Shopify: state=subscribed, opt_in_level=confirmed_opt_in"


def test_sms_marketing_consent_update():
    """customers_marketing_consent/update: no published sample here; its shape inferred from the customer object's
    sms_marketing_consent (Shopify moved it out of customer bodies in 2025-01)."""
    conn = connection()
    body = {"id": 706405506930370084, "phone": "+905321234567",
            "sms_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in",
                                      "consent_updated_at": "2021-12-31T19:00:00-05:00",
                                      "consent_collected_from": "SHOPIFY"}}  # fmt: skip
    deliver(conn, body, "customers_marketing_consent/update")
    record = ConsentRecord.objects.get()
    assert (record.channel, record.status, record.occurred_at) == ("sms", "granted", NEW_YEAR)
    assert record.address == "+905321234567"
    assert Identity.objects.get(kind=Identity.Kind.SOURCE_ID).value == "706405506930370084"


def test_products_update_then_delete():
    conn = connection()
    deliver(conn, testing.sample("shopify/products_update.json"), "products/update")
    product = Product.objects.get()
    assert (product.external_id, product.source, product.title) == ("788032119674292922", conn.source,
                                                                      "Example T-Shirt")  # fmt: skip
    assert product.is_active
    variants = {v.external_id: v for v in Variant.objects.select_related("stock")}
    small, medium = variants["642667041472713922"], variants["757650484644203962"]
    # The variants have no SKU: the source's key and the variant id stand in (what order lines of them get too).
    assert small.sku == f"{conn.source.key}-642667041472713922"
    assert (small.title, small.price, small.compare_at_price, small.currency) == (
        "Small", Decimal("19.99"), Decimal("24.99"), "USD")  # fmt: skip
    assert (medium.title, medium.stock.quantity, small.stock.quantity) == ("Medium", 50, 75)

    changed = payload("products_update.json")
    changed["updated_at"] = "2022-01-02T10:00:00-05:00"
    changed["variants"][0].update(price="17.99", inventory_quantity=70)
    deliver(conn, changed, "products/update")
    small.refresh_from_db()
    assert small.price == Decimal("17.99") and Variant.objects.get(pk=small.pk).stock.quantity == 70
    deliver(conn, payload("products_update.json"), "products/update")  # the older version, late: ignored
    assert Variant.objects.get(pk=small.pk).price == Decimal("17.99")

    deliver(conn, testing.sample("shopify/products_delete.json"), "products/delete")
    assert not Product.objects.get().is_active


def test_inventory_levels_update_needs_a_known_sku():
    conn = connection()
    deliver(conn, testing.sample("shopify/products_update.json"), "products/update")
    # Shopify's inventory level (item + location): no SKU, so Kervan cannot tell the variant — ignored.
    level = {"inventory_item_id": 271878346596884015, "location_id": 24826418, "available": 6,
             "updated_at": "2022-01-02T10:00:00-05:00"}  # fmt: skip
    deliver(conn, level, "inventory_levels/update")
    assert Delivery.objects.get(topic="inventory_levels/update").status == Delivery.Status.IGNORED
    assert Variant.objects.get(external_id="642667041472713922").stock.quantity == 75
    # With the SKU (an app that adds it), the level is the variant's stock.
    deliver(conn, {**level, "sku": f"{conn.source.key}-642667041472713922"}, "inventory_levels/update")
    assert Variant.objects.get(external_id="642667041472713922").stock.quantity == 6


def test_checkouts_create_sample_is_a_started_checkout_with_its_recovery_link():
    conn = connection()
    deliver(conn, testing.sample("shopify/checkouts_create.json"), "checkouts/create")
    event = Event.objects.get()
    assert event.name == "Started Checkout" and event.source == conn.source
    # The logged-in customer (john@example.com), not the checkout's typed email (example@email.com).
    assert event.customer.email == "john@example.com"
    identity = Identity.objects.get(kind=Identity.Kind.SOURCE_ID)
    assert (identity.value, identity.customer_id) == ("603851970716743426", event.customer_id)
    props = event.properties
    assert props["checkout_token"] == "123123123"  # the 2026-07 body has no id
    assert (props["value"], props["currency"]) == ("421.88", "USD")
    assert props["recovery_url"] == (
        "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    )
    assert props["items"] == [
        {"sku": "IPOD2008PINK", "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00",
         "product_id": "632910392", "variant_id": "808950810"}
    ] * 2  # fmt: skip
    assert event.occurred_at == NEW_YEAR

    deliver(conn, testing.sample("shopify/checkouts_create.json"), "checkouts/update")  # the same version
    assert Event.objects.count() == 1
    deliver(conn, testing.sample("shopify/checkouts_delete.json"), "checkouts/delete")
    assert Delivery.objects.get(topic="checkouts/delete").status == Delivery.Status.IGNORED
    completed = payload("checkouts_create.json")
    completed.update(completed_at="2022-01-01T10:00:00-05:00", updated_at="2022-01-01T10:00:00-05:00")
    deliver(conn, completed, "checkouts/update")
    assert Event.objects.count() == 1  # became an order: no new "Started Checkout"


# -- privacy ----------------------------------------------------------------------------------------------------------


def test_customers_redact_erases_the_customer_and_keeps_the_orders():
    conn = connection()
    deliver(conn, testing.sample("shopify/orders_create.json"), "orders/create")
    order = Order.objects.get()
    deliver(conn, testing.sample("shopify/customers_redact.json"), "customers/redact")

    delivery = Delivery.objects.get(topic="customers/redact")
    assert delivery.status == Delivery.Status.DONE, delivery.error
    assert delivery.result["counts"]["privacy"] == {"anonymised": 1}
    assert not Customer.objects.filter(email__iexact="john@example.com").exists()
    assert not Identity.objects.filter(value__icontains="john@example.com").exists()
    assert not Identity.objects.filter(value="115310627314723954").exists()
    customer = Customer.objects.get(pk=order.customer_id)
    assert (customer.first_name, customer.last_name, customer.city, customer.email) == ("", "", "", "")
    assert customer.anonymised_at is not None
    kept = Order.objects.get(pk=order.pk)
    assert (kept.total, kept.lines.count(), kept.external_id) == (order.total, 5, order.external_id)


def test_customers_data_request_exports_their_orders():
    conn = connection()
    deliver(conn, testing.sample("shopify/orders_create.json"), "orders/create")
    deliver(conn, testing.sample("shopify/customers_data_request.json"), "customers/data_request")

    delivery = Delivery.objects.get(topic="customers/data_request")
    assert delivery.status == Delivery.Status.DONE, delivery.error
    export = delivery.result["counts"]["privacy"]["export"]
    assert export["customer"]["email"] == "john@example.com"
    assert "820982911946154508" in orjson.dumps(export).decode()  # the order, by its Shopify id
    assert "#9999" in orjson.dumps(export).decode()


def test_shop_redact_erases_the_shops_customers():
    conn = connection()
    deliver(conn, testing.sample("shopify/orders_create.json"), "orders/create")
    deliver(conn, {"shop_id": 954889, "shop_domain": "{shop}.myshopify.com"}, "shop/redact")
    assert Delivery.objects.get(topic="shop/redact").status == Delivery.Status.DONE
    assert not Customer.objects.filter(email__iexact="john@example.com").exists()
    assert Order.objects.count() == 1


# -- what the intake and the worker refuse ----------------------------------------------------------------------------


def test_the_example_delivery_headers_are_read():
    example = {k.lower(): v for k, v in example_headers().items()}
    assert PLATFORM.delivery_key(example, b"{}") == ("products/update", "545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9")
    # Without a webhook id, the body's digest: the same body twice is one delivery.
    del example["x-shopify-webhook-id"]
    assert PLATFORM.delivery_key(example, b"{}")[1].startswith("sha256:")


def test_bad_signatures_are_refused_and_nothing_stored():
    conn = connection()
    body = testing.sample("shopify/orders_create.json")
    wrong_secret = testing.deliver(conn, body, headers(body, "orders/create", secret="another-secret"))
    # The published example's signature is not of this body with this secret.
    example = {**headers(body, "orders/create"), "X-Shopify-Hmac-Sha256": example_headers()["X-Shopify-Hmac-Sha256"]}
    from_example = testing.deliver(conn, body, example)
    unsigned = testing.deliver(conn, body, {"X-Shopify-Topic": "orders/create"})
    tampered = testing.deliver(conn, body.replace(b"404.95", b"4.95"), headers(body, "orders/create"))
    for response in (wrong_secret, from_example, unsigned, tampered):
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert not Delivery.objects.exists()


def test_malformed_json_is_a_400():
    conn = connection()
    body = testing.sample("shopify/orders_create.json")[:-20]
    response = testing.deliver(conn, body, headers(body, "orders/create"))
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    ("topic", "change", "reason"),
    [
        ("orders/create", lambda o: o.pop("line_items"), "line_items"),
        ("orders/create", lambda o: o.pop("currency"), "currency"),
        ("orders/create", lambda o: o["line_items"][2].pop("price"), "price"),
        ("orders/create", lambda o: o.update(created_at="31/12/2021", processed_at=None), "31/12/2021"),
        ("orders/create", lambda o: o.update(id=8.209829119461545e17), "not an id"),
    ],
)
def test_an_order_missing_what_it_needs_is_dead_and_nothing_written(topic, change, reason):
    conn = connection()
    order = payload("orders_create.json")
    change(order)
    response = deliver(conn, order, topic)
    assert response.status_code == 200  # Shopify would retry for ever otherwise: kept for an Admin instead
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and reason in delivery.error
    assert not Order.objects.exists() and not Customer.objects.exists() and not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("refunds/create", {"id": 890088186047892319}, "order_id"),
        ("customers/redact", {"shop_id": 954889}, "customer"),
        ("checkouts/create", {"email": "example@email.com", "line_items": []}, "token"),
        ("products/update", {"title": "Example T-Shirt"}, "id"),
        ("customers_email_marketing_consent/update", {"customer_id": 706405506930370084}, "email_marketing_consent"),
        ("orders/create", [1, 2], "not a JSON object"),
    ],
)
def test_other_topics_missing_what_they_need_are_dead(topic, body, reason):
    conn = connection()
    deliver(conn, body, topic)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and reason in delivery.error
    assert not Customer.objects.exists() and not Product.objects.exists() and not Event.objects.exists()


def test_a_topic_kervan_does_not_use_is_kept_as_ignored():
    conn = connection()
    raw = orjson.dumps({"id": 1})
    response = testing.deliver(conn, raw, {**headers(raw, "themes/publish"), "X-Shopify-Hmac-Sha256": sign(raw)})
    testing.process_all()
    assert response.status_code == 200
    assert Delivery.objects.get().status == Delivery.Status.IGNORED
