"""Replies emailed (kervan.support.email_out) over real SMTP on loopback: threading headers, the subject's ticket
number, the support address, files attached; a retryable refusal tried again with back-off and failed after the
last try; a permanent one failed at once and shown on the ticket page."""

import datetime as dt
from email.utils import parseaddr

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.support import email_out
from kervan.support import ticket_actions as actions
from kervan.support.attachments import ticket_reply_with_files
from kervan.support.email_in import email_receive
from kervan.support.models import TicketMessage
from kervan.support.tasks import ticket_replies_send_task

pytestmark = pytest.mark.django_db

SUPPORT = "destek@shop.example"
INBOUND = (
    b"From: Ayse <ayse@example.com>\r\nTo: destek@shop.example\r\nSubject: Kargom nerede?\r\n"
    b"Message-ID: <first@mail.example.com>\r\n\r\nMerhaba, siparisim gelmedi.\r\n"
)


@pytest.fixture(autouse=True)
def _support(settings, tmp_path):
    settings.KERVAN_SUPPORT_EMAIL = SUPPORT
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def ticket(clock):
    got = email_receive(INBOUND, source="test")
    return actions.Ticket.objects.get(pk=got.ticket_id)


def test_a_reply_is_emailed_threaded_to_the_customers_mail(smtp, ticket, clock):
    reply = ticket_reply_with_files(
        actor=Actor.system(),
        ticket=ticket,
        body="Kargonuz yarın teslim edilecek.",
        uploads=[SimpleUploadedFile("kargo.pdf", b"%PDF-1.4 takip", content_type="application/pdf")],
    )
    reply.refresh_from_db()
    assert (reply.delivery, reply.due_at) == ("queued", clock.now())
    assert ticket_replies_send_task.call() == 1
    [received] = smtp.to("ayse@example.com")
    email = received.message
    assert email["Subject"] == f"Re: Kargom nerede? [{ticket.number}]"
    assert parseaddr(email["From"])[1] == SUPPORT and parseaddr(email["Reply-To"])[1] == SUPPORT
    assert email["In-Reply-To"] == "<first@mail.example.com>"
    assert email["References"] == "<first@mail.example.com>"
    reply.refresh_from_db()
    assert email["Message-ID"] == reply.email_message_id and reply.email_message_id.endswith("@shop.example>")
    assert "Kargonuz yarın teslim edilecek." in email.get_body(preferencelist=("plain",)).get_content()
    [attached] = list(email.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("kargo.pdf", b"%PDF-1.4 takip")
    assert (reply.delivery, reply.sent_at, reply.attempts) == ("sent", clock.now(), 1)
    assert ticket_replies_send_task.call() == 0  # sent once

    # The customer answers our reply, and the next reply names the whole conversation.
    answer = (
        b"From: ayse@example.com\r\nTo: destek@shop.example\r\nSubject: Re: Kargom nerede?\r\n"
        b"Message-ID: <second@mail.example.com>\r\nIn-Reply-To: "
        + reply.email_message_id.encode()
        + b"\r\n\r\nTamam.\r\n"
    )
    assert email_receive(answer, source="test").ticket_id == ticket.pk
    second = actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Rica ederiz.")
    ticket_replies_send_task.call()
    email = smtp.to("ayse@example.com")[-1].message
    assert email["In-Reply-To"] == "<second@mail.example.com>"
    assert email["References"].split() == [
        "<first@mail.example.com>",
        reply.email_message_id,
        "<second@mail.example.com>",
    ]
    second.refresh_from_db()
    assert email["Message-ID"] == second.email_message_id != reply.email_message_id


def test_a_ticket_without_an_address_is_not_emailed(clock):
    from kervan.customers.tests.factories import make_customer

    customer = make_customer(email="")
    ticket = actions.ticket_create(actor=Actor.system(), subject="Telefonla", body="Aradı.", customer=customer)
    reply = actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Not.")
    reply.refresh_from_db()
    assert (reply.delivery, reply.email_message_id) == ("", "")


def test_a_retryable_refusal_backs_off_and_fails_after_the_last_try(smtp, ticket, clock, admin_client):
    smtp.refuse["ayse@example.com"] = "452 4.2.2 Mailbox full"
    reply = actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Cevap.")
    assert email_out.replies_send_due() == {"retry": 1}
    reply.refresh_from_db()
    assert reply.delivery == "queued" and reply.attempts == 1
    assert reply.due_at == clock.now() + dt.timedelta(seconds=email_out.BACKOFF[0])
    assert "452" in reply.delivery_error
    assert email_out.replies_send_due() == {}  # not due yet
    with translation.override("en"):
        html = admin_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert 'data-delivery="queued"' in html and "the last try failed" in html
    for _attempt in range(2, email_out.MAX_ATTEMPTS + 1):
        clock.advance(dt.timedelta(hours=13))
        email_out.replies_send_due()
    reply.refresh_from_db()
    assert (reply.delivery, reply.attempts, reply.due_at) == ("failed", email_out.MAX_ATTEMPTS, None)
    assert not smtp.received


def test_a_permanent_refusal_fails_at_once_and_shows_on_the_ticket(smtp, ticket, clock, admin_client):
    smtp.refuse["ayse@example.com"] = "550 5.1.1 No such user"
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Cevap.")
    assert email_out.replies_send_due() == {"failed": 1}
    reply = TicketMessage.objects.get(direction="outbound")
    assert reply.delivery == "failed" and reply.delivery_error.startswith("SMTP 550")
    with translation.override("en"):
        html = admin_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert 'data-delivery="failed"' in html and "Not delivered: SMTP 550: 5.1.1 No such user" in html
    smtp.refuse.clear()
    clock.advance(dt.timedelta(days=1))
    assert email_out.replies_send_due() == {}  # failed for good: never sent later


def test_two_workers_never_claim_one_reply(ticket, clock):
    from kervan.core.claim import claim_due

    reply = actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Cevap.")
    queued = TicketMessage.objects.filter(delivery="queued")
    assert [m.pk for m in claim_due(queued, worker="other", limit=10, lease=email_out.LEASE)] == [reply.pk]
    assert email_out.replies_send_due(worker="this") == {}  # leased by the other worker: nothing due here
    reply.refresh_from_db()
    assert (reply.delivery, reply.leased_by, reply.sent_at) == ("queued", "other", None)


def test_the_reply_subject_keeps_one_re_and_one_number(ticket):
    ticket.subject = f"RE: Ynt: Kargom nerede? [{ticket.number}]"
    assert email_out.reply_subject(ticket) == f"Re: Kargom nerede? [{ticket.number}]"


def test_the_support_address_defaults_to_the_public_host(settings):
    settings.KERVAN_SUPPORT_EMAIL = ""
    settings.KERVAN_PUBLIC_URL = "https://www.magaza.com.tr"
    assert email_out.support_address() == "destek@magaza.com.tr"
    settings.KERVAN_PUBLIC_URL = "http://127.0.0.1:8000"
    assert email_out.support_address() == "destek@localhost"
