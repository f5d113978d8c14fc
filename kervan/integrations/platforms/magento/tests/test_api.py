"""The Magento 2 REST API against a real HTTP server on loopback: searchCriteria paging ended by total_count (Magento
repeats the last page past the end), a 429 with Retry-After, a failure mid-way resumed from the saved cursor without
duplicates, and the credential check (GET /V1/store/storeConfigs)."""

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import quote

import pytest

from kervan.catalog.models import Product, Variant
from kervan.core.errors import KervanError
from kervan.core.testing import LoopbackSite, free_port
from kervan.customers.models import Identity
from kervan.integrations.actions import backfill_start, connection_create
from kervan.integrations.backfill import backfill_page, backfills_run
from kervan.integrations.models import Backfill, Connection
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.magento import PLATFORM
from kervan.integrations.testing import connection_make, needs_samples, sample
from kervan.orders.models import Order

pytestmark = [needs_samples, pytest.mark.django_db]
CREDENTIALS = {"access_token": "integration-token", "webhook_secret": "s"}


def load(name: str):
    return json.loads(sample(f"magento2/{name}"))


def path(endpoint: str, page: int) -> str:
    query = (
        f"searchCriteria[pageSize]=100&searchCriteria[currentPage]={page}"
        "&searchCriteria[sortOrders][0][field]=entity_id&searchCriteria[sortOrders][0][direction]=ASC"
    )
    return f"/rest/V1/{endpoint}?" + quote(query, safe="=&")


def listing(items: list, total: int) -> tuple:
    return 200, json.dumps({"items": items, "search_criteria": {}, "total_count": total}).encode()


def orders() -> list[dict]:
    """The published order, and the same shop's next two (the ids and numbers Magento would give them)."""
    first = load("GET_V1_orders_3.response.json")
    return [first] + [dict(first, entity_id=n, increment_id=f"00000000{n}", customer_id=None, customer_is_guest=1)
                      for n in (4, 5)]  # fmt: skip


@pytest.fixture
def site():
    tee = {"id": 1553, "sku": "WS12-M-Orange", "name": "Radiant Tee-M-Orange", "price": 22, "status": 1,
           "type_id": "simple", "updated_at": "2017-08-01 10:00:00",
           "custom_attributes": [{"attribute_code": "special_price", "value": "19.5000"}],
           "extension_attributes": {"stock_item": {"qty": 98, "is_in_stock": True, "manage_stock": True}}}  # fmt: skip
    first, second, third = orders()
    pages = {
        path("customers/search", 1): listing([load("POST_V1_customers.response.json")], 1),
        path("products", 1): listing([tee], 1),
        # total_count 201: three pages of 100 (this server lists fewer on each)
        path("orders", 1): listing([first], 201),
        path("orders", 2): listing([second], 201),
        path("orders", 3): listing([third], 201),
        path("orders", 4): listing([third], 201),  # past the end Magento repeats the last page: never asked
        "/rest/V1/store/storeConfigs": (200, json.dumps([{"id": 1, "code": "default",
                                                          "base_url": "http://shop.example/",
                                                          "secure_base_url": "https://shop.example/"}]).encode()),
    }  # fmt: skip
    with LoopbackSite(pages) as running:
        yield running


def _claimed(backfill: Backfill) -> Backfill:
    from kervan.core.claim import claim_due

    (row,) = claim_due(Backfill.objects.filter(pk=backfill.pk), worker="test")
    return row


def test_a_backfill_pages_through_customers_products_and_orders(site, admin_actor, clock):
    shop = connection_make("magento", base_url=site.url, credentials=CREDENTIALS)
    site.once[path("orders", 2)] = [(429, b"slow down", {"Retry-After": "2"})]
    backfill = backfill_start(actor=admin_actor, connection=shop)
    started = clock.now()
    backfills_run(budget=60)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE, backfill.error
    assert backfill.totals == {"customers": 1, "products": 1, "orders": 201}
    assert clock.now() - started >= dt.timedelta(seconds=2)  # Retry-After waited out
    assert path("orders", 4) not in site.asked  # the end came from total_count
    assert {h.get("Authorization") for h in site.asked_headers} == {"Bearer integration-token"}
    assert list(Order.objects.order_by("external_id").values_list("external_id", "number")) == [
        ("3", "000000003"), ("4", "000000004"), ("5", "000000005")]  # fmt: skip
    assert Identity.objects.get(kind="source_id", source=shop.source, value="2").customer.email == "jdoe@example.com"
    assert Order.objects.get(external_id="3").customer == Identity.objects.get(value="3", source=shop.source).customer
    product = Product.objects.get(source=shop.source, external_id="1553")
    variant = Variant.objects.get(product=product)
    assert (variant.sku, variant.price, variant.compare_at_price, variant.stock.quantity) == (
        "WS12-M-Orange", Decimal("19.50"), Decimal("22.00"), 98)  # fmt: skip
    assert Order.objects.get(external_id="3").lines.get().variant == variant


def test_a_failure_midway_resumes_from_the_saved_cursor_without_duplicates(site, admin_actor, clock, monkeypatch):
    monkeypatch.setattr("kervan.integrations.backfill.STEP_RECORDS", 1)  # write (and save the cursor) page by page
    shop = connection_make("magento", base_url=site.url, credentials=CREDENTIALS)
    site.once[path("orders", 2)] = [(503, b"down", {})] * 10
    row = _claimed(backfill_start(actor=admin_actor, connection=shop, kinds=["orders"]))
    outcome = backfill_page(row)
    assert outcome == "written"
    assert backfill_page(row) == "waiting"
    row.refresh_from_db()
    assert row.cursor == {"page": 2} and row.retries == 1 and "503" in row.error
    assert list(Order.objects.values_list("external_id", flat=True)) == ["3"]
    site.once.clear()
    clock.advance(dt.timedelta(hours=1))
    backfills_run(budget=60)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and row.retries == 0
    assert Order.objects.count() == 3 and site.asked.count(path("orders", 1)) == 1


def test_a_backfill_resumes_after_the_server_went_away(admin_actor, clock):
    shop = connection_make("magento", base_url=f"http://127.0.0.1:{free_port()}", credentials=CREDENTIALS)
    row = _claimed(backfill_start(actor=admin_actor, connection=shop, kinds=["orders"]))
    assert backfill_page(row) == "waiting"
    row.refresh_from_db()
    assert row.cursor is None and "could not connect" in row.error
    with LoopbackSite({path("orders", 1): listing(orders(), 3)}) as site:
        shop.base_url = site.url
        shop.save()
        clock.advance(dt.timedelta(hours=1))
        backfills_run(budget=60)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and Order.objects.count() == 3


def test_check_returns_the_store_and_a_connection_is_created(site, admin_actor):
    shop = Connection(platform="magento", base_url=site.url)
    shop.credentials = CREDENTIALS
    assert PLATFORM.check(shop) == "https://shop.example/"
    created = connection_create(actor=admin_actor, platform="magento", name="Mage", base_url=site.url,
                                credentials=CREDENTIALS)  # fmt: skip
    assert created.checked_at is not None


def test_wrong_credentials_fail_the_check_clearly(admin_actor):
    refusal = json.dumps({"message": "The consumer isn't authorized to access %resources.",
                          "parameters": {"resources": "Magento_Backend::store"}}).encode()  # fmt: skip
    with LoopbackSite({"/rest/V1/store/storeConfigs": (401, refusal)}) as site:
        shop = Connection(platform="magento", base_url=site.url)
        shop.credentials = CREDENTIALS
        with pytest.raises(CheckFailed, match="Magento refused the access token"):
            PLATFORM.check(shop)
        with pytest.raises(KervanError) as refused:
            connection_create(actor=admin_actor, platform="magento", name="M", base_url=site.url,
                              credentials=CREDENTIALS)  # fmt: skip
    assert refused.value.code == "connection_check_failed" and not Connection.objects.exists()


def test_not_magento_and_unreachable(clock):
    with LoopbackSite({}) as site:
        shop = Connection(platform="magento", base_url=site.url)
        shop.credentials = CREDENTIALS
        with pytest.raises(CheckFailed, match="does not answer as a Magento 2 shop"):
            PLATFORM.check(shop)
    shop.base_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CheckFailed, match="could not be reached"):
        PLATFORM.check(shop)
