"""Sending: signed POSTs to a real receiver on loopback, retries with back-off, Retry-After, dead letters, replay,
and the outbox's promise (a rolled-back change sends nothing; an event emitted twice is sent once)."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core.management import call_command
from django.db import transaction

from kervan.accounts.actors import Actor
from kervan.core import signing
from kervan.core.outgoing import emit, register_outbound_event
from kervan.customers.tests.factories import make_customer
from kervan.outbound import actions, sending
from kervan.outbound.models import WebhookDelivery

from .conftest import drain

pytestmark = pytest.mark.django_db


def emit_test_event(event_id="evt-1", data=None):
    with transaction.atomic():
        emit("customer.created", event_id=event_id, data=data or {"customer": {"id": 7, "email": "ayse@example.com"}})


def test_a_delivery_is_signed_with_the_endpoints_secret_and_the_timestamp(clock, receiver, endpoint):
    hook = endpoint(events=["customer.created"])
    emitted_at = clock.now()
    emit_test_event()
    assert drain() == {"delivered": 1}
    [(path, headers, body)] = receiver.posted
    assert path == "/hook"
    delivery = WebhookDelivery.objects.get()
    assert headers["X-Kervan-Event"] == "customer.created"
    assert headers["X-Kervan-Delivery"] == str(delivery.pk)
    assert headers["X-Kervan-Timestamp"] == str(int(clock.now().timestamp()))
    assert headers["Content-Type"] == "application/json"
    # What a receiver computes, by hand: HMAC-SHA256(secret, "<timestamp>.<body>")
    expected = hmac.new(hook.secret.encode(), headers["X-Kervan-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Kervan-Signature"] == "sha256=" + expected.hexdigest()
    assert signing.verify(hook.secret, body, timestamp=headers["X-Kervan-Timestamp"],
                          signature=headers["X-Kervan-Signature"])  # fmt: skip
    assert not signing.verify("other", body, timestamp=headers["X-Kervan-Timestamp"],
                              signature=headers["X-Kervan-Signature"])  # fmt: skip
    clock.advance(dt.timedelta(minutes=6))  # too old: a captured request cannot be replayed later
    assert not signing.verify(hook.secret, body, timestamp=headers["X-Kervan-Timestamp"],
                              signature=headers["X-Kervan-Signature"])  # fmt: skip
    assert json.loads(body) == {
        "id": "evt-1",
        "event": "customer.created",
        "created_at": emitted_at.isoformat(),
        "data": {"customer": {"id": 7, "email": "ayse@example.com"}},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.delivered_at == delivery.last_attempt_at and delivery.due_at is None


def test_a_500_is_tried_again_after_a_back_off_then_delivered(clock, receiver, endpoint):
    endpoint(events=["customer.created"])
    receiver.once["/hook"] = [(500, b"database is down"), (503, b"busy")]
    emit_test_event()
    assert drain() == {"retry": 1}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_response == "database is down"
    first_wait = delivery.due_at - clock.now()
    assert dt.timedelta(seconds=72) <= first_wait <= dt.timedelta(seconds=108)  # 90 s ± 20 %
    assert drain() == {}  # not due yet
    clock.advance(first_wait)
    assert drain() == {"retry": 1}
    delivery.refresh_from_db()
    second_wait = delivery.due_at - clock.now()
    assert dt.timedelta(seconds=216) <= second_wait <= dt.timedelta(seconds=324)  # 270 s ± 20 %: exponential
    clock.advance(second_wait)
    assert drain() == {"delivered": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 3, 204, "")  # fmt: skip
    bodies = {body for _path, _headers, body in receiver.posted}
    assert len(receiver.posted) == 3 and len(bodies) == 1  # the same body (and event id) every time


def test_a_400_is_not_tried_again(clock, receiver, endpoint):
    endpoint(events=["customer.created"])
    receiver.once["/hook"] = [(400, b'{"error": "unknown field"}')]
    emit_test_event()
    assert drain() == {"failed": 1}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.due_at) == ("failed", 1, 400, None)
    assert delivery.last_response == '{"error": "unknown field"}' and "HTTP 400" in delivery.last_error
    clock.advance(dt.timedelta(days=2))
    assert drain() == {} and len(receiver.posted) == 1


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_tried_again(clock, receiver, endpoint, status):
    endpoint(events=["customer.created"])
    receiver.once["/hook"] = [(status, b"")]
    emit_test_event()
    assert drain() == {"retry": 1}
    assert WebhookDelivery.objects.get().status == "pending"


def test_retry_after_is_honoured(clock, receiver, endpoint):
    endpoint(events=["customer.created"])
    receiver.once["/hook"] = [(429, b"slow down", {"Retry-After": "3600"})]
    emit_test_event()
    assert drain() == {"retry": 1}
    delivery = WebhookDelivery.objects.get()
    assert delivery.due_at == clock.now() + dt.timedelta(hours=1)
    clock.advance(dt.timedelta(minutes=59))
    assert drain() == {}
    clock.advance(dt.timedelta(minutes=1))
    assert drain() == {"delivered": 1}


def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(clock, endpoint):
    from kervan.core.testing import free_port

    hook = endpoint(events=["customer.created"])
    hook.url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused
    hook.save()
    emit_test_event()
    waited = dt.timedelta(0)
    for attempt in range(1, sending.MAX_ATTEMPTS):
        assert drain() == {"retry": 1}, attempt
        delivery = WebhookDelivery.objects.get()
        assert delivery.attempts == attempt and delivery.last_status_code is None
        assert "could not connect" in delivery.last_error
        wait = delivery.due_at - clock.now()
        waited += wait
        clock.advance(wait)
    assert drain() == {"dead": 1}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.due_at) == ("dead", sending.MAX_ATTEMPTS, None)
    assert dt.timedelta(hours=14) < waited < dt.timedelta(hours=28)  # about a day of trying


def test_replay_sends_again_with_the_same_event_id_and_is_audited(clock, receiver, endpoint):
    from kervan.core.models import AuditLog

    endpoint(events=["customer.created"])
    receiver.once["/hook"] = [(400, b"no")]
    emit_test_event(event_id="customer:42:created")
    drain()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    admin = Actor.system()
    actions.delivery_replay(actor=admin, delivery=delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.replays, delivery.due_at) == ("pending", 0, 1, clock.now())
    assert drain() == {"delivered": 1}
    first, second = (json.loads(body) for _p, _h, body in receiver.posted)
    assert first == second and second["id"] == "customer:42:created"
    assert receiver.posted[1][1]["X-Kervan-Delivery"] == str(delivery.pk)
    log = AuditLog.objects.filter(object_type="outbound.webhookdelivery", object_id=str(delivery.pk)).get()
    assert log.changes["replayed"] == [None, "customer:42:created"]


def test_an_event_emitted_in_a_rolled_back_transaction_sends_nothing(clock, receiver, endpoint):
    endpoint(events=["customer.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        make_customer(email="rolled@example.com")
        assert WebhookDelivery.objects.count() == 1  # in the outbox, inside the transaction
        raise RuntimeError("the change fails after the emit")
    assert WebhookDelivery.objects.count() == 0
    assert drain() == {} and receiver.posted == []


def test_an_event_emitted_twice_is_sent_once_per_endpoint(clock, receiver, endpoint):
    endpoint(events=["customer.created"], path="/a")
    endpoint(events=["customer.created"], path="/b")
    endpoint(events=["order.placed"], path="/c")  # did not choose it
    emit_test_event(event_id="same")
    emit_test_event(event_id="same")
    assert WebhookDelivery.objects.count() == 2
    assert drain() == {"delivered": 2}
    assert sorted(path for path, _h, _b in receiver.posted) == ["/a", "/b"]


def test_an_endpoint_turned_off_keeps_its_deliveries_for_when_it_is_on_again(clock, receiver, endpoint):
    hook = endpoint(events=["customer.created"])
    emit_test_event()
    actions.endpoint_update(actor=Actor.system(), endpoint=hook, active=False)
    emit_test_event(event_id="while-off")  # an endpoint that is off gets no new events
    assert drain() == {"held": 1} and receiver.posted == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.due_at) == ("pending", 0, None)
    actions.endpoint_update(actor=Actor.system(), endpoint=hook, active=True)
    assert drain() == {"delivered": 1}


def test_an_unknown_event_name_is_refused_and_a_new_one_is_one_registration(monkeypatch):
    from kervan.core import outgoing

    monkeypatch.setattr(outgoing, "_events", dict(outgoing._events))  # the registration ends with the test
    with pytest.raises(ValueError, match="Unknown outbound event"):
        emit("ticket.typo", event_id="1", data={})
    register_outbound_event("test.ticket_created", "Ticket created")
    emit("test.ticket_created", event_id="1", data={})  # no endpoint chose it: nothing to do, no error


def test_the_test_event_is_sent_at_once_and_logged(clock, receiver, endpoint):
    hook = endpoint(events=["customer.created"])
    delivery = actions.endpoint_send_test(actor=Actor.system(), endpoint=hook)
    assert (delivery.status, delivery.event, delivery.last_status_code) == ("delivered", "kervan.test", 204)
    [(_path, headers, body)] = receiver.posted
    assert headers["X-Kervan-Event"] == "kervan.test" and json.loads(body)["id"] == delivery.event_id


def test_the_outbound_send_command_sends_what_is_due(clock, receiver, endpoint, capsys):
    endpoint(events=["customer.created"])
    emit_test_event(event_id="a")
    emit_test_event(event_id="b")
    call_command("outbound_send", "--once")
    assert capsys.readouterr().out.strip() == "delivered=2"
    assert len(receiver.posted) == 2


def test_a_rotated_secret_signs_from_then_on(clock, receiver, endpoint):
    hook = endpoint(events=["customer.created"])
    old = hook.secret
    rotated = actions.endpoint_rotate_secret(actor=Actor.system(), endpoint=hook)
    assert rotated.secret != old and rotated.secret.startswith("whsec_")
    emit_test_event()
    drain()
    [(_path, headers, body)] = receiver.posted
    assert signing.verify(rotated.secret, body, timestamp=headers["X-Kervan-Timestamp"],
                          signature=headers["X-Kervan-Signature"])  # fmt: skip
