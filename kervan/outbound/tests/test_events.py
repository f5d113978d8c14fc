"""Each built-in event is emitted by the real action that makes it happen, in its transaction, with its data."""

import datetime as dt
import json

import pytest
from django.db import transaction

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_merge
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.outbound.models import WebhookDelivery
from kervan.segments import actions as segment_actions

from .conftest import drain

pytestmark = pytest.mark.django_db


def sent(receiver) -> list[tuple[str, dict]]:
    return [(headers["X-Kervan-Event"], json.loads(body)) for _path, headers, body in receiver.posted]


def test_customer_created(clock, receiver, endpoint):
    endpoint(events=["customer.created"])
    customer = make_customer(first_name="Ayşe", last_name="Yılmaz", email="ayse@example.com", phone="+905321234567")
    assert drain() == {"delivered": 1}
    [(event, body)] = sent(receiver)
    assert event == "customer.created" and body["id"] == f"customer:{customer.pk}:created"
    assert body["data"]["customer"] == {
        "id": customer.pk,
        "first_name": "Ayşe",
        "last_name": "Yılmaz",
        "email": "ayse@example.com",
        "phone": "+905321234567",
        "city": "",
        "country": "TR",
        "language": "tr",
        "created_at": customer.created_at.isoformat(),
    }


def test_customers_merged(clock, receiver, endpoint):
    survivor = make_customer(email="ayse@example.com")
    merged = make_customer(email="ayse.y@example.com", city="İzmir")
    endpoint(events=["customer.merged"])
    record = customer_merge(actor=Actor.system(), survivor=survivor, merged=merged)
    drain()
    [(event, body)] = sent(receiver)
    assert (event, body["id"]) == ("customer.merged", f"merge:{record.pk}")
    assert body["data"]["merged_id"] == merged.pk
    assert body["data"]["customer"]["id"] == survivor.pk and body["data"]["customer"]["city"] == "İzmir"


def test_consent_changed(clock, receiver, endpoint):
    customer = make_customer(email="ayse@example.com")
    endpoint(events=["consent.changed"])
    record = consent_record(actor=Actor.system(), customer=customer, channel="email", status="granted",
                            source="checkout form")  # fmt: skip
    drain()
    [(event, body)] = sent(receiver)
    assert (event, body["id"]) == ("consent.changed", f"consent:{record.pk}")
    data = body["data"]
    assert (data["customer_id"], data["channel"], data["purpose"], data["status"], data["source"]) == (
        customer.pk, "email", "marketing", "granted", "checkout form")  # fmt: skip
    assert dt.datetime.fromisoformat(data["at"]) == record.occurred_at


def test_order_placed(clock, receiver, endpoint):
    customer = make_customer()
    endpoint(events=["order.placed"])
    order = make_order(customer, total_lines=((2, "100.00"), (1, "49.90")), shipping="29.90",
                       placed_at=dt.datetime(2026, 3, 1, 12, 0, tzinfo=IST))  # fmt: skip
    drain()
    [(event, body)] = sent(receiver)
    assert (event, body["id"]) == ("order.placed", f"order:{order.pk}:placed")
    data = body["data"]["order"]
    assert data["order_id"] == order.pk and data["number"] == order.number
    assert (data["value"], data["currency"], data["items"], data["status"]) == ("279.80", "TRY", 2, "placed")
    assert data["customer_id"] == customer.pk and data["placed_at"] == "2026-03-01T12:00:00+03:00"
    assert data["lines"] == [
        {"sku": "", "quantity": 2, "unit_price": "100.00", "total": "200.00"},
        {"sku": "", "quantity": 1, "unit_price": "49.90", "total": "49.90"},
    ]


def test_segment_entered_and_exited_by_a_rebuild(clock, receiver, endpoint):
    ankara, izmir = make_customer(city="Ankara"), make_customer(city="İzmir")
    segment = segment_actions.segment_create(actor=Actor.system(), name="Ankara",
        definition={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Ankara"}]})  # fmt: skip
    endpoint(events=["segment.entered", "segment.exited"])
    segment_actions.segment_rebuild(segment=segment)
    drain()
    [(event, body)] = sent(receiver)
    assert event == "segment.entered"
    assert body["data"] == {"segment_id": segment.pk, "segment": "Ankara", "customer_id": ankara.pk}
    type(ankara).objects.filter(pk=ankara.pk).update(city="Bursa")
    clock.advance(dt.timedelta(seconds=1))
    segment_actions.segment_rebuild(segment=segment)
    drain()
    assert sent(receiver)[1][0] == "segment.exited" and sent(receiver)[1][1]["data"]["customer_id"] == ankara.pk
    assert izmir.pk not in {b["data"]["customer_id"] for _e, b in sent(receiver)}


def test_static_list_additions_are_segment_entries(clock, receiver, endpoint):
    customers = [make_customer() for _ in range(3)]
    segment = segment_actions.segment_create(actor=Actor.system(), name="VIP", kind="static")
    endpoint(events=["segment.entered"])
    segment_actions.static_list_add(actor=Actor.system(), segment=segment, customer_ids=[c.pk for c in customers])
    assert WebhookDelivery.objects.filter(event="segment.entered").count() == 3
    assert drain() == {"delivered": 3}


def test_nothing_is_queued_for_an_event_no_endpoint_chose(clock, receiver, endpoint):
    endpoint(events=["order.placed"])
    with transaction.atomic():
        make_customer()
    assert WebhookDelivery.objects.count() == 0
