"""The triggers not covered by the library's flows: event property filters, leaving a segment, order statuses,
first-order anniversaries and custom date fields, sunset, new products in a subscribed category; and attribution."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog.actions import category_create, product_create
from kervan.customers.actions import customer_update
from kervan.customers.custom_fields import custom_field_define
from kervan.customers.tests.factories import make_order
from kervan.flows.actions import flow_create, flow_publish, product_subscribe
from kervan.flows.models import FlowRun
from kervan.flows.selectors import attributed_revenue
from kervan.messaging.actions import message_opened, template_save
from kervan.messaging.models import Message
from kervan.orders.actions.orders import order_set_status
from kervan.segments.actions import segment_create, segment_rebuild

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = {"tr": {"subject": "Merhaba", "html": "<p>{{ flow.product.title if flow.product else 'Merhaba' }}</p>"}}


@pytest.fixture
def template(sender):
    return template_save(actor=Actor.system(), name="Merhaba", channel="email", purpose="marketing", content=CONTENT)


def live(trigger: dict, template, **settings):
    flow = flow_create(
        actor=Actor.system(),
        name="Akış",
        trigger=trigger,
        graph={"start": "s1", "steps": {"s1": {"type": "send", "template": template.pk, "next": None}}},
        settings=settings,
    )
    flow_publish(actor=Actor.system(), flow=flow)
    flow.refresh_from_db()
    return flow


def entered(flow) -> set[int]:
    return set(FlowRun.objects.filter(flow=flow).values_list("customer_id", flat=True))


def test_an_event_trigger_with_property_filters(template, shopper, track, tick):
    flow = live(
        {"type": "event", "event": "Added to Cart", "where": [{"property": "category", "value": "ayakkabı"}]}, template
    )
    ayse, ali = shopper(email="ayse@example.com"), shopper(email="ali@example.com")
    track("Added to Cart", ayse, category="ayakkabı")
    track("Added to Cart", ali, category="çanta")
    tick()
    assert entered(flow) == {ayse.pk}


def test_leaving_a_segment(template, shopper, tick):
    segment = segment_create(actor=Actor.system(), name="VIP", definition={"match": "all", "conditions": [
        {"field": "tag", "op": "has", "value": "vip"}]})  # fmt: skip
    flow = live({"type": "segment", "segment": segment.pk, "on": "exited"}, template)
    ayse = shopper(email="ayse@example.com", tags=["vip"])
    segment_rebuild(segment=segment)
    tick()
    assert entered(flow) == set()
    customer_update(actor=Actor.system(), customer=ayse, tags=[])
    segment_rebuild(segment=segment)
    tick()
    assert entered(flow) == {ayse.pk}


def test_order_statuses(template, shopper, tick, clock):
    cancelled = live({"type": "order", "status": "cancelled"}, template)
    shipped = live({"type": "order", "status": "shipped"}, template)
    ayse, ali = shopper(email="ayse@example.com"), shopper(email="ali@example.com")
    first = make_order(ayse, placed_at=clock.now())
    second = make_order(ali, placed_at=clock.now())
    order_set_status(actor=Actor.system(), order=first, status="cancelled")
    order_set_status(actor=Actor.system(), order=second, status="shipped", carrier="Aras", tracking_number="A1")
    tick()
    assert (entered(cancelled), entered(shipped)) == ({ayse.pk}, {ali.pk})


def test_first_order_anniversary_and_a_custom_date_field(template, shopper, tick):
    from kervan.core.clock import frozen

    custom_field_define(actor=Actor.system(), key="uyelik", label="Üyelik", field_type="date")
    anniversary = live({"type": "date", "field": "first_order", "at": "09:00"}, template)
    membership = live({"type": "date", "field": "custom:uyelik", "days_before": 3, "at": "09:00"}, template)
    with frozen(dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)):  # 08:00 in Istanbul
        ayse = shopper(email="ayse@example.com")
        make_order(ayse, placed_at=dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC))
        new = shopper(email="new@example.com")
        make_order(new, placed_at=dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC))  # today: not an anniversary
        ali = shopper(email="ali@example.com", custom_fields={"uyelik": "2020-03-04"})
        tick(scan=True)
        assert entered(anniversary) == {ayse.pk}
        assert entered(membership) == {ali.pk}
        assert FlowRun.objects.get(flow=anniversary).due_at == dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def test_sunset_after_days_without_activity(template, shopper, track, tick, clock):
    flow = live({"type": "sunset", "days": 30}, template)
    ayse, ali = shopper(email="ayse@example.com"), shopper(email="ali@example.com")
    track("Viewed Page", ayse)
    track("Viewed Page", ali)
    tick(scan=True)
    clock.advance(dt.timedelta(days=20))
    track("Viewed Page", ali)
    clock.advance(dt.timedelta(days=11))
    tick(scan=True)
    assert entered(flow) == {ayse.pk}


def test_new_products_in_a_subscribed_category(template, shopper, tick, clock, smtp):
    system = Actor.system()
    shoes = category_create(actor=system, name="Ayakkabı")
    bags = category_create(actor=system, name="Çanta")
    flow = live({"type": "new_product"}, template)
    ayse = shopper(email="ayse@example.com")
    product_subscribe(customer=ayse, kind="new_product", category=shoes)
    tick(scan=True)
    clock.advance(dt.timedelta(minutes=5))
    product_create(actor=system, title="Yeni Bot", category=shoes, variants=[{"sku": "BOT-1", "price": "900"}])
    product_create(actor=system, title="Yeni Çanta", category=bags, variants=[{"sku": "CAN-1", "price": "500"}])
    clock.advance(dt.timedelta(minutes=5))
    tick(scan=True)
    assert entered(flow) == {ayse.pk}
    assert "Yeni Bot" in smtp.to("ayse@example.com")[0].message.get_body(("plain",)).get_content()


def test_orders_go_to_the_last_message_opened_within_its_window(template, shopper, track, tick, clock):
    flow = live({"type": "event", "event": "Started Checkout"}, template)
    ayse, ali, can = (shopper(email=f"{n}@example.com") for n in ("ayse", "ali", "can"))
    for person in (ayse, ali, can):
        track("Started Checkout", person)
    tick()
    sent = {m.customer_id: m for m in Message.objects.filter(origin__startswith=f"flow:{flow.pk}:")}
    assert set(sent) == {ayse.pk, ali.pk, can.pk}
    message_opened(message=sent[ayse.pk], machine=False)
    message_opened(message=sent[ali.pk], machine=False)
    clock.advance(dt.timedelta(days=1))
    make_order(ayse, placed_at=clock.now(), total_lines=((1, "250.00"),))  # opened a day ago: the flow's
    make_order(can, placed_at=clock.now(), total_lines=((1, "90.00"),))  # never opened: nobody's
    clock.advance(dt.timedelta(days=6))
    make_order(ali, placed_at=clock.now(), total_lines=((1, "80.00"),))  # opened 7 days ago: outside 5 days
    report = attributed_revenue(flow)
    assert (report["orders"], report["revenue"], report["recipients"]) == (1, Decimal("250.00"), 3)
    assert report["steps"]["s1"]["revenue_per_recipient"] == Decimal("83.33")


def test_a_later_message_from_elsewhere_takes_the_order(template, shopper, track, tick, clock):
    from kervan.messaging.actions import messages_queue

    flow = live({"type": "event", "event": "Started Checkout"}, template)
    ayse = shopper(email="ayse@example.com")
    track("Started Checkout", ayse)
    tick()
    message_opened(message=Message.objects.get(customer=ayse), machine=False)
    clock.advance(dt.timedelta(hours=2))
    messages_queue(
        [Message(origin="campaign:1", customer=ayse, channel="email", purpose="marketing", template=template)]
    )
    tick()
    message_opened(message=Message.objects.get(origin="campaign:1"), machine=False)
    clock.advance(dt.timedelta(hours=1))
    make_order(ayse, placed_at=clock.now(), total_lines=((1, "300.00"),))
    report = attributed_revenue(flow)
    assert (report["orders"], report["revenue"]) == (0, Decimal("0"))  # the campaign was the last touch
