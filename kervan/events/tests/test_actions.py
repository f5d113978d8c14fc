"""The three actions other apps call: event_record, events_attach_anonymous, events_reassign; and what the event
store keeps without database constraints (deletes cascade through Django)."""

import datetime as dt

from kervan.core.models import Source
from kervan.customers.models import Customer, CustomerStats
from kervan.customers.stats import LAST_EVENT_GRANULARITY
from kervan.events.actions import event_record, events_reassign
from kervan.events.models import Event
from kervan.events.store import events_attach_anonymous

T = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)


def test_event_record_is_idempotent_and_bumps_stats(zeynep):
    assert event_record(name="Placed Order", occurred_at=T, dedupe_key="order:1", customer_id=zeynep.pk) is True
    assert event_record(name="Placed Order", occurred_at=T, dedupe_key="order:1", customer_id=zeynep.pk) is False
    assert Event.objects.count() == 1
    assert CustomerStats.objects.get(customer=zeynep).last_event_at == T


def test_attach_anonymous_moves_only_unclaimed_events_and_bumps_stats(zeynep, admin_actor):
    from kervan.customers.actions import customer_create

    other = customer_create(actor=admin_actor, email="other@example.com")
    Event.objects.create(dedupe_key="a", name="Viewed Page", occurred_at=T, anonymous_id="v-1")
    Event.objects.create(dedupe_key="b", name="Viewed Page", occurred_at=T + dt.timedelta(hours=1), anonymous_id="v-1")
    Event.objects.create(dedupe_key="c", name="Viewed Page", occurred_at=T, anonymous_id="v-1", customer=other)
    assert events_attach_anonymous(anonymous_id="v-1", customer_id=zeynep.pk) == 2
    assert Event.objects.filter(customer=zeynep).count() == 2
    assert Event.objects.get(dedupe_key="c").customer_id == other.pk
    assert CustomerStats.objects.get(customer=zeynep).last_event_at == T + dt.timedelta(hours=1)
    assert events_attach_anonymous(anonymous_id="v-1", customer_id=zeynep.pk) == 0


def test_reassign_moves_every_event(zeynep, admin_actor):
    from kervan.customers.actions import customer_create

    other = customer_create(actor=admin_actor, email="other@example.com")
    for i in range(3):
        Event.objects.create(dedupe_key=f"k{i}", name="Viewed Page", occurred_at=T, customer=other)
    assert events_reassign(from_customer_id=other.pk, to_customer_id=zeynep.pk) == 3
    assert Event.objects.filter(customer=zeynep).count() == 3


def test_last_event_at_moves_like_a_last_seen_time(zeynep):
    def seen():
        return CustomerStats.objects.get(customer=zeynep).last_event_at

    assert dt.timedelta(seconds=60) == LAST_EVENT_GRANULARITY
    event_record(name="Viewed Page", occurred_at=T, dedupe_key="s1", customer_id=zeynep.pk)
    assert seen() == T  # the first event is exact
    event_record(name="Viewed Page", occurred_at=T + dt.timedelta(seconds=29), dedupe_key="s2", customer_id=zeynep.pk)
    assert seen() == T  # less than half a minute later: not rewritten
    event_record(name="Viewed Page", occurred_at=T + dt.timedelta(seconds=61), dedupe_key="s3", customer_id=zeynep.pk)
    assert seen() == T + dt.timedelta(seconds=61)
    event_record(name="Viewed Page", occurred_at=T - dt.timedelta(hours=1), dedupe_key="s4", customer_id=zeynep.pk)
    assert seen() == T + dt.timedelta(seconds=61)  # an older event never moves it back
    event_record(name="Viewed Page", occurred_at=T + dt.timedelta(days=1), dedupe_key="s1", customer_id=zeynep.pk)
    assert seen() == T + dt.timedelta(seconds=61)  # a duplicate is not an event


def test_deleting_a_customer_deletes_their_events(zeynep, admin_actor):
    from kervan.customers.actions import customer_create

    other = customer_create(actor=admin_actor, email="other@example.com")
    event_record(name="Viewed Page", occurred_at=T, dedupe_key="z1", customer_id=zeynep.pk)
    event_record(name="Viewed Page", occurred_at=T, dedupe_key="z2", customer_id=zeynep.pk)
    event_record(name="Viewed Page", occurred_at=T, dedupe_key="o1", customer_id=other.pk)
    Customer.objects.filter(pk=zeynep.pk).delete()
    assert list(Event.objects.values_list("dedupe_key", flat=True)) == ["o1"]


def test_deleting_a_source_keeps_its_events(zeynep):
    source = Source.objects.create(key="pos", name="POS", kind=Source.Kind.API)
    event_record(name="Viewed Page", occurred_at=T, dedupe_key="pos:1", customer_id=zeynep.pk, source=source)
    source.delete()
    assert Event.objects.get(dedupe_key="pos:1").source_id is None
