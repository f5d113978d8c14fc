"""OpenCart 4 against a real MariaDB shop database (conftest.py, shopdb.py): the backfill and the poll write the shop's
customers, consent, products and orders into Kervan, field by field; the poll reads only what changed, moves an
order forward when its history does, and a second poll changes nothing; the credential check says what is wrong."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog.models import Product, Variant
from kervan.core import http
from kervan.core.errors import KervanError
from kervan.core.testing import free_port
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.events.models import Event
from kervan.integrations import actions, backfill, sync
from kervan.integrations.models import Backfill, Connection
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.opencart import PLATFORM, client
from kervan.integrations.platforms.opencart.tests.conftest import history
from kervan.integrations.testing import connection_make
from kervan.orders.models import Order, OrderStatusChange, Refund

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Europe/Istanbul")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=IST)


def connect(shop, **extra) -> Connection:
    return connection_make(
        "opencart", name="Anadolu Çarşı", base_url="https://carsi.example.com.tr",
        credentials={**shop.credentials, **extra},
    )  # fmt: skip


def identity(connection, external_id: str) -> Customer:
    return Identity.objects.get(kind=Identity.Kind.SOURCE_ID, source=connection.source, value=external_id).customer


def assert_shop_written(connection: Connection, *, history_import: bool = False) -> None:
    """Everything conftest.seed put in the shop, as Kervan keeps it. A backfill writes new orders through the history
    import's bulk path (kervan.integrations.history), whose file has no shipped/delivered times, payment methods or
    refund ids: those are compared for the poll's path only (reported to the lead)."""
    source = connection.source
    ayse, mehmet = identity(connection, "1"), identity(connection, "2")
    assert (ayse.first_name, ayse.last_name, ayse.email, ayse.phone) == (
        "Ayşe", "Yılmaz", "ayse.yilmaz@example.com.tr", "+905321112233")  # fmt: skip
    assert (mehmet.first_name, mehmet.last_name, mehmet.email, mehmet.phone) == (
        "Mehmet", "Öztürk", "mehmet.ozturk@example.com", "+905332223344")  # fmt: skip
    consents = {
        r.customer_id: r for r in ConsentRecord.objects.filter(source="OpenCart: Anadolu Çarşı", channel="email")
    }
    assert len(consents) == 2
    assert (consents[ayse.pk].status, consents[ayse.pk].occurred_at) == ("granted", at("2026-10-01T12:00:00"))
    assert consents[ayse.pk].proof == "OpenCart customer 1: newsletter=1"
    assert (consents[mehmet.pk].status, consents[mehmet.pk].occurred_at) == ("refused", at("2026-10-20T08:30:00"))

    products = {p.external_id: p for p in Product.objects.filter(source=source)}
    assert {k: (p.title, p.is_active) for k, p in products.items()} == {
        "40": ("Bakır Cezve", True), "41": ("Türk Kahvesi 250 g", True), "42": ("Eski Fincan", False)}  # fmt: skip
    # Stock is not compared here: Kervan's order actions take (and a cancellation puts back) stock for the history
    # orders written after the products, on top of OpenCart's count that already holds them (reported to the lead).
    # The shop's count is asserted where a product update sets it (test_poll_reads_what_changed...).
    variants = {v.sku: v for v in Variant.objects.filter(product__source=source)}
    assert {s: (v.price, v.currency, v.external_id, v.title) for s, v in variants.items()} == {
        "CZV-01": (Decimal("450.00"), "TRY", "40", ""),
        "TK-250": (Decimal("120.00"), "TRY", "41", ""),
        "FNC-OLD": (Decimal("75.00"), "TRY", "42", ""),
    }

    orders = {o.external_id: o for o in Order.objects.filter(source=source)}
    assert sorted(orders) == ["1001", "1002", "1003", "1004"]  # 1005 is an unconfirmed checkout, not an order

    first = orders["1001"]
    assert (first.number, first.customer_id, first.currency, first.status) == ("1001", ayse.pk, "TRY", "delivered")
    assert (first.subtotal, first.discount_total, first.tax_total, first.shipping_total, first.total) == (
        Decimal("1260.00"), Decimal("50.00"), Decimal("252.00"), Decimal("49.90"), Decimal("1511.90"))  # fmt: skip
    assert (first.discount_codes, first.utm_campaign, first.placed_at) == (
        ["YAZ50"], "ekim-bulteni", at("2026-11-02T14:05:00"))  # fmt: skip
    lines = [(x.sku, x.title, x.quantity, x.unit_price, x.discount, x.tax, x.total) for x in first.lines.order_by("id")]
    assert lines == [
        ("CZV-01", "Bakır Cezve", 2, Decimal("450.00"), Decimal("35.71"), Decimal("180.00"), Decimal("1044.29")),
        ("TK-250", "Türk Kahvesi 250 g", 3, Decimal("120.00"), Decimal("14.29"), Decimal("72.00"), Decimal("417.71")),
    ]
    if not history_import:
        assert [(c.status, c.occurred_at) for c in first.status_changes.all()] == [  # the times of its history
            ("placed", at("2026-11-02T14:05:00")), ("paid", at("2026-11-02T14:07:00")),
            ("delivered", at("2026-11-05T16:30:00"))]  # fmt: skip
        assert [(p.method, p.amount, p.currency) for p in first.payments.all()] == [("cod", Decimal("1511.90"), "TRY")]

    guest = orders["1002"]  # customer_id 0: known by the email, in the currency the guest paid in
    assert (guest.customer.email, guest.customer.first_name, guest.customer.last_name) == (
        "zeynep.kaya@example.net", "Zeynep", "Kaya")  # fmt: skip
    assert not Identity.objects.filter(kind=Identity.Kind.SOURCE_ID, customer=guest.customer).exists()
    assert (guest.currency, guest.status, guest.shipping_total, guest.total) == (
        "EUR", "paid", Decimal("1.71"), Decimal("5.81"))  # fmt: skip
    assert [(x.sku, x.quantity, x.unit_price, x.tax) for x in guest.lines.all()] == [
        ("TK-250", 1, Decimal("3.42"), Decimal("0.68"))]  # fmt: skip
    assert [(c.status, c.occurred_at) for c in guest.status_changes.all()] == [
        ("placed", at("2026-11-10T09:00:00")), ("paid", at("2026-11-10T09:02:00"))]  # fmt: skip
    if not history_import:
        payment = guest.payments.get()
        assert (payment.method, payment.provider, payment.occurred_at) == (
            "bank_transfer", "opencart", at("2026-11-10T09:02:00"))  # fmt: skip

    cancelled = orders["1003"]
    assert (cancelled.customer_id, cancelled.status, cancelled.total) == (mehmet.pk, "cancelled", Decimal("540.00"))
    assert [(c.status, c.occurred_at) for c in cancelled.status_changes.all()] == [
        ("placed", at("2026-11-12T11:00:00")), ("cancelled", at("2026-11-12T18:20:00"))]  # fmt: skip

    refunded = orders["1004"]  # OpenCart's "Refunded": paid, then the whole amount back
    assert (refunded.customer_id, refunded.status, refunded.refunded_total) == (ayse.pk, "paid", Decimal("144.00"))
    assert [(c.status, c.occurred_at) for c in refunded.status_changes.all()] == [
        ("placed", at("2026-11-15T10:00:00")), ("paid", at("2026-11-15T10:01:00"))]  # fmt: skip
    refund = Refund.objects.get(order=refunded)
    assert (refund.amount, refund.currency, refund.note, refund.occurred_at) == (
        Decimal("144.00"), "TRY", "Ürün hasarlı geldi", at("2026-11-18T12:00:00"))  # fmt: skip
    assert refund.external_id == "1004-refunded"  # the backfill keeps the store's refund ids too


def kervan_state(connection) -> dict:
    source = connection.source
    return {
        "customers": Customer.objects.count(),
        "orders": list(
            Order.objects.filter(source=source)
            .values_list("external_id", "status", "total", "refunded_total")
            .order_by("id")
        ),  # noqa: E501
        "status_changes": OrderStatusChange.objects.filter(order__source=source).count(),
        "consents": list(ConsentRecord.objects.values_list("customer_id", "status", "occurred_at").order_by("id")),
        "events": Event.objects.count(),
        "variants": list(Variant.objects.values_list("sku", "price", "stock__quantity").order_by("sku")),
        "refunds": Refund.objects.count(),
    }


def test_backfill_pages_through_the_shop_by_primary_key(shop, monkeypatch):
    monkeypatch.setattr(PLATFORM, "page_size", 2)  # the paging, with a shop of a few rows
    connection = connect(shop)
    run = actions.backfill_start(actor=Actor.system(), connection=connection)
    assert run.kinds == ["customers", "products", "orders"]
    for _ in range(20):
        backfill.backfills_run(budget=5)
        run.refresh_from_db()
        if run.status == Backfill.Status.DONE:
            break
    assert (run.status, run.error) == (Backfill.Status.DONE, "")
    assert run.totals == {"customers": 2, "products": 3, "orders": 5}
    assert {kind: counts["read"] for kind, counts in run.counts.items()} == {
        "customers": 4, "products": 3, "orders": 4}  # customers + consents; no unconfirmed checkout  # fmt: skip
    assert_shop_written(connection, history_import=True)
    assert not Event.objects.filter(name="Started Checkout").exists()  # a backfill does not chase old carts


def test_fetch_and_sync_write_every_field(shop, monkeypatch):
    """Every page of fetch() through sync.apply (the path of orders Kervan already has, and of the poll): the
    history's status times, payment methods and refund ids too."""
    monkeypatch.setattr(PLATFORM, "page_size", 2)
    connection = connect(shop)
    for kind in PLATFORM.backfill_kinds:
        cursor = None
        for _ in range(10):
            page = PLATFORM.fetch(connection, kind, cursor)
            sync.apply(connection, page.records)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert_shop_written(connection)
    assert not Event.objects.filter(name="Started Checkout").exists()


def run_backfill(connection) -> Backfill:
    run = actions.backfill_start(actor=Actor.system(), connection=connection)
    for _ in range(20):
        backfill.backfills_run(budget=5)
        run.refresh_from_db()
        if run.status == Backfill.Status.DONE:
            return run
    raise AssertionError(f"the backfill did not finish: {run.status} {run.error}")


def test_poll_reads_what_changed_and_moves_orders_forward(shop, monkeypatch, clock):
    monkeypatch.setattr(PLATFORM, "page_size", 3)
    connection = connect(shop)
    run_backfill(connection)
    backfilled = kervan_state(connection)
    # The first poll starts from now: the history is the backfill's; only the checkout of an hour ago (1005) is
    # new, then the sweep re-reads the 2 customers (and their consent, unchanged).
    written = backfill.connection_poll(connection)
    connection.refresh_from_db()
    assert (written, connection.poll_error) == (1 + 2 * 2, "")
    two_days_ago = (clock.now().astimezone(IST) - dt.timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    assert connection.poll_cursor["customers"] == [2]
    assert connection.poll_cursor["products"] == [two_days_ago.isoformat(), 0]
    assert connection.poll_cursor["orders"][1] == 1005
    checkout = Event.objects.get(name="Started Checkout")  # Mehmet's unconfirmed checkout of an hour ago
    assert (checkout.customer_id, checkout.properties["value"], checkout.properties["currency"]) == (
        identity(connection, "2").pk, "540.00", "TRY")  # fmt: skip
    assert checkout.properties["items"] == [{"sku": "CZV-01", "title": "Bakır Cezve", "quantity": 1, "price": "450.00",
                                             "product_id": "40", "variant_id": ""}]  # fmt: skip
    assert checkout.properties["recovery_url"] == "https://carsi.example.com.tr/index.php?route=checkout/cart"
    polled = kervan_state(connection)
    assert polled.pop("events") == backfilled.pop("events") + 1
    assert polled == backfilled

    before = kervan_state(connection)
    assert backfill.connection_poll(connection) == 0  # nothing changed: nothing read, nothing written
    clock.advance(dt.timedelta(minutes=5))
    backfill.connection_poll(connection)  # the sweep re-reads the customers: their state is what Kervan has
    assert kervan_state(connection) == before

    # The shop moves on: 1002 is shipped (a history row, the order's status and date), Mehmet subscribes, a new
    # customer signs up, a price changes, and two orders are modified in the same second (ties in the cursor).
    shipped = (clock.now().astimezone(IST) - dt.timedelta(minutes=1)).replace(tzinfo=None, microsecond=0)
    history(shop, 1002, [(3, shipped.isoformat(" "), "Aras Kargo ile gönderildi")])
    shop.sql("UPDATE oc_order SET order_status_id = 3, date_modified = %s WHERE order_id IN (1002, 1003)", (shipped,))
    shop.sql("UPDATE oc_customer SET newsletter = 1 WHERE customer_id = 2")
    shop.sql("UPDATE oc_product SET price = 475, quantity = 9, date_modified = %s WHERE product_id = 40", (shipped,))
    from kervan.integrations.platforms.opencart.tests.conftest import AYSE

    shop.insert("customer", [{**AYSE, "customer_id": 3, "firstname": "Elif", "lastname": "Demir",
                              "email": "elif.demir@example.org", "telephone": "", "newsletter": 1,
                              "date_added": "2026-11-20 10:00:00"}])  # fmt: skip
    page = PLATFORM.poll(connection, connection.poll_cursor)
    kinds = sorted(type(r).__name__ for r in page.records)
    assert kinds == ["ConsentChange", "StoreCustomer", "StoreOrder", "StoreOrder", "StoreProduct"]  # only the changes
    backfill.connection_poll(connection)
    guest = Order.objects.get(source=connection.source, external_id="1002")
    assert guest.status == "shipped"
    assert guest.status_changes.last().occurred_at == shipped.replace(tzinfo=IST)
    assert Order.objects.get(source=connection.source, external_id="1003").status == "cancelled"  # never backwards
    assert Variant.objects.get(sku="CZV-01").price == Decimal("475.00")
    assert Variant.objects.get(sku="CZV-01").stock.quantity == 9
    elif_ = identity(connection, "3")
    assert ConsentRecord.objects.get(customer=elif_).status == "granted"
    mehmet = identity(connection, "2")
    assert ConsentRecord.objects.filter(customer=mehmet).count() == 1  # the sweep has not come round yet
    clock.advance(dt.timedelta(minutes=5))
    backfill.connection_poll(connection)  # the sweep sees Mehmet's newsletter box
    change = ConsentRecord.objects.filter(customer=mehmet).order_by("id").last()
    assert (change.status, change.occurred_at) == ("granted", clock.now())
    mehmet.refresh_from_db()
    assert mehmet.consent_email == "granted"

    after = kervan_state(connection)
    clock.advance(dt.timedelta(minutes=5))
    backfill.connection_poll(connection)
    backfill.connection_poll(connection)
    assert kervan_state(connection) == after  # re-polls change nothing


def test_cursor_keeps_rows_modified_in_the_same_second(shop, monkeypatch):
    monkeypatch.setattr(PLATFORM, "page_size", 1)
    shop.sql("UPDATE oc_order SET date_modified = '2026-11-20 09:00:00'")  # all five in one second
    connection = connect(shop)
    seen, cursor = [], {"customers": [2], "products": ["2026-11-01T00:00:00", 0], "orders": ["2026-11-01T00:00:00", 0]}
    for _ in range(20):
        page = PLATFORM.poll(connection, cursor)
        seen += [r.external_id for r in page.records if type(r).__name__ == "StoreOrder"]
        if page.next_cursor == cursor:
            break
        cursor = page.next_cursor
    assert seen == ["1001", "1002", "1003", "1004"]
    assert cursor["orders"] == ["2026-11-20T09:00:00", 1005]


def test_backfill_waits_out_a_refusal_and_resumes_from_its_cursor(shop, monkeypatch, clock):
    """Mid-way the server refuses the user for a while (its hourly query limit, a retryable refusal): the step is
    put off with its cursor kept, and later goes on from there; nothing is written twice."""
    from kervan.core.claim import claim_due

    monkeypatch.setattr(PLATFORM, "page_size", 2)
    monkeypatch.setattr(backfill, "STEP_RECORDS", 2)  # a step per page, so the failure falls between steps
    connection = connect(shop)
    run = actions.backfill_start(actor=Actor.system(), connection=connection)

    def claim() -> Backfill | None:
        claimed = claim_due(Backfill.objects.filter(pk=run.pk), worker="test", limit=1)
        return claimed[0] if claimed else None

    held = claim()
    assert backfill.backfill_page(held) == "written"
    assert (held.kind, held.cursor) == ("customers", {"after": 2})
    shop.sql(f"ALTER USER '{shop.user}'@'%' WITH MAX_QUERIES_PER_HOUR 1")
    assert backfill.backfill_page(held) == "waiting"
    run.refresh_from_db()
    assert (run.kind, run.cursor, run.retries) == ("customers", {"after": 2}, 1)
    assert "max_queries_per_hour" in run.error
    assert claim() is None  # put off, not hammered
    shop.sql(f"ALTER USER '{shop.user}'@'%' WITH MAX_QUERIES_PER_HOUR 0")
    shop.sql("FLUSH USER_RESOURCES")
    clock.advance(dt.timedelta(hours=1))
    held = claim()
    for _ in range(20):
        if backfill.backfill_page(held) == "done":
            break
    run.refresh_from_db()
    assert (run.status, run.retries, run.error) == (Backfill.Status.DONE, 0, "")
    assert run.counts["customers"]["read"] == 4  # the page that failed was read once it worked, not twice
    assert_shop_written(connection, history_import=True)


def test_status_names_in_the_shops_language_and_one_store(shop):
    """Statuses are read by their name in the connection's language (a renamed status by its word), and a store id
    limits the orders and products to that store."""
    shop.insert("order_status", [
        {"order_status_id": 1, "language_id": 2, "name": "Beklemede"},
        {"order_status_id": 2, "language_id": 2, "name": "Kargoda"},  # the shop renamed "Processing"
        {"order_status_id": 5, "language_id": 2, "name": "Tamamlandı"},
        {"order_status_id": 7, "language_id": 2, "name": "İptal Edildi"},
        {"order_status_id": 11, "language_id": 2, "name": "Para İadesi"},
    ])  # fmt: skip
    page = PLATFORM.fetch(connect(shop, language_id="2"), "orders", None)
    statuses = {r.external_id: r.status for r in page.records}
    assert statuses == {"1001": "delivered", "1002": "shipped", "1003": "cancelled", "1004": "paid"}

    shop.sql("UPDATE oc_order SET store_id = 1 WHERE order_id = 1003")
    shop.insert("product_to_store", [{"product_id": 40, "store_id": 1}, {"product_id": 41, "store_id": 0}])
    shop.sql("UPDATE oc_customer SET store_id = 1 WHERE customer_id = 2")
    store = connect(shop, store_id="1")
    records = [r for kind in PLATFORM.backfill_kinds for r in PLATFORM.fetch(store, kind, None).records]
    assert [(type(r).__name__, getattr(r, "external_id", "")) for r in records] == [
        ("StoreCustomer", "2"), ("ConsentChange", ""), ("StoreProduct", "40"), ("StoreOrder", "1003")]  # fmt: skip


def test_check_names_the_shop_or_what_is_wrong(shop):
    assert PLATFORM.check(connect(shop)) == "Anadolu Çarşı"
    with pytest.raises(CheckFailed, match=f"MariaDB refused user {shop.user}"):
        PLATFORM.check(connect(shop, password="yanlış-parola"))
    with pytest.raises(CheckFailed, match="There are no OpenCart 4 tables with prefix shop_ in database"):
        PLATFORM.check(connect(shop, table_prefix="shop_"))
    with pytest.raises(
        CheckFailed, match=f"The database server at 127.0.0.1:{(port := free_port())} cannot be reached"
    ):  # noqa: E501
        PLATFORM.check(connect(shop, port=str(port)))
    with pytest.raises(CheckFailed, match="Mars/Olympus is not a time zone"):
        PLATFORM.check(connect(shop, time_zone="Mars/Olympus"))
    with pytest.raises(CheckFailed, match="table prefix may hold only"):
        PLATFORM.check(connect(shop, table_prefix="oc_`; DROP"))


def test_connect_form_refuses_wrong_password_and_saves_nothing(shop):
    with pytest.raises(KervanError) as refused:
        actions.connection_create(actor=Actor.system(), platform="opencart", name="Anadolu Çarşı",
                                  credentials={**shop.credentials, "password": "yanlış"})  # fmt: skip
    assert refused.value.code == "connection_check_failed"
    assert "MariaDB refused user" in refused.value.detail
    assert not Connection.objects.exists()
    made = actions.connection_create(actor=Actor.system(), platform="opencart", name="Anadolu Çarşı",
                                     credentials={**shop.credentials, "port": "", "table_prefix": ""})  # fmt: skip
    assert (made.base_url, made.credentials["password"], made.source.kind) == ("", shop.password, "opencart")
    assert (made.credentials["port"], made.credentials["table_prefix"]) == ("", "")  # 3306 and oc_ when read


def test_reads_never_write(shop):
    connection = connect(shop)
    with pytest.raises(http.HttpError, match="UPDATE command denied"), client.reading(connection) as reader:
        reader.rows("UPDATE oc_order SET total = 0")
    with client.reading(connection) as reader:
        assert reader.rows("SELECT SUM(total) AS s FROM oc_order")[0]["s"] == Decimal("2939.9000")


def test_poll_failure_is_kept_on_the_connection(shop):
    connection = connect(shop, password="yanlış")
    assert backfill.connection_poll(connection) == 0
    connection.refresh_from_db()
    assert "MariaDB refused user" in connection.poll_error
    assert connection.poll_cursor == {}


def test_nothing_posted_to_an_opencart_connection_is_taken():
    """OpenCart sends no webhooks: whatever is posted to the connection's address is refused and not stored."""
    from kervan.integrations.models import Delivery
    from kervan.integrations.testing import deliver

    connection = connection_make("opencart", credentials={"host": "127.0.0.1", "database": "shop", "user": "kervan"})
    answer = deliver(connection, b'{"order_id": 1}', {"X-Signature": "anything"})
    assert (answer.status_code, answer.json()["code"]) == (401, "bad_signature")
    assert not Delivery.objects.exists()
