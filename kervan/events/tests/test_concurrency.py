"""Concurrent deliveries of overlapping batches (a client retrying while the first try is still running)."""

import datetime as dt
import threading
from types import SimpleNamespace

import pytest
from django.db import connection, connections

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_create
from kervan.customers.models import CustomerStats
from kervan.customers.stats import LAST_EVENT_GRANULARITY
from kervan.events.actions import events_ingest
from kervan.events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def item(n: int, customer_id: int, when: dt.datetime):
    return SimpleNamespace(
        type="track",
        event_id=f"e-{n}",
        name="Viewed Page",
        occurred_at=when + dt.timedelta(seconds=n),
        properties={"n": n},
        customer_id=customer_id,
        email=None,
        phone=None,
        user_id=None,
        source=None,
        anonymous_id=None,
    )


def test_overlapping_batches_in_parallel_store_each_event_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race only exists on PostgreSQL")
    actor = Actor.system()
    customers = [customer_create(actor=actor, email=f"c{i}@example.com").pk for i in range(5)]
    when = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
    # Four senders, each with events 0..199 in a different order, every event on one of five customers.
    batches = [
        [item(n, customers[n % 5], when) for n in order]
        for order in (range(200), reversed(range(200)), range(0, 200, 2), range(1, 200, 2))
    ]
    results, errors = [], []

    def send(batch):
        try:
            results.append(events_ingest(actor=actor, items=batch))
        except Exception as exc:  # the test reports any failure
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert Event.objects.count() == 200
    assert sum(r.accepted for r in results) == 200
    assert sum(r.duplicates for r in results) == 600 - 200
    # last_event_at is a "last seen" time: never past the newest event, at most LAST_EVENT_GRANULARITY before it.
    latest = when + dt.timedelta(seconds=199)
    seen = CustomerStats.objects.get(customer_id=customers[199 % 5]).last_event_at
    assert latest - LAST_EVENT_GRANULARITY <= seen <= latest


def test_a_batch_outside_any_transaction_is_all_or_nothing():
    """On PostgreSQL a batch of track items whose people are all known is written by one statement, without a
    transaction; a batch that must create a profile takes the transactional path. Both give the same results."""
    actor = Actor.system()
    known = customer_create(actor=actor, email="known@example.com")
    when = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
    first = [item(n, known.pk, when) for n in range(3)]
    assert events_ingest(actor=actor, items=first).accepted == 3
    stranger = item(3, None, when)
    stranger.customer_id, stranger.email = None, "new@example.com"
    bad = item(4, known.pk + 1000, when)
    with pytest.raises(Exception, match="no customer with id"):
        events_ingest(actor=actor, items=[stranger, bad])
    assert Event.objects.count() == 3
    assert not CustomerStats.objects.filter(customer__email="new@example.com").exists()
    result = events_ingest(actor=actor, items=[stranger, item(5, known.pk, when), first[0]])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert Event.objects.get(dedupe_key="api:e-3").customer.email == "new@example.com"
    # e-2 set it; e-5 came three seconds later, within LAST_EVENT_GRANULARITY.
    assert CustomerStats.objects.get(customer=known).last_event_at == when + dt.timedelta(seconds=2)


def test_last_event_at_stays_within_the_granularity_of_the_newest_event():
    """Committed batches (so this process remembers what it bumped): however events arrive, last_event_at is never
    past the newest event and never more than LAST_EVENT_GRANULARITY behind it."""
    from kervan.events.actions import event_record

    actor = Actor.system()
    customer = customer_create(actor=actor, email="often@example.com")
    start = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
    newest = None
    for n, seconds in enumerate((0, 20, 40, 59, 70, 89, 100, 130, 131, 200, 260)):
        when = start + dt.timedelta(seconds=seconds)
        event_record(name="Viewed Page", occurred_at=when, dedupe_key=f"often:{n}", customer_id=customer.pk)
        newest = max(newest or when, when)
        seen = CustomerStats.objects.get(customer=customer).last_event_at
        assert newest - LAST_EVENT_GRANULARITY <= seen <= newest, (seconds, seen)
