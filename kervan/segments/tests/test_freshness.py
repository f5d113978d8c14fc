"""Incremental freshness: only the touched customers are re-evaluated, by the worker, from a claimable queue."""

import datetime as dt

import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.segments import actions, tasks
from kervan.segments.actions import ENTERED_EVENT
from kervan.segments.freshness import segments_refresh_touched, segments_touch
from kervan.segments.models import SegmentMembership, SegmentTouch

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_touched_customers_are_re_evaluated_and_only_they():
    with clock.frozen(NOW):
        a = Customer.objects.create(city="Ankara")
        b = Customer.objects.create(city="Ankara")
        for c in (a, b):
            CustomerStats.objects.create(customer=c)
        segment = actions.segment_create(
            actor=Actor.system(),
            name="Viewers",
            definition={
                "match": "all",
                "conditions": [
                    {"field": "event", "name": "Viewed Product", "op": "at_least", "count": 1, "within_days": 30}
                ],
            },
        )
        actions.segment_rebuild(segment=segment)
        for i, c in enumerate((a, b)):
            Event.objects.create(dedupe_key=f"v{i}", customer=c, name="Viewed Product", occurred_at=NOW)
        segments_touch([a.pk])
        assert SegmentTouch.objects.count() == 1
        assert tasks.segments_refresh_touched_task.call() == 1
        assert set(SegmentMembership.objects.values_list("customer_id", flat=True)) == {a.pk}  # b was not touched
        assert Event.objects.filter(name=ENTERED_EVENT, customer_id=a.pk).exists()
        assert SegmentTouch.objects.count() == 0
        assert segments_refresh_touched() == 0
