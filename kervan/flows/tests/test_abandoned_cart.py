"""The ready-made abandoned-cart flow end to end: a checkout through the ingestion API, the wait, three emails to a
real SMTP server on loopback (the last with a coupon), and the customer leaving the flow at once when they order."""

import datetime as dt

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.tests.factories import make_order
from kervan.flows.actions import flow_publish, flow_update
from kervan.flows.library import library_start
from kervan.flows.models import FlowRun, FlowStepLog

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = [{"title": "Kırmızı Elbise", "price": "349.90", "quantity": 1}]


@pytest.fixture
def flow(db, sender):
    system = Actor.system()
    flow = library_start(actor=system, key="abandoned_cart", publish=False)
    flow_update(actor=system, flow=flow, settings={**flow.settings, "holdout_percent": 0})
    flow_publish(actor=system, flow=flow)
    return flow


def test_three_reminders_the_last_with_a_coupon(flow, shopper, track, tick, clock, smtp):
    ayse = shopper(first_name="Ayşe", email="ayse@example.com")
    track("Started Checkout", ayse, items=ITEMS, total="349.90")
    tick()
    run = FlowRun.objects.get(flow=flow, customer=ayse)
    assert run.status == "active" and not smtp.received  # "and no order within 1 hour": nothing yet

    clock.advance(dt.timedelta(minutes=61))
    tick()
    first = smtp.to("ayse@example.com")
    assert len(first) == 1
    assert first[0].message["Subject"] == "Sepetinde ürünler kaldı"
    assert "Kırmızı Elbise" in first[0].message.get_body(("plain",)).get_content()

    clock.advance(dt.timedelta(hours=23))
    tick()
    assert len(smtp.to("ayse@example.com")) == 2

    clock.advance(dt.timedelta(hours=48))
    tick()
    mails = smtp.to("ayse@example.com")
    assert len(mails) == 3
    third = mails[2].message.get_body(("plain",)).get_content()
    run.refresh_from_db()
    assert run.status == "completed"
    assert run.context["coupon"].startswith("SEPET-") and run.context["coupon"] in third

    clock.advance(dt.timedelta(days=3))
    tick()
    assert len(smtp.to("ayse@example.com")) == 3  # and nothing more


def test_an_order_within_the_hour_means_no_reminder(flow, shopper, track, tick, clock, smtp):
    ayse = shopper(email="ayse@example.com")
    track("Started Checkout", ayse, items=ITEMS)
    tick()
    clock.advance(dt.timedelta(minutes=20))
    make_order(ayse, placed_at=clock.now())
    tick()
    clock.advance(dt.timedelta(hours=2))
    tick()
    run = FlowRun.objects.get(flow=flow, customer=ayse)
    assert (run.status, run.exit_reason) == ("exited", "event:Placed Order")
    assert not smtp.received


def test_ordering_after_the_first_reminder_leaves_the_flow_at_once(flow, shopper, track, tick, clock, smtp):
    ayse = shopper(email="ayse@example.com")
    track("Started Checkout", ayse, items=ITEMS)
    clock.advance(dt.timedelta(minutes=61))
    tick()
    assert len(smtp.to("ayse@example.com")) == 1
    clock.advance(dt.timedelta(hours=2))
    make_order(ayse, placed_at=clock.now())
    tick()
    run = FlowRun.objects.get(flow=flow, customer=ayse)
    assert run.status == "exited"  # at once, not when the next step falls due
    assert run.converted_at is not None  # the flow's goal (an order within 7 days) was reached
    clock.advance(dt.timedelta(days=4))
    tick()
    assert len(smtp.to("ayse@example.com")) == 1
    outcomes = list(FlowStepLog.objects.filter(run=run).order_by("seq").values_list("step", "outcome"))
    assert outcomes == [("s1", "sent")]


def test_a_second_checkout_while_in_the_flow_does_not_start_it_again(flow, shopper, track, tick, clock, smtp):
    ayse = shopper(email="ayse@example.com")
    track("Started Checkout", ayse, items=ITEMS)
    tick()
    track("Started Checkout", ayse, items=ITEMS)
    tick()
    assert FlowRun.objects.filter(flow=flow, customer=ayse).count() == 1


def test_a_flow_does_not_answer_checkouts_from_before_it_went_live(sender, shopper, track, tick, clock):
    from kervan.flows.models import Flow

    ayse = shopper(email="ayse@example.com")
    track("Started Checkout", ayse, items=ITEMS)  # an hour before the shop starts the flow
    tick()
    clock.advance(dt.timedelta(hours=1))
    flow = library_start(actor=Actor.system(), key="abandoned_cart")
    tick()
    assert not FlowRun.objects.filter(flow=flow).exists()
    track("Started Checkout", ayse, items=ITEMS)
    tick()
    assert FlowRun.objects.filter(flow=Flow.objects.get(pk=flow.pk), customer=ayse).count() == 1
