"""Backfill on the stub platform against a real HTTP server on loopback: pages written with their cursor, a 429
waited out, a failure mid-way resumed at the page that failed without duplicates, the end report."""

import datetime as dt
import json

import pytest

from kervan.core.testing import LoopbackSite
from kervan.integrations.actions import backfill_cancel, backfill_resume, backfill_start
from kervan.integrations.backfill import MAX_RETRIES, backfill_page, backfills_run
from kervan.integrations.models import Backfill
from kervan.integrations.tests.conftest import an_order
from kervan.orders.models import Order


def page(items, *, more: bool, total: int) -> tuple[int, bytes]:
    return 200, json.dumps({"items": items, "more": more, "total": total}).encode()


def orders(first: int, count: int) -> list[dict]:
    return [an_order(id=str(10**17 + n), number=f"#{n}", customer={"id": str(n % 3), "email": f"k{n % 3}@example.com"})
            for n in range(first, first + count)]  # fmt: skip


@pytest.fixture
def shop():
    pages = {
        "/customers?page=1": page([{"id": "0", "email": "k0@example.com", "first_name": "Ali"}], more=False, total=1),
        "/orders?page=1": page(orders(0, 3), more=True, total=7),
        "/orders?page=2": page(orders(3, 3), more=True, total=7),
        "/orders?page=3": page(orders(6, 1), more=False, total=7),
    }
    with LoopbackSite(pages) as site:
        yield site


def _claimed(backfill: Backfill) -> Backfill:
    from kervan.core.claim import claim_due

    (row,) = claim_due(Backfill.objects.filter(pk=backfill.pk), worker="test")
    return row


@pytest.mark.django_db
def test_a_backfill_reads_every_page_and_reports(stub, shop, admin_actor, clock):
    stub.base_url = shop.url
    stub.save()
    backfill = backfill_start(actor=admin_actor, connection=stub)
    assert (backfill.kinds, backfill.kind, backfill.status) == (["customers", "orders"], "customers", "queued")
    backfills_run(budget=30)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.cursor is None and backfill.due_at is None, (
        backfill.error
    )
    assert backfill.pages == 4 and backfill.progress_percent == 100
    assert backfill.totals == {"customers": 1, "orders": 7}
    assert backfill.counts["orders"] == {"read": 7, "created": 7}
    assert backfill.counts["customers"] == {"read": 1, "created": 1}
    assert Order.objects.count() == 7
    assert sorted(Order.objects.values_list("external_id", flat=True))[0] == str(10**17)
    assert Order.objects.values("customer").distinct().count() == 3


@pytest.mark.django_db
def test_a_failure_midway_resumes_at_the_page_that_failed_without_duplicates(
    stub, shop, admin_actor, clock, monkeypatch
):
    monkeypatch.setattr("kervan.integrations.backfill.STEP_RECORDS", 1)  # write (and save the cursor) page by page
    stub.base_url = shop.url
    stub.save()
    shop.once["/orders?page=2"] = [(503, b"down", {})] * 10  # more than one call's own retries
    backfill = backfill_start(actor=admin_actor, connection=stub, kinds=["orders"])
    row = _claimed(backfill)
    assert backfill_page(row) == "written"
    assert backfill_page(row) == "waiting"
    row.refresh_from_db()
    assert row.cursor == {"page": 2} and row.retries == 1 and "503" in row.error
    assert row.due_at > clock.now() and Order.objects.count() == 3
    shop.once.clear()
    clock.advance(dt.timedelta(hours=1))
    backfills_run(budget=30)
    row.refresh_from_db()
    assert row.status == Backfill.Status.DONE and row.error == "" and row.retries == 0
    assert Order.objects.count() == 7
    assert row.counts["orders"]["read"] == 7


@pytest.mark.django_db
def test_a_429_is_waited_out_within_the_call(stub, shop, admin_actor, clock):
    stub.base_url = shop.url
    stub.save()
    shop.once["/orders?page=1"] = [(429, b"slow down", {"Retry-After": "2"})]
    backfill = backfill_start(actor=admin_actor, connection=stub, kinds=["orders"])
    started = clock.now()
    assert backfill_page(_claimed(backfill)) == "done"  # one step reads the three pages
    assert clock.now() - started >= dt.timedelta(seconds=2)  # the wait went through kervan.core.clock
    assert shop.asked.count("/orders?page=1") == 2


@pytest.mark.django_db
def test_retries_run_out_then_it_fails_and_can_be_resumed(stub, shop, admin_actor, clock):
    stub.base_url = shop.url
    stub.save()
    shop.pages["/orders?page=1"] = (503, b"down")
    backfill = backfill_start(actor=admin_actor, connection=stub, kinds=["orders"])
    for _ in range(MAX_RETRIES + 1):
        clock.advance(dt.timedelta(days=1))
        backfills_run(budget=5)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.FAILED and "503" in backfill.error
    shop.pages["/orders?page=1"] = page(orders(0, 3), more=False, total=3)
    backfill_resume(actor=admin_actor, backfill=backfill)
    backfills_run(budget=5)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and Order.objects.count() == 3


@pytest.mark.django_db
def test_one_backfill_at_a_time_and_cancel(stub, shop, admin_actor):
    from kervan.core.errors import KervanError

    backfill = backfill_start(actor=admin_actor, connection=stub)
    with pytest.raises(KervanError) as running:
        backfill_start(actor=admin_actor, connection=stub)
    assert running.value.code == "backfill_running"
    with pytest.raises(KervanError) as unknown:
        backfill_cancel(actor=admin_actor, backfill=backfill)
        backfill_start(actor=admin_actor, connection=stub, kinds=["invoices"])
    assert unknown.value.code == "invalid_kinds"
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.CANCELLED and backfill.due_at is None
    assert backfills_run(budget=1) == 0
