"""Stripe's API on a loopback server: the credential check (a refused key, an unreachable address, the account's
name) and the backfill of customers and charges with Stripe's paging (limit + starting_after while has_more),
a 429 with Retry-After waited out, and a failure mid-way resumed from the saved cursor without duplicates."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from kervan.core.testing import LoopbackSite, free_port
from kervan.customers.models import Customer, Identity
from kervan.integrations.actions import backfill_start
from kervan.integrations.backfill import backfill_page, backfills_run
from kervan.integrations.models import Backfill
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.stripe import PLATFORM
from kervan.integrations.platforms.stripe.tests.conftest import SECRET_KEY, fixture_resource, make_store_order, resource
from kervan.integrations.testing import needs_samples
from kervan.orders.models import OrderStatus, Payment, Refund

pytestmark = [needs_samples, pytest.mark.django_db]


def listing(rows: list[dict], *, more: bool) -> tuple[int, bytes]:
    return 200, json.dumps({"object": "list", "data": rows, "has_more": more, "url": "/v1/x"}).encode()


def customers(*numbers: int) -> list[dict]:
    base = resource("customer")
    return [{**base, "id": f"cus_{n}", "email": f"musteri{n}@example.com", "name": f"Müşteri {n}"} for n in numbers]


def charges() -> list[dict]:
    base = resource("charge")
    paid = {**base, "id": "ch_paid", "amount": 2500, "metadata": {"order_id": "820982911946154508"}}
    failed = {**base, "id": "ch_failed", "status": "failed", "metadata": {"order_number": "#1002"}}
    refunded = {**base, "id": "ch_ref", "amount": 1000, "metadata": {"order_number": "#1003"},
                "refunds": {"object": "list", "has_more": False, "data": [{**resource("refund"), "id": "re_1",
                            "charge": "ch_ref", "amount": 400}]}}  # fmt: skip
    unrelated = dict(base)  # empty metadata: a payment of no store order
    return [paid, failed, refunded, unrelated]


@pytest.fixture
def api(stripe):
    pages = {
        "/v1/customers?limit=100": listing(customers(1, 2), more=True),
        "/v1/customers?limit=100&starting_after=cus_2": listing(customers(3), more=False),
        "/v1/charges?limit=100": listing(charges()[:2], more=True),
        "/v1/charges?limit=100&starting_after=ch_failed": listing(charges()[2:], more=False),
        "/v1/account": (200, json.dumps(fixture_resource("account")).encode()),
    }
    with LoopbackSite(pages) as site:
        stripe.credentials = {**stripe.credentials, "api_base": site.url}
        stripe.save()
        yield site


def _claimed(backfill: Backfill) -> Backfill:
    from kervan.core.claim import claim_due

    (row,) = claim_due(Backfill.objects.filter(pk=backfill.pk), worker="test")
    return row


def test_check_names_the_account_and_sends_the_secret_key(stripe, api):
    assert PLATFORM.check(stripe) == "site@stripe.com"  # no display name in the fixture: its email
    assert api.asked == ["/v1/account"] and api.asked_headers[0]["Authorization"] == f"Bearer {SECRET_KEY}"


def test_check_with_a_refused_key_or_an_unreachable_api_says_what_is_wrong(stripe, api, clock):
    api.once["/v1/account"] = [(401, b'{"error": {"message": "Invalid API Key provided"}}')]
    with pytest.raises(CheckFailed, match="Stripe refused the secret key"):
        PLATFORM.check(stripe)
    stripe.credentials = {**stripe.credentials, "api_base": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(CheckFailed, match="Stripe could not be reached at http://127.0.0.1"):
        PLATFORM.check(stripe)


def test_a_backfill_reads_customers_and_charges_page_by_page(stripe, shop, api, admin_actor, clock):
    first = make_store_order(shop, total="25.00")
    second = make_store_order(shop, external_id="2", number="#1002")
    third = make_store_order(shop, external_id="3", number="#1003", total="10.00")
    api.once["/v1/customers?limit=100&starting_after=cus_2"] = [(429, b"slow down", {"Retry-After": "2"})]
    backfill = backfill_start(actor=admin_actor, connection=stripe)
    assert backfill.kinds == ["customers", "payments"]
    started = clock.now()
    backfills_run(budget=30)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.pages == 4
    assert clock.now() - started >= dt.timedelta(seconds=2)  # the Retry-After was obeyed (on the frozen clock)
    assert api.asked.count("/v1/customers?limit=100&starting_after=cus_2") == 2
    assert backfill.counts["customers"] == {"read": 3, "created": 3}
    people = Customer.objects.filter(identities__kind=Identity.Kind.SOURCE_ID, identities__value__startswith="cus_")
    assert sorted(people.values_list("email", "first_name", "last_name")) == [
        (f"musteri{n}@example.com", "Müşteri", str(n)) for n in (1, 2, 3)]  # fmt: skip
    for order in (first, second, third):
        order.refresh_from_db()
    assert first.status == OrderStatus.PAID and third.status == OrderStatus.PAID  # paid, then partly refunded
    assert Payment.objects.get(order=first).amount == Decimal("25.00")
    assert Payment.objects.get(order=third).amount == Decimal("10.00")
    assert second.status == OrderStatus.PLACED  # failed: an event, no payment
    (refund,) = Refund.objects.filter(order=third)
    assert (refund.external_id, refund.amount) == ("re_1", Decimal("4.00"))


def test_a_failure_midway_resumes_from_the_saved_cursor_without_duplicates(stripe, shop, api, admin_actor, clock):
    make_store_order(shop, total="25.00")
    make_store_order(shop, external_id="3", number="#1003", total="10.00")
    make_store_order(shop, external_id="2", number="#1002")
    api.once["/v1/charges?limit=100&starting_after=ch_failed"] = [(503, b"down", {})] * 10  # beyond http's own retries
    backfill = backfill_start(actor=admin_actor, connection=stripe)
    row = _claimed(backfill)
    assert backfill_page(row) == "written"  # the customers, both pages
    assert backfill_page(row) == "waiting"  # the charges' second page fails: nothing of the step is written
    row.refresh_from_db()
    assert (row.kind, row.cursor, row.retries) == ("payments", None, 1) and "503" in row.error
    assert row.due_at > clock.now() and not Payment.objects.exists() and not Refund.objects.exists()
    api.once.clear()
    clock.advance(dt.timedelta(hours=1))
    backfills_run(budget=30)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and row.error == "" and row.retries == 0
    assert Payment.objects.count() == 2 and Refund.objects.count() == 1
    assert Customer.objects.filter(identities__value__startswith="cus_").count() == 3
    assert api.asked.count("/v1/customers?limit=100") == 1  # the customers were not read again
    assert api.asked.count("/v1/customers?limit=100&starting_after=cus_2") == 1
