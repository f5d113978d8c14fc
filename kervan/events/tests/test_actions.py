"""The three actions other apps call: event_record, events_attach_anonymous, events_reassign."""

import datetime as dt

from kervan.customers.models import CustomerStats
from kervan.events.actions import event_record, events_attach_anonymous, events_reassign
from kervan.events.models import Event

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
