"""WooCommerce webhooks through the real intake and worker, on WooCommerce's own published payloads
(../shared/data/webhooks/woocommerce), signed here as WooCommerce signs them (base64 HMAC-SHA256 of the body)."""

import base64
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
SECRET = "wc-test-secret"
UTC = dt.UTC


@pytest.fixture
def shop():
    return connection_make(
        "woocommerce", credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": SECRET}
    )


def load(name: str):
    return json.loads(sample(f"woocommerce/{name}"))


def headers(topic: str, body: bytes, *, delivery: str = "", secret: str = SECRET) -> dict:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    found = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "31",
        "X-WC-Webhook-Source": "https://example.com/",
    }
    if delivery:
        found["X-WC-Webhook-Delivery-ID"] = delivery
    return found


def send(shop, topic: str, payload, *, delivery: str = "", raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    response = deliver(shop, body, headers(topic, body, delivery=delivery))
    assert response.status_code == 200, response.content
    return response


def phone(raw: str, country: str) -> str:
    try:
        return normalize_phone(raw, country)
    except Exception:
        return ""


def identity(shop, external_id: str) -> Customer:
    return Identity.objects.get(kind=Identity.Kind.SOURCE_ID, source=shop.source, value=external_id).customer


# -- every published payload ------------------------------------------------------------------------------------------

DELIVERABLE = [
    ("customers__create_a_customer.json", "customer.created"),
    ("customers__retrieve_a_customer.json", "customer.updated"),
    ("customers__update_a_customer.json", "customer.updated"),
    ("customers__delete_a_customer.json", "customer.deleted"),
    ("products__create_a_product.json", "product.created"),
    ("products__create_a_product_2.json", "product.created"),
    ("products__retrieve_a_product.json", "product.updated"),
    ("products__update_a_product.json", "product.updated"),
    ("products__delete_a_product.json", "product.deleted"),
    ("orders__create_an_order.json", "order.created"),
    ("orders__retrieve_an_order.json", "order.updated"),
    ("orders__update_an_order.json", "order.updated"),
    ("orders__delete_an_order.json", "order.deleted"),
    ("coupons__create_a_coupon.json", "coupon.created"),
    ("coupons__update_a_coupon.json", "coupon.updated"),
    ("order_notes__create_an_order_note.json", "action.woocommerce_new_customer_note"),
]
LISTS = [
    ("customers__list_all_customers.json", "customer.updated"),
    ("products__list_all_products.json", "product.updated"),
    ("orders__list_all_orders.json", "order.updated"),
]
BATCHES = [
    ("customers__batch_update_customers.json", "customer"),
    ("products__batch_update_products.json", "product"),
    ("orders__batch_update_orders.json", "order"),
    ("coupons__batch_update_coupons.json", "coupon"),
]


def test_every_published_payload_is_accepted_and_processed(shop):
    """Each object WooCommerce's documentation publishes, delivered under its topic: none is dead."""
    n = 0
    for name, topic in DELIVERABLE:
        n += 1
        send(shop, topic, None, raw=sample(f"woocommerce/{name}"), delivery=f"d{n}")
    for name, topic in LISTS:
        for item in load(name):
            n += 1
            send(shop, topic, item, delivery=f"d{n}")
    for name, resource in BATCHES:
        for event, items in load(name).items():
            topic = f"{resource}.{ {'create': 'created', 'update': 'updated', 'delete': 'deleted'}[event] }"
            for item in items:
                n += 1
                send(shop, topic, item, delivery=f"d{n}")
    assert process_all() == n == Delivery.objects.count()
    dead = list(Delivery.objects.filter(status=Delivery.Status.DEAD).values_list("topic", "error"))
    assert dead == []
    assert set(Delivery.objects.filter(topic__startswith="coupon.").values_list("status", flat=True)) == {"ignored"}
    assert Order.objects.filter(source=shop.source).count() == 4  # 727, 723, 728, 729
    assert set(Order.objects.values_list("external_id", flat=True)) == {"727", "723", "728", "729"}


# -- orders -----------------------------------------------------------------------------------------------------------


def test_a_guest_order_field_by_field(shop):
    payload = load("orders__retrieve_an_order.json")
    send(shop, "order.created", payload, delivery="a1")
    process_all()
    order = Order.objects.get(source=shop.source, external_id="727")
    assert order.number == payload["number"] == "727"
    assert order.currency == "USD"
    assert order.placed_at == dt.datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # date_created_gmt, read as UTC
    assert order.status == OrderStatus.PAID  # processing → paid (the import's WooCommerce statuses)
    assert order.total == Decimal("29.35") and order.shipping_total == Decimal("10.00")
    assert order.tax_total == Decimal("1.35") and order.discount_total == Decimal("0.00")
    assert order.subtotal == Decimal("18.00")
    assert order.sales_channel == "web" and order.utm_source == "" and order.discount_codes == []
    lines = sorted(order.lines.all(), key=lambda x: x.title)
    assert [(x.sku, x.title, x.quantity, x.unit_price, x.discount, x.tax, x.total) for x in lines] == [
        ("Bar3", "Ship Your Idea &ndash; Color: Black, Size: M Test", 1, Decimal("12.00"), 0, Decimal("0.90"),
         Decimal("12.90")),
        ("", "Woo Single #1", 2, Decimal("3.00"), 0, Decimal("0.45"), Decimal("6.45")),
    ]  # fmt: skip
    paid = order.status_changes.get(status=OrderStatus.PAID)
    assert paid.occurred_at == dt.datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)  # date_paid_gmt
    payment = order.payments.get()
    assert (payment.method, payment.provider) == ("bank_transfer", "woocommerce")  # bacs
    customer = order.customer
    assert (customer.email, customer.first_name, customer.last_name) == ("john.doe@example.com", "John", "Doe")
    assert (customer.city, customer.country) == ("San Francisco", "US")
    assert customer.phone == phone("(555) 555-5555", "US")
    # customer_id 0: a guest — no store id recorded for them
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID, source=shop.source).exists()


def test_a_completed_order_with_refunds_field_by_field(shop):
    payload = load("orders__list_all_orders.json")[1]
    send(shop, "order.updated", payload, delivery="a2")
    process_all()
    order = Order.objects.get(source=shop.source, external_id="723")
    assert order.status == OrderStatus.DELIVERED  # completed
    assert order.total == Decimal("39.00") and order.shipping_total == Decimal("10.00")
    assert order.status_changes.get(status=OrderStatus.DELIVERED).occurred_at == dt.datetime(
        2017, 3, 21, 19, 54, 51, tzinfo=UTC
    )  # date_completed_gmt
    refunds = {r.external_id: r for r in Refund.objects.filter(order=order)}
    assert {k: r.amount for k, r in refunds.items()} == {"726": Decimal("10.00"), "724": Decimal("9.00")}
    assert refunds["726"].occurred_at == dt.datetime(2017, 3, 21, 19, 54, 51, tzinfo=UTC)
    order.refresh_from_db()
    assert order.refunded_total == Decimal("19.00")
    assert identity(shop, "26") == order.customer
    assert order.customer.first_name == "João" and order.customer.email == "joao.silva@example.com"


def test_attribution_coupons_and_channel(shop):
    """The order attribution meta (WooCommerce 8.5+) and coupon lines, on the published order."""
    payload = load("orders__retrieve_an_order.json")
    payload["meta_data"] += [
        {"id": 1, "key": "_wc_order_attribution_source_type", "value": "utm"},
        {"id": 2, "key": "_wc_order_attribution_utm_source", "value": "newsletter"},
        {"id": 3, "key": "_wc_order_attribution_utm_medium", "value": "email"},
        {"id": 4, "key": "_wc_order_attribution_utm_campaign", "value": "kasim"},
    ]
    payload["coupon_lines"] = [{"id": 9, "code": "KASIM10", "discount": "0.00", "discount_tax": "0.00"}]
    payload["created_via"] = "pos"
    send(shop, "order.created", payload, delivery="a3")
    process_all()
    order = Order.objects.get(external_id="727")
    assert (order.utm_source, order.utm_medium, order.utm_campaign) == ("newsletter", "email", "kasim")
    assert order.discount_codes == ["KASIM10"] and order.sales_channel == "pos"


def test_shipment_tracking_ships_the_order(shop):
    """WooCommerce Shipment Tracking's parcels (its order meta) on the published order: shipped, with the parcel."""
    payload = load("orders__retrieve_an_order.json")
    parcel = {"tracking_provider": "yurtici-kargo", "custom_tracking_provider": "", "tracking_number": "YK123456789",
              "date_shipped": "1490300000", "tracking_id": "a1b2"}  # fmt: skip
    payload["meta_data"].append({"id": 5, "key": "_wc_shipment_tracking_items", "value": [parcel]})
    send(shop, "order.updated", payload, delivery="t1")
    process_all()
    order = Order.objects.get(external_id="727")
    assert order.status == OrderStatus.SHIPPED
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number) == ("yurtici-kargo", "YK123456789")
    assert shipment.shipped_at == dt.datetime.fromtimestamp(1490300000, UTC)


def test_a_refund_object_on_its_own(shop):
    send(shop, "order.updated", load("orders__delete_an_order.json") | {"id": 723, "refunds": []}, delivery="b0")
    for n, refund in enumerate(load("order_refunds__list_all_refunds.json")):
        send(shop, "order_refund.created", refund, delivery=f"b{n + 1}")
    process_all()
    assert not Delivery.objects.filter(status=Delivery.Status.DEAD).exists()
    refunds = {r.external_id: r for r in Refund.objects.filter(order__external_id="723")}
    assert refunds["726"].amount == Decimal("10.00")
    assert refunds["726"].occurred_at == dt.datetime(2017, 3, 21, 20, 7, 11, tzinfo=UTC)
    assert refunds["724"].amount == Decimal("9.00")
    assert refunds["724"].occurred_at == dt.datetime(2017, 3, 21, 19, 55, 37, tzinfo=UTC)


def test_order_deleted_cancels_what_can_still_be_cancelled(shop):
    send(shop, "order.created", load("orders__batch_update_orders.json")["create"][0], delivery="c1")  # 728 pending
    send(shop, "order.deleted", {"id": 728}, delivery="c2")
    process_all()
    assert Order.objects.get(external_id="728").status == OrderStatus.CANCELLED


def test_the_same_delivery_twice_is_stored_once_and_counted_once(shop):
    payload = load("orders__retrieve_an_order.json")
    assert send(shop, "order.created", payload, delivery="same").json()["status"] == "accepted"
    assert send(shop, "order.created", payload, delivery="same").json()["status"] == "duplicate"
    process_all()
    assert Delivery.objects.count() == 1 and Order.objects.count() == 1
    order = Order.objects.get()
    assert order.payments.count() == 1 and order.status_changes.count() == 2  # placed, paid: once each


def test_one_delivery_id_for_two_objects_keeps_both(shop):
    """WooCommerce's delivery id is a hash of the webhook and the second: two orders in one second share it."""
    first, second = load("orders__batch_update_orders.json")["create"]
    send(shop, "order.created", first, delivery="same-second")
    assert send(shop, "order.created", second, delivery="same-second").json()["status"] == "accepted"
    process_all()
    assert set(Order.objects.values_list("external_id", flat=True)) == {"728", "729"}


def test_an_older_update_after_a_newer_one_changes_nothing(shop):
    newer = load("orders__update_an_order.json")  # completed, modified 19:30:35
    older = load("orders__create_an_order.json")  # processing, modified 19:28:08
    send(shop, "order.updated", newer, delivery="n1")
    process_all()
    before = list(Order.objects.get().status_changes.values_list("status", "occurred_at"))
    send(shop, "order.updated", older, delivery="n0")
    process_all()
    order = Order.objects.get()
    assert order.status == OrderStatus.DELIVERED
    assert list(order.status_changes.values_list("status", "occurred_at")) == before
    assert SyncState.objects.get(kind="order", external_id="727").updated_at == dt.datetime(
        2017, 3, 22, 19, 30, 35, tzinfo=UTC
    )
    assert Delivery.objects.get(delivery_id__contains=":n0:").result["counts"] == {"orders": {"ignored": 1}}


def test_a_retry_of_a_delivery_changes_nothing(shop):
    payload = load("orders__list_all_orders.json")[1]
    send(shop, "order.updated", payload, delivery="r1")
    send(shop, "order.updated", payload, delivery="r2")  # WooCommerce sent it again under a new id
    process_all()
    assert Order.objects.count() == 1 and Refund.objects.count() == 2
    assert Order.objects.get().status_changes.count() == 3  # placed, paid, delivered: once each


# -- customers and products -------------------------------------------------------------------------------------------


def test_customers_field_by_field_and_deleted(shop):
    for n, item in enumerate(load("customers__list_all_customers.json")):
        send(shop, "customer.updated", item, delivery=f"k{n}")
    process_all()
    joao, john = identity(shop, "26"), identity(shop, "25")
    assert (joao.email, joao.first_name, joao.last_name, joao.city, joao.country) == (
        "joao.silva@example.com", "João", "Silva", "Rio de Janeiro", "BR")  # fmt: skip
    assert joao.phone == phone("(55) 5555-5555", "BR")
    assert (john.email, john.first_name, john.city, john.country) == ("john.doe@example.com", "John",
                                                                      "San Francisco", "US")  # fmt: skip
    send(shop, "customer.deleted", {"id": 25}, delivery="k-del")
    process_all()
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID, source=shop.source, value="25").exists()
    assert Customer.objects.filter(pk=john.pk).exists()  # the profile stays


def test_products_field_by_field(shop):
    simple = load("products__retrieve_a_product.json")
    send(shop, "product.created", simple, delivery="p1")
    on_sale = dict(simple, id=795, sku="PQ-RED", sale_price="19.99", regular_price="21.99", manage_stock=True,
                   stock_quantity=7, date_modified_gmt="2017-03-23T20:05:00")  # fmt: skip
    send(shop, "product.created", on_sale, delivery="p2")
    variable = load("products__list_all_products.json")[0]  # variations named by id only
    send(shop, "product.updated", variable, delivery="p3")
    variation = {
        "id": 800,
        "parent_id": 799,
        "sku": "SYI-BLK-M",
        "regular_price": "25.00",
        "sale_price": "",
        "price": "25.00",
        "status": "publish",
        "manage_stock": True,
        "stock_quantity": 3,
        "attributes": [{"id": 1, "name": "Color", "option": "Black"}, {"id": 0, "name": "Size", "option": "M"}],
    }
    send(shop, "product.updated", variation, delivery="p4")
    process_all()
    assert not Delivery.objects.filter(status=Delivery.Status.DEAD).exists()
    product = Product.objects.get(source=shop.source, external_id="794")
    assert product.title == "Premium Quality" and product.is_active
    (variant,) = product.variants.all()
    assert (variant.sku, variant.price, variant.compare_at_price, variant.currency, variant.external_id) == (
        f"{shop.source.key}-794", Decimal("21.99"), None, shop.source.currency, "794")  # fmt: skip
    sale = Variant.objects.get(sku="PQ-RED")
    assert (sale.price, sale.compare_at_price, sale.stock.quantity) == (Decimal("19.99"), Decimal("21.99"), 7)
    assert Delivery.objects.get(delivery_id__contains=":p3:").status == Delivery.Status.DONE
    parent = Product.objects.get(source=shop.source, external_id="799")
    (black,) = parent.variants.all()
    assert (black.sku, black.title, black.price, black.stock.quantity) == (
        "SYI-BLK-M",
        "Black / M",
        Decimal("25.00"),
        3,
    )
    send(shop, "product.updated", variable, delivery="p5")  # the parent again (newer): its title, its variant kept
    send(shop, "product.deleted", {"id": 794}, delivery="p6")
    process_all()
    assert not Product.objects.get(external_id="794").is_active


# -- refusals ---------------------------------------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_nothing_stored(shop):
    body = sample("woocommerce/orders__retrieve_an_order.json")
    wrong = headers("order.created", body, delivery="x", secret="not-the-secret")
    response = deliver(shop, body, wrong)
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    unsigned = {k: v for k, v in wrong.items() if k != "X-WC-Webhook-Signature"}
    assert deliver(shop, body, unsigned).status_code == 401
    assert not Delivery.objects.exists()


def test_the_ping_of_a_new_webhook_is_answered_and_nothing_stored(shop):
    response = deliver(shop, b"webhook_id=31", {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json() == {"status": "ping"}
    assert not Delivery.objects.exists()


def test_malformed_json_is_refused(shop):
    body = b'{"id": 727, "status": '
    response = deliver(shop, body, headers("order.created", body, delivery="m"))
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"line_items": None},
        {"currency": ""},
        {"date_created_gmt": None},
        {"date_created_gmt": "yesterday"},
        {"total": "lots"},
    ],
)
def test_an_order_missing_what_it_needs_is_dead_and_nothing_written(shop, change):
    payload = load("orders__retrieve_an_order.json") | change
    send(shop, "order.created", payload, delivery="bad")
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and "could not be read" in delivery.error
    assert not Order.objects.exists() and not Customer.objects.exists() and not SyncState.objects.exists()


def test_a_bad_line_is_dead_and_nothing_written(shop):
    payload = load("orders__retrieve_an_order.json")
    payload["line_items"][1]["quantity"] = 0
    send(shop, "order.created", payload, delivery="bad-line")
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and "quantity" in delivery.error
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_a_refund_before_its_order_waits_for_it(shop):
    send(shop, "order_refund.created", load("order_refunds__retrieve_a_refund.json"), delivery="early")
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING and "723" in delivery.error
    assert not Refund.objects.exists()
