"""Shopify's REST Admin API played by a real HTTP server on loopback serving Shopify's own REST fixtures (and the
2026-07 order sample) with its Link-header paging, call-limit header and 429: the backfill, and the credential check."""

import datetime as dt
from decimal import Decimal

import orjson
import pytest

from kervan.catalog.models import Product, Variant
from kervan.core.claim import claim_due
from kervan.core.testing import LoopbackSite, free_port
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.integrations import backfill as backfill_module
from kervan.integrations import testing
from kervan.integrations.actions import backfill_start
from kervan.integrations.backfill import backfill_page, backfills_run
from kervan.integrations.models import Backfill
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.shopify import PLATFORM
from kervan.integrations.platforms.shopify.tests.helpers import TOKEN, connection, payload
from kervan.orders.models import Order, OrderStatus

pytestmark = [pytest.mark.django_db, testing.needs_samples]

API = "/admin/api/2026-07"
FIXTURES = "rest_fixtures_shopify_python_api"


def answer(data, *, next_page: str | None = None, calls: str = "1/40", base: str = "") -> tuple:
    headers = {"Content-Type": "application/json", "X-Shopify-Shop-Api-Call-Limit": calls}
    if next_page:
        headers["Link"] = (f'<{base}{API}/x.json?limit=250&page_info=previous>; rel="previous", '
                           f'<{base}{API}/x.json?limit=250&page_info={next_page}>; rel="next"')  # fmt: skip
    return 200, orjson.dumps(data), headers


@pytest.fixture
def shop():
    products = payload(f"{FIXTURES}/products.json")  # a bare list of four products
    with LoopbackSite() as site:
        link = {"base": "https://kervan-test.myshopify.com"}  # Shopify's own host in the links: only page_info is used
        site.pages.update({
            f"{API}/shop.json": answer(payload(f"{FIXTURES}/shop.json")),
            f"{API}/customers/count.json": answer({"count": 2}),
            f"{API}/customers.json?limit=250": answer(payload(f"{FIXTURES}/customers_search.json"),
                                                      next_page="c2", **link),
            f"{API}/customers.json?limit=250&page_info=c2": answer(
                {"customers": [payload(f"{FIXTURES}/customer.json")["customer"]]}),
            f"{API}/products/count.json": answer({"count": 4}),
            f"{API}/products.json?limit=250": answer({"products": products[:2]}, next_page="p2", **link),
            f"{API}/products.json?limit=250&page_info=p2": answer({"products": products[2:]}),
            f"{API}/orders/count.json?status=any": answer({"count": 2}),
            # orders.json lists order 450789469 without its line items: read in full from /orders/<id>.json.
            f"{API}/orders.json?limit=250&status=any": answer(payload(f"{FIXTURES}/orders.json"), next_page="o2",
                                                              calls="39/40", **link),
            f"{API}/orders/450789469.json": answer(payload(f"{FIXTURES}/order.json")),
            f"{API}/orders.json?limit=250&page_info=o2": answer({"orders": [payload("orders_create.json")]}),
        })  # fmt: skip
        yield site


@pytest.fixture
def page_by_page(monkeypatch):
    """One page per backfill step (a step reads up to STEP_RECORDS records), so each step's cursor can be seen."""
    monkeypatch.setattr(backfill_module, "STEP_RECORDS", 1)


def claimed(backfill: Backfill) -> Backfill:
    (row,) = claim_due(Backfill.objects.filter(pk=backfill.pk), worker="test")
    return row


def test_a_backfill_reads_every_page_of_customers_products_and_orders(shop, admin_actor, clock):
    conn = connection()
    conn.base_url = shop.url
    conn.save()
    backfill = backfill_start(actor=admin_actor, connection=conn)
    assert backfill.kinds == ["customers", "products", "orders"]
    backfills_run(budget=30)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE, backfill.error
    assert backfill.pages == 6 and backfill.progress_percent == 100
    assert backfill.totals == {"customers": 2, "products": 4, "orders": 2}
    assert backfill.counts["customers"]["read"] == 2
    assert backfill.counts["orders"]["read"] == 2
    # Every call carried the token; paging followed page_info on Kervan's own address.
    assert all(h.get("X-Shopify-Access-Token") == TOKEN for h in shop.asked_headers)
    assert f"{API}/orders.json?limit=250&page_info=o2" in shop.asked

    # customers_search.json and customer.json are one customer (207119551), the newer version last.
    bob = Customer.objects.get(email="bob.norman@hostmail.com")
    assert (bob.first_name, bob.last_name, bob.city, bob.country) == ("Bob", "Norman", "Louisville", "US")
    assert Identity.objects.get(kind=Identity.Kind.SOURCE_ID, value="207119551").customer == bob
    # accepts_marketing false without a date is not a decision to record; an order's consent at checkout is left to
    # webhooks (kervan.integrations.backfill._of_kind).
    assert not ConsentRecord.objects.exists()
    # products.json: four products sharing one variant (808950810, IPOD2008PINK): one variant in Kervan.
    variant = Variant.objects.get(sku="IPOD2008PINK")
    assert (variant.external_id, variant.price, variant.stock.quantity) == ("808950810", Decimal("199.00"), 10)
    assert Product.objects.get(pk=variant.product_id).title == "IPod Nano - 8GB"

    legacy = Order.objects.get(external_id="450789469")
    assert (legacy.number, legacy.currency, legacy.total) == ("#1001", "USD", Decimal("409.94"))
    assert legacy.customer == bob and legacy.status == OrderStatus.PLACED  # "authorized"
    assert legacy.discount_codes == ["TENOFF"]
    lines = list(legacy.lines.order_by("id"))
    assert [ln.sku for ln in lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    # The older API shape taxes the order only (tax_lines 11.94): spread over the three equal lines. Its
    # total_discounts is 0.00 (though the TENOFF code says 10.00): Shopify's total is taken.
    assert [ln.tax for ln in lines] == [Decimal("3.98")] * 3
    assert [ln.discount for ln in lines] == [Decimal("0.00")] * 3
    latest = Order.objects.get(external_id="820982911946154508")
    assert latest.number == "#9999" and latest.lines.count() == 5


def test_a_nearly_full_call_bucket_and_a_429_are_waited_out(shop, admin_actor, clock, page_by_page):
    conn = connection()
    conn.base_url = shop.url
    conn.save()
    shop.once[f"{API}/orders.json?limit=250&page_info=o2"] = [(429, b'{"errors":"Exceeded 2 calls per second"}',
                                                               {"Retry-After": "2.0"})]  # fmt: skip
    row = claimed(backfill_start(actor=admin_actor, connection=conn, kinds=["orders"]))
    started = clock.now()
    assert backfill_page(row) == "written"
    # The page's answer said 39/40: the next call (the full order) waited until 4 calls were free (3 / 2 per s).
    assert clock.now() - started == dt.timedelta(seconds=1.5)
    waited = clock.now()
    assert backfill_page(row) == "done"
    assert clock.now() - waited >= dt.timedelta(seconds=2)  # Shopify's "Retry-After: 2.0", through kervan.core.clock
    assert shop.asked.count(f"{API}/orders.json?limit=250&page_info=o2") == 2
    assert Order.objects.count() == 2


def test_a_failure_midway_resumes_from_the_saved_cursor_without_duplicates(shop, admin_actor, clock, page_by_page):
    conn = connection()
    conn.base_url = shop.url
    conn.save()
    shop.once[f"{API}/orders.json?limit=250&page_info=o2"] = [(503, b"Service Unavailable", {})] * 5
    row = claimed(backfill_start(actor=admin_actor, connection=conn, kinds=["orders"]))
    assert backfill_page(row) == "written"
    assert backfill_page(row) == "waiting"
    row.refresh_from_db()
    assert row.cursor == {"page_info": "o2"} and row.retries == 1 and "503" in row.error
    assert Order.objects.count() == 1
    shop.once.clear()
    clock.advance(dt.timedelta(hours=1))
    backfills_run(budget=30)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and row.error == "" and row.retries == 0
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["450789469", "820982911946154508"]
    lines = Order.objects.get(external_id="450789469").lines.count()

    # Reading every page again (a new backfill) writes nothing twice.
    again = backfill_start(actor=admin_actor, connection=conn, kinds=["orders"])
    backfills_run(budget=30)
    again.refresh_from_db()
    assert again.status == Backfill.Status.DONE
    assert Order.objects.count() == 2 and Order.objects.get(external_id="450789469").lines.count() == lines == 3


def test_an_unreadable_order_fails_the_backfill_with_what_is_wrong(shop, admin_actor, clock, page_by_page):
    conn = connection()
    conn.base_url = shop.url
    conn.save()
    broken = payload("orders_create.json")
    del broken["currency"]
    shop.pages[f"{API}/orders.json?limit=250&page_info=o2"] = answer({"orders": [broken]})
    row = claimed(backfill_start(actor=admin_actor, connection=conn, kinds=["orders"]))
    assert backfill_page(row) == "written"
    assert backfill_page(row) == "failed"
    row.refresh_from_db()
    assert "820982911946154508" in row.error and "currency" in row.error
    assert Order.objects.count() == 1


# -- the credential check ---------------------------------------------------------------------------------------------


def test_check_returns_the_shops_name(shop):
    conn = connection()
    conn.base_url = shop.url
    assert PLATFORM.check(conn) == "Apple Computers"
    assert shop.asked == [f"{API}/shop.json"]
    assert shop.asked_headers[0]["X-Shopify-Access-Token"] == TOKEN


def test_check_with_a_refused_token(shop):
    shop.pages[f"{API}/shop.json"] = (401, b'{"errors":"[API] Invalid API key or access token"}')
    conn = connection(access_token="shpat_wrong")
    conn.base_url = shop.url
    with pytest.raises(CheckFailed, match="Shopify refused the access token"):
        PLATFORM.check(conn)


def test_check_of_an_address_that_is_not_a_shop(shop):
    conn = connection()
    conn.base_url = shop.url + "/elsewhere"
    with pytest.raises(CheckFailed, match="No Shopify shop answers at"):
        PLATFORM.check(conn)
    shop.pages[f"{API}/shop.json"] = (200, b"<html>a web page</html>")
    conn.base_url = shop.url
    with pytest.raises(CheckFailed, match="is the address a Shopify shop"):
        PLATFORM.check(conn)


def test_check_of_an_unreachable_address(clock):
    conn = connection()
    conn.base_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CheckFailed, match="Could not reach http://127.0.0.1"):
        PLATFORM.check(conn)


def test_connecting_with_a_refused_token_saves_nothing(shop, admin_actor):
    from kervan.core.errors import KervanError
    from kervan.integrations.actions import connection_create
    from kervan.integrations.models import Connection

    shop.pages[f"{API}/shop.json"] = (401, b'{"errors":"[API] Invalid API key or access token"}')
    with pytest.raises(KervanError) as refused:
        connection_create(actor=admin_actor, platform="shopify", name="Apple", base_url=shop.url,
                          credentials={"access_token": "shpat_wrong", "webhook_secret": "s"})  # fmt: skip
    assert refused.value.code == "connection_check_failed"
    assert "Shopify refused the access token" in refused.value.detail
    assert not Connection.objects.exists()
