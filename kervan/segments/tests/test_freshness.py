"""Incremental freshness: only the touched customers are re-evaluated, by the worker, from a claimable queue."""

import datetime as dt
import uuid

import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.segments import actions, tasks
from kervan.segments.actions import ENTERED_EVENT
from kervan.segments.freshness import segments_refresh_touched, segments_touch
from kervan.segments.models import Segment, SegmentChange, SegmentMembership, SegmentTouch

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


# Membership follows the product's own writers: nothing calls segments_touch by hand below.


def segment_of(conditions, name="S"):
    return actions.segment_create(
        actor=Actor.system(), name=name, definition={"match": "all", "conditions": conditions}
    )


def member_ids(segment):
    return set(SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def test_an_order_brings_its_customer_in_once_the_writer_commits(django_capture_on_commit_callbacks):
    from kervan.customers.tests.factories import make_customer, make_order

    buyers = segment_of([{"field": "order_count", "op": "gte", "value": 1}])
    ayse, ali = make_customer(), make_customer()
    actions.segment_rebuild(segment=buyers)
    assert member_ids(buyers) == set()
    with django_capture_on_commit_callbacks(execute=True):  # the commit wakes the worker (immediate in tests)
        make_order(ayse)
    assert member_ids(buyers) == {ayse.pk}
    assert Event.objects.filter(name=ENTERED_EVENT, customer_id=ayse.pk).count() == 1
    assert not SegmentTouch.objects.exists()  # drained
    assert ali.pk not in member_ids(buyers)


def test_a_profile_edit_moves_the_customer_in_and_out(django_capture_on_commit_callbacks):
    from kervan.customers.actions import customer_update
    from kervan.customers.tests.factories import make_customer

    izmir = segment_of([{"field": "city", "op": "eq", "value": "izmir"}])
    ayse = make_customer(city="Ankara")
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(actor=Actor.system(), customer=ayse, city="İzmir")
    assert member_ids(izmir) == {ayse.pk}
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(actor=Actor.system(), customer=ayse, city="Bursa")
    assert member_ids(izmir) == set()
    kinds = list(SegmentChange.objects.filter(customer_id=ayse.pk).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["entered", "exited"]


def test_events_from_the_api_bring_the_customer_in(api, django_capture_on_commit_callbacks):
    from kervan.customers.tests.factories import make_customer

    viewers = segment_of(
        [
            {
                "field": "event",
                "name": "Viewed Product",
                "op": "at_least",
                "count": 2,
                "within_days": 30,
                "where": [{"property": "category", "value": "Ayakkabı"}],
            }
        ]
    )
    zeynep = make_customer()
    now = clock.now().isoformat()

    def view(category):
        return {
            "type": "track",
            "event_id": str(uuid.uuid4()),
            "name": "Viewed Product",
            "customer_id": zeynep.pk,
            "occurred_at": now,
            "properties": {"category": category},
        }

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/events/batch", {"batch": [view("Ayakkabı"), view("Çanta")]}).status_code == 202
    assert member_ids(viewers) == set()  # one view of shoes is not two
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/events/batch", {"batch": [view("Ayakkabı")]}).status_code == 202
    assert member_ids(viewers) == {zeynep.pk}


def test_a_change_every_profile_may_show_rebuilds_every_segment(django_capture_on_commit_callbacks):
    from kervan.customers.cache import everything_changed
    from kervan.customers.tests.factories import make_customer

    ankara = segment_of([{"field": "city", "op": "eq", "value": "Ankara"}])
    ayse = make_customer(city="İzmir")
    Customer.objects.filter(pk=ayse.pk).update(city="Ankara")  # a bulk write (an import) that announces no one
    with django_capture_on_commit_callbacks(execute=True):
        everything_changed()
    assert member_ids(ankara) == {ayse.pk}


def test_with_no_dynamic_segment_a_change_costs_no_query(django_assert_num_queries):
    from kervan.core.changes import customers_changed
    from kervan.segments.freshness import forget_any_segment

    forget_any_segment()
    customers_changed([1, 2])  # learns there is nothing to keep fresh
    with django_assert_num_queries(0):
        customers_changed([3, 4])
    assert not SegmentTouch.objects.exists()
    segment_of([{"field": "city", "op": "eq", "value": "Ankara"}])  # saving a segment is seen at once
    customers_changed([5])
    assert list(SegmentTouch.objects.values_list("customer_id", flat=True)) == [5]


def test_time_moves_re_evaluate_only_the_customers_at_a_window_edge():
    from kervan.segments.freshness import segments_move_with_time

    with clock.frozen(NOW):
        near = Customer.objects.create(city="Ankara")
        far = Customer.objects.create(city="Ankara")
        for c in (near, far):
            CustomerStats.objects.create(customer=c)
        # near's second view leaves the 7-day window 30 s from now; far's views stay in it for days
        for i, (c, ago) in enumerate(
            [(near, dt.timedelta(days=7) - dt.timedelta(seconds=30)), (near, dt.timedelta(days=8))]
            + [(far, dt.timedelta(days=1)), (far, dt.timedelta(days=2))]
        ):
            Event.objects.create(dedupe_key=f"e{i}", customer=c, name="Viewed Product", occurred_at=NOW - ago)
        Event.objects.create(dedupe_key="near-old", customer=near, name="Viewed Product", occurred_at=NOW)
        twice = segment_of(
            [{"field": "event", "name": "Viewed Product", "op": "at_least", "count": 2, "within_days": 7}]
        )
        actions.segment_rebuild(segment=twice)
        assert member_ids(twice) == {near.pk, far.pk}
        clock.advance(dt.timedelta(seconds=20))
        segments_move_with_time()
        assert member_ids(twice) == {near.pk, far.pk}
        Customer.objects.filter(pk=far.pk).update(city="X")  # unannounced: only a re-evaluation would notice
        clock.advance(dt.timedelta(seconds=20))  # 40 s: near's view is 7 days and 10 s old
        segments_move_with_time()
        assert member_ids(twice) == {far.pk}
        assert SegmentChange.objects.filter(customer_id=far.pk).count() == 1  # far was not re-evaluated
        assert Segment.objects.get(pk=twice.pk).moved_until == clock.now()


def test_a_segment_not_moved_for_a_day_is_rebuilt_whole():
    from kervan.segments.freshness import segments_move_with_time

    with clock.frozen(NOW):
        c = Customer.objects.create(city="Ankara")
        CustomerStats.objects.create(customer=c, order_count=1, last_order_at=NOW - dt.timedelta(days=3))
        recent = segment_of([{"field": "last_order_at", "op": "within_last_days", "value": 30}])
        assert Segment.objects.get(pk=recent.pk).moved_until is None
        segments_move_with_time()  # never moved: evaluated whole
        assert member_ids(recent) == {c.pk}
        clock.advance(dt.timedelta(days=28))
        segments_move_with_time()  # a day and more since: whole again
        assert member_ids(recent) == set()


def test_new_events_re_evaluate_only_the_segments_that_read_events():
    with clock.frozen(NOW):
        c = Customer.objects.create(city="İzmir")
        CustomerStats.objects.create(customer=c)
        ankara = segment_of([{"field": "city", "op": "eq", "value": "Ankara"}], name="Ankara")
        viewers = segment_of(
            [{"field": "event", "name": "Viewed Product", "op": "at_least", "count": 1, "within_days": 30}], name="V"
        )
        of_viewers = segment_of([{"field": "segment", "op": "in", "value": viewers.pk}], name="Of viewers")
        for s in (ankara, viewers, of_viewers):
            actions.segment_rebuild(segment=s)
        # Written without announcing them: only a re-evaluation notices.
        Customer.objects.filter(pk=c.pk).update(city="Ankara")
        Event.objects.create(dedupe_key="v", customer=c, name="Viewed Product", occurred_at=NOW)

        segments_touch([c.pk], events_only=True)
        segments_refresh_touched()
        assert (member_ids(ankara), member_ids(viewers), member_ids(of_viewers)) == (set(), {c.pk}, {c.pk})

        segments_touch([c.pk], events_only=False)
        segments_touch([c.pk], events_only=True)  # a later events-only touch keeps the wider one
        assert SegmentTouch.objects.get(customer_id=c.pk).events_only is False
        segments_refresh_touched()
        assert member_ids(ankara) == {c.pk}
