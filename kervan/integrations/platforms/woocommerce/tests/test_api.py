"""The WooCommerce REST API against a real HTTP server on loopback: the backfill's page/X-WP-TotalPages paging with a
429 (Retry-After) and a failure mid-way resumed from the saved cursor without duplicates, variable products' variations,
and the credential check."""

import base64
import datetime as dt
import json
from decimal import Decimal

import pytest

from kervan.catalog.models import Product, Variant
from kervan.core.errors import KervanError
from kervan.core.testing import LoopbackSite, free_port
from kervan.customers.models import Identity
from kervan.integrations.actions import backfill_start, connection_create
from kervan.integrations.backfill import backfill_page, backfills_run
from kervan.integrations.models import Backfill, Connection
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.woocommerce import PLATFORM
from kervan.integrations.testing import connection_make, needs_samples, sample
from kervan.orders.models import Order, Refund

pytestmark = [needs_samples, pytest.mark.django_db]
KEYS = {"consumer_key": "ck_live", "consumer_secret": "cs_live", "webhook_secret": "s"}


def load(name: str):
    return json.loads(sample(f"woocommerce/{name}"))


def path(resource: str, page: int) -> str:
    return f"/wp-json/wc/v3/{resource}?per_page=100&page={page}&orderby=id&order=asc"


def listing(items: list, *, total: int, pages: int) -> tuple:
    return 200, json.dumps(items).encode(), {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}


@pytest.fixture
def site():
    customers = load("customers__list_all_customers.json")
    batch = load("customers__batch_update_customers.json")["create"]
    orders = load("orders__list_all_orders.json")
    created = load("orders__batch_update_orders.json")["create"]
    variable, simple = load("products__list_all_products.json")
    variable["variations"] = [800]
    variation = {
        "id": 800,
        "sku": "SYI-BLK",
        "regular_price": "25.00",
        "sale_price": "20.00",
        "status": "publish",  # fmt: skip
        "manage_stock": True,
        "stock_quantity": 4,
        "attributes": [{"id": 1, "name": "Color", "option": "Black"}],
    }
    pages = {
        path("customers", 1): listing(customers, total=4, pages=2),
        path("customers", 2): listing(batch, total=4, pages=2),
        path("products", 1): listing([variable, simple], total=2, pages=1),
        path("products/799/variations", 1): listing([variation], total=1, pages=1),
        path("orders", 1): listing(orders[:1], total=4, pages=3),
        path("orders", 2): listing(orders[1:], total=4, pages=3),
        path("orders", 3): listing(created, total=4, pages=3),
        "/wp-json/wc/v3/system_status": (
            200,
            json.dumps({"environment": {"site_url": "https://shop.example"}}).encode(),
        ),
    }
    with LoopbackSite(pages) as running:
        yield running


def _claimed(backfill: Backfill) -> Backfill:
    from kervan.core.claim import claim_due

    (row,) = claim_due(Backfill.objects.filter(pk=backfill.pk), worker="test")
    return row


def test_a_backfill_pages_through_customers_products_and_orders(site, admin_actor, clock):
    shop = connection_make("woocommerce", base_url=site.url, credentials=KEYS)
    site.once[path("orders", 2)] = [(429, b"slow down", {"Retry-After": "3"})]
    backfill = backfill_start(actor=admin_actor, connection=shop)
    started = clock.now()
    backfills_run(budget=60)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE, backfill.error
    assert backfill.totals == {"customers": 4, "products": 2, "orders": 4}
    assert backfill.counts["orders"]["read"] == 4 and backfill.counts["customers"]["read"] == 4
    assert clock.now() - started >= dt.timedelta(seconds=3)  # the Retry-After was waited out
    assert site.asked.count(path("orders", 2)) == 2
    # Basic auth with the REST API key, on every call
    expected = "Basic " + base64.b64encode(b"ck_live:cs_live").decode()
    assert {h.get("Authorization") for h in site.asked_headers} == {expected}
    assert sorted(Order.objects.filter(source=shop.source).values_list("external_id", flat=True)) == [
        "723", "727", "728", "729"]  # fmt: skip
    assert Order.objects.get(external_id="723").refunded_total == Decimal("19.00")  # refunds 726 (10.00), 724 (9.00)
    assert set(Identity.objects.filter(kind="source_id", source=shop.source).values_list("value", flat=True)) == {
        "25", "26", "27", "28"}  # fmt: skip
    variable = Product.objects.get(source=shop.source, external_id="799")
    (black,) = variable.variants.all()
    assert (black.sku, black.title, black.price, black.compare_at_price, black.stock.quantity) == (
        "SYI-BLK", "Black", Decimal("20.00"), Decimal("25.00"), 4)  # fmt: skip
    assert variable.title == "Ship Your Idea"
    assert Variant.objects.get(product__external_id="794").price == Decimal("21.99")


def test_backfilled_refunds_keep_their_ids_so_a_later_webhook_adds_none(site, admin_actor, clock):
    shop = connection_make("woocommerce", base_url=site.url, credentials=KEYS)
    backfill_start(actor=admin_actor, connection=shop, kinds=["orders"])
    backfills_run(budget=60)
    assert {r.external_id: r.amount for r in Refund.objects.all()} == {"726": Decimal("10.00"), "724": Decimal("9.00")}


def test_a_failure_midway_resumes_from_the_saved_cursor_without_duplicates(site, admin_actor, clock, monkeypatch):
    monkeypatch.setattr("kervan.integrations.backfill.STEP_RECORDS", 1)  # write (and save the cursor) page by page
    shop = connection_make("woocommerce", base_url=site.url, credentials=KEYS)
    site.once[path("orders", 2)] = [(503, b"down", {})] * 10  # more than one call's own retries
    backfill = backfill_start(actor=admin_actor, connection=shop, kinds=["orders"])
    row = _claimed(backfill)
    assert backfill_page(row) == "written"
    assert backfill_page(row) == "waiting"
    row.refresh_from_db()
    assert row.cursor == {"page": 2} and row.retries == 1 and "503" in row.error
    assert list(Order.objects.values_list("external_id", flat=True)) == ["727"]
    site.once.clear()
    clock.advance(dt.timedelta(hours=1))
    backfills_run(budget=60)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and row.retries == 0 and row.error == ""
    assert Order.objects.count() == 4 and Refund.objects.count() == 2
    assert site.asked.count(path("orders", 1)) == 1  # the written page was not read again


def test_a_backfill_resumes_after_the_server_went_away(admin_actor, clock):
    orders = load("orders__list_all_orders.json")
    port = free_port()
    shop = connection_make("woocommerce", base_url=f"http://127.0.0.1:{port}", credentials=KEYS)
    backfill = backfill_start(actor=admin_actor, connection=shop, kinds=["orders"])
    row = _claimed(backfill)
    assert backfill_page(row) == "waiting"  # nothing listens there
    row.refresh_from_db()
    assert row.cursor is None and row.retries == 1 and "could not connect" in row.error
    site = LoopbackSite({path("orders", 1): listing(orders, total=2, pages=1)})
    shop.base_url = site.url
    shop.save()
    with site:
        clock.advance(dt.timedelta(hours=1))
        backfills_run(budget=60)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and Order.objects.count() == 2


def test_an_unreadable_object_stops_the_backfill_with_the_reason(admin_actor, clock):
    broken = load("orders__list_all_orders.json")
    broken[1]["date_created_gmt"] = "not a date"
    with LoopbackSite({path("orders", 1): listing(broken, total=2, pages=1)}) as site:
        shop = connection_make("woocommerce", base_url=site.url, credentials=KEYS)
        row = _claimed(backfill_start(actor=admin_actor, connection=shop, kinds=["orders"]))
        assert backfill_page(row) == "failed"
    row.refresh_from_db()
    assert "date_created_gmt" in row.error and Order.objects.count() == 0


# -- check ------------------------------------------------------------------------------------------------------------


def test_check_returns_the_site_and_a_connection_is_created(site, admin_actor):
    shop = Connection(platform="woocommerce", base_url=site.url)
    shop.credentials = KEYS
    assert PLATFORM.check(shop) == "https://shop.example"
    created = connection_create(actor=admin_actor, platform="woocommerce", name="Woo", base_url=site.url,
                                credentials=KEYS)  # fmt: skip
    assert created.checked_at is not None and created.credentials == KEYS


def test_wrong_credentials_fail_the_check_clearly(admin_actor):
    refusal = json.dumps({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."})
    with LoopbackSite({"/wp-json/wc/v3/system_status": (401, refusal.encode())}) as site:
        shop = Connection(platform="woocommerce", base_url=site.url)
        shop.credentials = KEYS
        with pytest.raises(CheckFailed, match="refused the consumer key and secret"):
            PLATFORM.check(shop)
        with pytest.raises(KervanError) as refused:
            connection_create(
                actor=admin_actor, platform="woocommerce", name="Woo", base_url=site.url, credentials=KEYS
            )
    assert refused.value.code == "connection_check_failed" and not Connection.objects.exists()


def test_not_a_woocommerce_site_and_unreachable(clock):
    with LoopbackSite({}) as site:
        shop = Connection(platform="woocommerce", base_url=site.url)
        shop.credentials = KEYS
        with pytest.raises(CheckFailed, match="does not answer as a WooCommerce shop"):
            PLATFORM.check(shop)
    shop.base_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CheckFailed, match="could not be reached"):
        PLATFORM.check(shop)
