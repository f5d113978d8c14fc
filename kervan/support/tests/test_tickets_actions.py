"""Ticket actions: creation (refusals leave nothing half-written), reply and first response, notes with @mentions,
merge, bulk changes; and what a ticket leaves elsewhere: the "Opened Ticket" event, the Customer 360 timeline, the
"ticket.created" webhook, a customer merge and a privacy request."""

import datetime as dt

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError, PermissionDenied
from kervan.core.outgoing import outbound_events
from kervan.core.testing import LoopbackSite
from kervan.customer360.timeline import customer_timeline, timeline_present_many
from kervan.customers.privacy import PrivacySubject
from kervan.customers.registry import privacy_handlers
from kervan.customers.tests.factories import make_customer, make_order
from kervan.events.models import CanonicalEvent, Event
from kervan.outbound.actions import endpoint_create
from kervan.outbound.models import WebhookDelivery
from kervan.support import ticket_actions as actions
from kervan.support.models import Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def create(**given) -> Ticket:
    given.setdefault("subject", "İade talebi")
    given.setdefault("body", "Kazak küçük geldi, iade etmek istiyorum.")
    return actions.ticket_create(actor=given.pop("actor", Actor.system()), **given)


def test_an_agent_creates_a_ticket_for_a_known_email(monday, admin_actor):
    customer = make_customer(email="zeynep@example.com", first_name="Zeynep", last_name="Kaya")
    order = make_order(customer)
    ticket = create(
        actor=admin_actor,
        requester_email=" Zeynep@Example.com ",
        order_id=str(order.pk),
        tags=["İade", "iade", "beden"],
        priority="high",
    )
    assert ticket.number == f"T-{ticket.pk:06d}"
    assert (ticket.customer, ticket.requester_email, ticket.order) == (customer, "zeynep@example.com", order)
    assert (ticket.status, ticket.priority, ticket.channel) == ("new", "high", "agent")
    assert ticket.tags == ["iade", "beden"]
    first = ticket.messages.get()
    assert (first.direction, first.author_customer, first.author_user) == ("inbound", customer, admin_actor.user)
    event = Event.objects.get(customer=customer, name=CanonicalEvent.OPENED_TICKET)
    assert event.properties["ticket_id"] == ticket.pk and event.properties["number"] == ticket.number


def test_an_unknown_sender_keeps_the_email_only(monday):
    ticket = create(requester_email="yeni@example.org", channel="web_form")
    assert ticket.customer is None and ticket.requester_email == "yeni@example.org"
    assert not Event.objects.filter(name=CanonicalEvent.OPENED_TICKET).exists()


@pytest.mark.parametrize(
    "given, code, field",
    [
        ({"requester_email": ""}, "requester_required", "customer"),
        ({"requester_email": "not-an-address"}, "invalid_email", "requester_email"),
        ({"requester_email": "a@example.com", "subject": ""}, "required", "subject"),
        ({"requester_email": "a@example.com", "body": "x" * 50_001}, "too_long", "body"),
        ({"requester_email": "a@example.com", "priority": "asap"}, "invalid_choice", "priority"),
        ({"requester_email": "a@example.com", "channel": "fax"}, "invalid_choice", "channel"),
        ({"requester_email": "a@example.com", "order_id": "99999"}, "invalid_order", "order"),
        ({"requester_email": "a@example.com", "subject": "a\x00b"}, "invalid_text", "subject"),
        (
            {"requester_email": "a@example.com", "tags": ["x"] * 21 + [str(i) for i in range(21)]},
            "too_many_tags",
            "tags",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(monday, given, code, field):
    with pytest.raises(KervanError) as refused:
        create(**given)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not Ticket.objects.exists() and not TicketMessage.objects.exists()


def test_another_customers_order_cannot_be_linked(monday):
    mine, theirs = make_customer(), make_customer()
    with pytest.raises(KervanError) as refused:
        create(customer=mine, order_id=make_order(theirs).pk)
    assert refused.value.code == "invalid_order"


def test_the_first_reply_is_the_first_response(monday, make_agent):
    agent = Actor.for_user(make_agent("ayse-destek"))
    ticket = create(customer=make_customer())
    monday.advance(dt.timedelta(minutes=25))
    reply = actions.ticket_reply(actor=agent, ticket=ticket, body="Merhaba, iade kodunuz: 1234.")
    assert (reply.direction, reply.author_user) == ("outbound", agent.user)
    ticket.refresh_from_db()
    assert ticket.first_responded_at == monday.now() and ticket.status == "open"
    assert not ticket.breached_first_response
    monday.advance(dt.timedelta(hours=1))
    actions.ticket_reply(actor=agent, ticket=ticket, body="Kargo yola çıktı.", status="solved")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == monday.now() - dt.timedelta(hours=1)  # the first one stays
    assert ticket.status == "solved" and ticket.solved_at == monday.now()
    actions.ticket_set_status(actor=agent, ticket=ticket, status="closed")
    with pytest.raises(KervanError) as refused:
        actions.ticket_reply(actor=agent, ticket=ticket, body="Bir şey daha")
    assert refused.value.code == "ticket_closed"


def test_a_note_keeps_its_mentions_of_staff(monday, make_agent):
    make_agent("burak.destek")
    ticket = create(requester_email="a@example.com")
    note = actions.ticket_note(
        actor=Actor.system(), ticket=ticket, body="@burak.destek bakabilir misin? (cc @nobody, mail@example.com)"
    )
    assert note.direction == "note" and note.mentions == ["burak.destek"]


def test_merge_moves_the_messages_and_closes_the_duplicate(monday):
    customer = make_customer()
    original = create(customer=customer, tags=["kargo"])
    monday.advance(dt.timedelta(minutes=5))
    duplicate = create(customer=customer, body="Tekrar yazıyorum: kargom nerede?", tags=["acil"])
    actions.ticket_merge(actor=Actor.system(), source=duplicate, target=original)
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into, duplicate.closed_at) == ("closed", original, monday.now())
    bodies = list(original.messages.values_list("direction", "body"))
    assert bodies[:2] == [
        ("inbound", "Kazak küçük geldi, iade etmek istiyorum."),
        ("inbound", "Tekrar yazıyorum: kargom nerede?"),
    ]
    assert bodies[2][0] == "note" and duplicate.number in bodies[2][1]
    assert not duplicate.messages.exists()
    original.refresh_from_db()
    assert original.tags == ["kargo", "acil"]
    with pytest.raises(KervanError) as refused:
        actions.ticket_merge(actor=Actor.system(), source=original, target=original)
    assert refused.value.code == "merge_same"


def test_bulk_changes_skip_closed_tickets(monday, make_agent):
    agent = make_agent("ayse-destek")
    one, two, closed = (create(requester_email=f"k{i}@example.com") for i in range(3))
    actions.ticket_set_status(actor=Actor.system(), ticket=closed, status="closed")
    done = actions.tickets_bulk(
        actor=Actor.system(),
        ticket_ids=[one.pk, str(two.pk), closed.pk],
        status="on_hold",
        assignee_id=agent.pk,
        add_tag="Kampanya",
    )
    assert done == 2
    rows = {t.pk: t for t in Ticket.objects.all()}
    assert [(rows[t.pk].status, rows[t.pk].assignee, rows[t.pk].tags) for t in (one, two)] == [
        ("on_hold", agent, ["kampanya"])
    ] * 2
    assert rows[closed.pk].status == "closed" and rows[closed.pk].assignee is None
    with pytest.raises(KervanError) as refused:
        actions.tickets_bulk(actor=Actor.system(), ticket_ids=[one.pk])
    assert refused.value.code == "nothing_to_change"


def test_a_marketing_user_cannot_write(monday, make_user):
    marketing = Actor.for_user(make_user("marketing"))
    ticket = create(requester_email="a@example.com")
    with pytest.raises(PermissionDenied):
        actions.ticket_reply(actor=marketing, ticket=ticket, body="Merhaba")
    assert ticket.messages.count() == 1


def test_the_ticket_is_on_the_customer_timeline(monday, admin_actor):
    customer = make_customer()
    ticket = create(customer=customer, subject="Fatura")
    monday.advance(dt.timedelta(minutes=1))
    actions.ticket_reply(actor=admin_actor, ticket=ticket, body="Faturanız ekte.")
    items, _cursor = customer_timeline(actor=admin_actor, customer_id=customer.pk)
    with translation.override("en"):
        shown = [(item.kind, entry["title"]) for item, entry in zip(items, timeline_present_many(items), strict=True)]
    assert ("ticket", f"Ticket {ticket.number} opened: Fatura") in shown
    assert ("ticket_message", f"Reply on ticket {ticket.number}") in shown
    assert ("ticket_message", f"Customer wrote on ticket {ticket.number}") in shown
    assert not any(kind == "event" and "Opened Ticket" in title for kind, title in shown)  # shown once, as a ticket


def test_ticket_created_goes_to_the_webhook_subscribers(monday):
    assert "ticket.created" in {e.name for e in outbound_events()}
    with LoopbackSite() as site:
        endpoint_create(actor=Actor.system(), url=f"{site.url}/hook", events=["ticket.created"])
    ticket = create(requester_email="a@example.com", priority="urgent")
    delivery = WebhookDelivery.objects.get(event="ticket.created")
    data = delivery.payload["data"]
    assert (data["id"], data["number"], data["priority"], data["requester_email"]) == (
        ticket.pk,
        ticket.number,
        "urgent",
        "a@example.com",
    )


def test_a_customer_merge_moves_the_tickets(monday):
    from kervan.customers.registry import merge_handlers

    kept, merged = make_customer(), make_customer()
    ticket = create(customer=merged)
    merge_handlers()["support"](from_customer_id=merged.pk, to_customer_id=kept.pk)
    ticket.refresh_from_db()
    assert ticket.customer == kept and ticket.messages.get().author_customer == kept


def test_privacy_export_and_erasure(monday):
    customer = make_customer(email="gizli@example.com")
    ticket = create(customer=customer, subject="Adresim: Moda Cad. 5", custom_fields={"kargo": "Yurtiçi"})
    actions.ticket_note(actor=Actor.system(), ticket=ticket, body="Müşteri aradı.")
    handler = next(h for h in privacy_handlers() if h.name == "support")
    subject = PrivacySubject(customer_ids=(customer.pk,), values=("gizli@example.com",))
    exported = handler.export(subject)
    assert exported["tickets"][0]["subject"] == "Adresim: Moda Cad. 5"
    assert [m["direction"] for m in exported["ticket_messages"]] == ["inbound"]  # internal notes are not theirs
    assert handler.anonymise(subject)
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.requester_email, ticket.custom_fields) == ("[erased]", "", {})
    assert set(ticket.messages.values_list("body", flat=True)) == {"[erased]"}
    assert ticket.status == "new" and ticket.created_at == monday.now()  # what reports count stays
    assert handler.anonymise(subject) == []  # a second request changes nothing


def test_a_customer_message_reopens_the_ticket(monday):
    ticket = create(customer=make_customer())
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Sipariş numaranız?", status="pending")
    monday.advance(dt.timedelta(hours=2))
    message = actions.ticket_receive(
        actor=Actor.system(), ticket=ticket, body="#1001", email_message_id="<abc@mail.example.com>"
    )
    assert (message.direction, message.author_customer, message.email_message_id) == (
        "inbound",
        ticket.customer,
        "<abc@mail.example.com>",
    )
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.pending_since is None and ticket.paused_seconds == 2 * 3600
