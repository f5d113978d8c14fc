"""Rebuilds: the diff (entered / exited), its history, the timeline events, relative-time exits, static lists."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.models import Source
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.orders.models import Order
from kervan.segments import actions, tasks
from kervan.segments.actions import ENTERED_EVENT, EXITED_EVENT
from kervan.segments.models import Segment, SegmentChange, SegmentMembership

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def customer(city="Ankara", spent="0", last_order=None, email=""):
    c = Customer.objects.create(first_name="A", city=city, email=email)
    CustomerStats.objects.create(
        customer=c, total_spent=Decimal(spent), order_count=1 if last_order else 0, last_order_at=last_order
    )
    return c


def members(segment):
    return set(SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def test_rebuild_records_the_diff_history_and_timeline_events():
    with clock.frozen(NOW):
        ankara, istanbul, izmir = customer("Ankara"), customer("İstanbul"), customer("ISTANBUL")
        segment = actions.segment_create(
            actor=Actor.system(),
            name="Istanbul",
            definition={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "istanbul"}]},
        )
        first = actions.segment_rebuild(segment=segment)
        assert set(first.entered) == {istanbul.pk, izmir.pk} and first.exited == []
        assert members(segment) == {istanbul.pk, izmir.pk}
        assert (
            Event.objects.filter(name=ENTERED_EVENT, customer_id=istanbul.pk, properties__segment_id=segment.pk).count()
            == 1
        )

        again = actions.segment_rebuild(segment=segment)  # nothing changed: no rows, no events
        assert again.entered == again.exited == []
        assert Event.objects.filter(name=ENTERED_EVENT).count() == 2

        clock.advance(dt.timedelta(minutes=1))
        Customer.objects.filter(pk=izmir.pk).update(city="İzmir")
        Customer.objects.filter(pk=ankara.pk).update(city="istanbul")
        third = actions.segment_rebuild(segment=segment)
        assert third.entered == [ankara.pk] and third.exited == [izmir.pk]
        assert members(segment) == {istanbul.pk, ankara.pk}
        assert Segment.objects.get(pk=segment.pk).member_count == 2
        history = list(SegmentChange.objects.filter(customer_id=izmir.pk).order_by("at").values_list("kind", flat=True))
        assert history == ["entered", "exited"]
        assert Event.objects.filter(name=EXITED_EVENT, customer_id=izmir.pk).count() == 1


def test_a_relative_time_condition_lets_people_out_when_time_passes():
    with clock.frozen(NOW):
        recent = customer(spent="100", last_order=NOW - dt.timedelta(days=29, hours=23))
        segment = actions.segment_create(
            actor=Actor.system(),
            name="Ordered in 30 days",
            definition={
                "match": "all",
                "conditions": [{"field": "last_order_at", "op": "within_last_days", "value": 30}],
            },
        )
        assert segment.relative
        actions.segment_rebuild(segment=segment)
        assert members(segment) == {recent.pk}
        clock.advance(dt.timedelta(minutes=59))
        tasks.segments_move_with_time.call()
        assert members(segment) == {recent.pk}
        clock.advance(dt.timedelta(minutes=2))  # 30 days and a minute since the order
        tasks.segments_move_with_time.call()
        assert members(segment) == set()
        assert Event.objects.filter(name=EXITED_EVENT, customer_id=recent.pk, occurred_at=clock.now()).exists()


def test_segments_depending_on_others_are_rebuilt_after_them():
    with clock.frozen(NOW):
        big = customer(spent="5000")
        small = customer(spent="10", city="İzmir")
        spenders = actions.segment_create(
            actor=Actor.system(),
            name="Spenders",
            definition={"match": "all", "conditions": [{"field": "total_spent", "op": "gt", "value": "2000"}]},
        )
        others = actions.segment_create(
            actor=Actor.system(),
            name="Not spenders",
            definition={"match": "all", "conditions": [{"field": "segment", "op": "not_in", "value": spenders.pk}]},
        )
        actions.segments_rebuild_all()
        assert members(spenders) == {big.pk}
        assert members(others) == {small.pk}


def test_static_lists_from_a_selection_and_a_csv(admin_actor):
    with clock.frozen(NOW):
        a, b = customer(email="a@example.com"), customer(email="b@example.com")
        segment = actions.segment_create(actor=admin_actor, name="VIP list", kind="static")
        assert actions.static_list_add(actor=admin_actor, segment=segment, customer_ids=[a.pk]) == 1
        added, missing = actions.static_list_add_csv(
            actor=admin_actor,
            segment=segment,
            data=b"email\nA@example.com\nb@example.com\nnobody@example.com\n",
        )
        assert (added, missing) == (1, 1)
        assert members(segment) == {a.pk, b.pk}
        tasks.segments_rebuild_all.call()  # a static list is never rebuilt away
        assert members(segment) == {a.pk, b.pk}


def test_a_sales_channel_order_condition(admin_actor):
    with clock.frozen(NOW):
        a, b = customer(), customer()
        source = Source.objects.create(key="pos", name="POS")
        Order.objects.create(source=source, customer=a, sales_channel="pos", placed_at=NOW - dt.timedelta(days=3))
        Order.objects.create(
            source=source, external_id="2", customer=b, sales_channel="pos", status="cancelled", placed_at=NOW
        )
        segment = actions.segment_create(
            actor=admin_actor,
            name="POS buyers",
            definition={
                "match": "all",
                "conditions": [{"field": "sales_channel", "op": "yes", "value": "pos", "within_days": 7}],
            },
        )
        actions.segment_rebuild(segment=segment)
        assert members(segment) == {a.pk}
