"""Issue 20's races, run for real: threads with their own database connections (and, for SQLite, a file database
in a separate process), each doing what a request does.

The interleavings that used to lose money are forced rather than hoped for: another session holds the row the
writers must lock, the test starts them one by one and waits until PostgreSQL shows each one queued on that lock,
then lets go. What each writer read before queueing is what used to be stale.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections

from kervan.accounts.actors import Actor
from kervan.core.testing import other_session
from kervan.customers.actions import customer_merge
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.orders.models import Order, Refund, Return
from kervan.orders.stats_rebuild import stats_rebuild
from kervan.orders.tests.test_api import order_body

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system()
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL (SQLite runs one writer at a time)")


def day(n: int) -> dt.datetime:
    return dt.datetime(2026, 1, n, 12, tzinfo=IST)


class Writer(threading.Thread):
    """`work()` on its own connection, as another request would run it; .result or .error afterwards."""

    def __init__(self, work: Callable[[], object]):
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None

    def run(self) -> None:
        try:
            self.result = self.work()
        except Exception as exc:  # the test reports it
            self.error = exc
        finally:
            connections.close_all()


@contextmanager
def row_held(table: str, column: str, value: int):
    """Another session holds this row (SELECT … FOR UPDATE) until the block ends; `queue(work)` starts a Writer and
    returns once it is waiting for a lock, so the writers take the row in the order they were queued."""
    holder, watcher = other_session(autocommit=False), other_session()
    writers: list[Writer] = []

    def queue(work: Callable[[], object]) -> Writer:
        writer = Writer(work)
        writer.start()
        deadline = time.monotonic() + 15
        while _waiting(watcher) < len(writers) + 1:
            assert time.monotonic() < deadline, "the writer never queued for the lock"
            assert writer.is_alive(), writer.error
            time.sleep(0.01)
        writers.append(writer)
        return writer

    try:
        holder.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR UPDATE", [value])
        yield queue
    finally:
        holder.rollback()
        holder.close()
        watcher.close()
        for writer in writers:
            writer.join(30)


def _waiting(watcher) -> int:
    return watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()[0]


def run_together(*works: Callable[[], object]) -> list[Writer]:
    """Start every work at the same moment (a barrier), each on its own connection; wait for all."""
    barrier = threading.Barrier(len(works))

    def at_once(work):
        def run():
            barrier.wait(10)
            return work()

        return run

    writers = [Writer(at_once(work)) for work in works]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    return writers


def no_drift() -> list[str]:
    found: list = []
    stats_rebuild(check=True, on_drift=found.append)
    return [str(d) for d in found]


# Defect 1: concurrent replays of an order without a source.


def test_simultaneous_replays_of_an_order_without_a_source_store_it_once(postgresql, make_api_key):
    from kervan.conftest import ApiClient

    customer = make_customer()
    _, secret = make_api_key()
    body = order_body(customer, external_id="W-500", lines=[{"title": "Saat", "quantity": 1, "unit_price": "500"}])
    body["shipping_total"] = "0"
    writers = run_together(*[lambda: ApiClient(secret).post("/orders/", body) for _ in range(8)])
    assert not [w.error for w in writers if w.error]
    answers = sorted(w.result.status_code for w in writers)
    assert answers == [200] * 7 + [201], [w.result.content for w in writers]
    assert len({w.result.json()["id"] for w in writers}) == 1
    assert Order.objects.count() == 1
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.total_spent) == (1, Decimal("500.00"))


SQLITE_REPLAYS = """
import json, sys, threading
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()  # what the test runner does: ALLOWED_HOSTS takes the test client's "testserver"
from django.core.management import call_command
from django.db import connections
call_command("migrate", verbosity=0)
from kervan.accounts.models import ApiKey
from kervan.accounts.permissions import area_keys
from kervan.conftest import ApiClient
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import make_customer
from kervan.orders.models import Order
customer = make_customer()
prefix, secret = ApiKey.generate_secret()
scopes = {area: "write" for area in area_keys()}
ApiKey.objects.create(name="k", prefix=prefix, key_hash=ApiKey.hash_secret(secret), scopes=scopes)
body = {"customer_id": customer.pk, "external_id": "W-500", "placed_at": "2026-03-01T10:00:00+03:00",
        "lines": [{"title": "Saat", "quantity": 1, "unit_price": "500"}]}
barrier, answers = threading.Barrier(8), []
def post():
    barrier.wait(10)
    response = ApiClient(secret).post("/orders/", body)
    answers.append(response.status_code)
    if response.status_code >= 400:
        print(response.content, file=sys.stderr)
    connections.close_all()
threads = [threading.Thread(target=post) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join(60)
stats = CustomerStats.objects.get(customer=customer)
print(json.dumps({"answers": sorted(answers), "orders": Order.objects.count(),
                  "order_count": stats.order_count, "total_spent": str(stats.total_spent)}))
"""


def test_simultaneous_replays_on_sqlite_store_the_order_once(tmp_path):
    """The same race on a SQLite file (the test database lives in memory, which threads cannot share), in a process
    of its own with the shipped settings: WAL, IMMEDIATE transactions."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite run of the race; PostgreSQL's is the test above")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_REPLAYS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"answers": [200] * 7 + [201], "orders": 1, "order_count": 1, "total_spent": "500.00"}


# Defect 3: first and last order dates under concurrent changes.


def test_cancelling_the_first_and_the_last_order_at_once_leaves_the_middle_one(postgresql):
    customer = make_customer()
    first, middle, last = (make_order(customer, placed_at=day(n)) for n in (1, 2, 3))
    with row_held("customers_customerstats", "customer_id", customer.pk) as queue:
        cancels = [
            queue(lambda o=o: order_set_status(actor=SYSTEM, order=o, status="cancelled")) for o in (first, last)
        ]
    assert not [w.error for w in cancels if w.error]
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.first_order_at, stats.last_order_at) == (1, day(2), day(2))
    assert no_drift() == []


def test_cancelling_while_an_earlier_order_arrives_keeps_the_earlier_first_date(postgresql):
    customer = make_customer()
    make_order(customer, placed_at=day(10))
    late = make_order(customer, placed_at=day(20))
    with row_held("customers_customerstats", "customer_id", customer.pk) as queue:
        backfilled = queue(lambda: make_order(customer, placed_at=day(1)))  # an import of history, say
        cancel = queue(lambda: order_set_status(actor=SYSTEM, order=late, status="cancelled"))
    assert backfilled.error is None and cancel.error is None
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.first_order_at, stats.last_order_at) == (2, day(1), day(10))
    assert no_drift() == []


def test_cancellations_in_parallel_keep_the_span_round_after_round(postgresql):
    for _ in range(6):
        customer = make_customer()
        first, _middle, last = (make_order(customer, placed_at=day(n)) for n in (1, 2, 3))
        writers = run_together(
            *[lambda o=o: order_set_status(actor=SYSTEM, order=o, status="cancelled") for o in (first, last)]
        )
        assert not [w.error for w in writers if w.error]
        stats = CustomerStats.objects.get(customer=customer)
        assert (stats.first_order_at, stats.last_order_at) == (day(2), day(2))
    assert no_drift() == []


# Defect 5: an order, a refund, a return or a cancellation racing a merge of the same person.


@pytest.mark.parametrize("merge_first", [True, False], ids=["merge-first", "order-first"])
def test_an_order_racing_a_merge_lands_on_the_survivor(postgresql, merge_first):
    survivor, merged = make_customer(), make_customer()
    make_order(survivor, total_lines=((1, "40.00"),))
    merge = lambda: customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)  # noqa: E731
    order = lambda: make_order(merged, total_lines=((1, "60.00"),))  # noqa: E731
    with row_held("customers_customer", "id", merged.pk) as queue:
        writers = [queue(w) for w in ((merge, order) if merge_first else (order, merge))]
    assert not [w.error for w in writers if w.error]
    assert set(Order.objects.values_list("customer_id", flat=True)) == {survivor.pk}
    stats = CustomerStats.objects.get(customer=survivor)
    assert (stats.order_count, stats.total_spent) == (2, Decimal("100.00"))
    assert no_drift() == []


def test_orders_and_merges_in_parallel_never_fail_and_never_stay_on_a_merged_profile(postgresql):
    for _ in range(8):
        survivor, merged = make_customer(), make_customer()
        writers = run_together(
            lambda s=survivor, m=merged: customer_merge(actor=SYSTEM, survivor=s, merged=m),
            lambda m=merged: make_order(m, total_lines=((1, "60.00"),)),
        )
        assert not [w.error for w in writers if w.error]
        assert CustomerStats.objects.get(customer=survivor).total_spent == Decimal("60.00")
    assert not Order.objects.filter(customer__merged_into__isnull=False).exists()
    assert no_drift() == []


CHANGES = {
    "refund": lambda order: refund_create(actor=SYSTEM, order=order, amount="25.00"),
    "return": lambda order: return_create(
        actor=SYSTEM, order=order, lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}], reason="size"
    ),
    "cancel": lambda order: order_set_status(actor=SYSTEM, order=order, status="cancelled"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_to_an_order_racing_its_customers_merge_counts_on_the_survivor(postgresql, change):
    survivor, merged = make_customer(), make_customer()
    order = make_order(merged, total_lines=((1, "100.00"),))
    with row_held("orders_order", "id", order.pk) as queue:
        merging = queue(lambda: customer_merge(actor=SYSTEM, survivor=survivor, merged=merged))
        changing = queue(lambda: CHANGES[change](order))  # `order` as loaded before the merge
    assert merging.error is None and changing.error is None
    assert set(Refund.objects.values_list("customer_id", flat=True)) <= {survivor.pk}
    assert set(Return.objects.values_list("customer_id", flat=True)) <= {survivor.pk}
    assert CustomerStats.objects.get(customer=merged).order_count == 0
    assert no_drift() == []


# The recompute racing the incremental updates: it locks the rows it rewrites before it sums.


@pytest.mark.parametrize("rebuild_first", [True, False], ids=["rebuild-first", "order-first"])
def test_a_rebuild_racing_an_order_loses_neither(postgresql, rebuild_first):
    customer = make_customer()
    make_order(customer, total_lines=((1, "40.00"),))
    CustomerStats.objects.filter(customer=customer).update(total_spent=0, order_count=9)  # drifted: to be rewritten
    rebuild = lambda: stats_rebuild(customer_ids=[customer.pk])  # noqa: E731
    order = lambda: make_order(customer, total_lines=((1, "60.00"),))  # noqa: E731
    with row_held("customers_customerstats", "customer_id", customer.pk) as queue:
        if rebuild_first:
            rebuilding = queue(rebuild)
            ordering = queue(order)
        else:
            ordering = queue(order)
            rebuilding = queue(rebuild)
    assert rebuilding.error is None and ordering.error is None
    assert rebuilding.result.drifted == 1
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.total_spent, stats.average_order_value) == (2, Decimal("100.00"), Decimal("50.00"))
    assert no_drift() == []
