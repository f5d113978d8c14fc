"""The support mailbox's own SMTP receiver (manage.py support_smtp), started on a loopback port and sent real email
with smtplib: a new ticket, the customer's answer to an emailed reply threaded by In-Reply-To, an answer threaded by
the ticket number, files kept and one refused with a note, an auto-reply ignored, a stranger address refused with
550 and an email over the size limit with 552."""

import smtplib
import socket
from email.message import EmailMessage

import pytest
from django.core.management import CommandError, call_command

from kervan.accounts.actors import Actor
from kervan.core.testing import free_port
from kervan.support import ticket_actions as actions
from kervan.support.management.commands.support_smtp import receiver
from kervan.support.models import Ticket, TicketAttachment, TicketMessage
from kervan.support.tasks import ticket_replies_send_task

SUPPORT = "destek@shop.example"


@pytest.fixture
def mailbox(settings, tmp_path, transactional_db, smtp):
    """The support receiver on a free loopback port (the outgoing replies go to the `smtp` test server)."""
    settings.KERVAN_SUPPORT_EMAIL = SUPPORT
    settings.KERVAN_SUPPORT_INBOUND_DOMAINS = ["help.shop.example"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KERVAN_SUPPORT_ATTACHMENTS = {
        "max_bytes": 2000,
        "max_files": 5,
        "max_message_bytes": 50_000,
        "types": ["image/*", "application/pdf", "text/plain"],
    }
    controller = receiver("127.0.0.1", free_port())
    controller.start()
    yield controller
    controller.stop()


def email(
    body: str, *, subject: str = "Kupam kırık geldi", sender: str = "ayse@example.com", **headers
) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def send(controller, message: EmailMessage, *, to: str = SUPPORT, sender: str = "ayse@example.com") -> dict:
    with smtplib.SMTP(controller.hostname, controller.port, timeout=10) as client:
        return client.send_message(message, from_addr=sender, to_addrs=[to])


def test_a_conversation_by_email_over_real_smtp(mailbox, smtp):
    first = email("Merhaba, kupam kırık geldi.", Message_ID="<c1@mail.example.com>")
    first.add_attachment(b"\x89PNG small", maintype="image", subtype="png", filename="kirik.png")
    first.add_attachment(b"x" * 3000, maintype="application", subtype="pdf", filename="buyuk.pdf")  # over 2000
    assert send(mailbox, first) == {}
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.requester_email, ticket.subject) == (
        "email",
        "ayse@example.com",
        "Kupam kırık geldi",
    )
    assert list(TicketAttachment.objects.values_list("filename", "size")) == [("kirik.png", 10)]
    note = TicketMessage.objects.get(direction="note")
    assert "buyuk.pdf was not stored" in note.body

    # The same email again (the sender's MTA retrying): no second message.
    assert send(mailbox, first) == {}
    assert TicketMessage.objects.filter(direction="inbound").count() == 1

    # An agent answers; the reply is emailed (to the test's outgoing SMTP server) and the customer answers it.
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Yenisini gönderiyoruz.", status="pending")
    ticket_replies_send_task.call()
    [sent] = smtp.to("ayse@example.com")
    reply_id = sent.message["Message-ID"]
    answer = email(
        "Teşekkürler!\n\n7 Ara 2026 Pzt, 10:00 tarihinde Destek <destek@shop.example> şunu yazdı:\n> Yenisini...",
        subject=sent.message["Subject"].removesuffix(f" [{ticket.number}]"),
        Message_ID="<c2@mail.example.com>",
        In_Reply_To=reply_id,
        References=f"<c1@mail.example.com> {reply_id}",
    )
    send(mailbox, answer)
    ticket.refresh_from_db()
    assert ticket.status == "open"  # pending the customer: open again
    assert TicketMessage.objects.get(email_message_id="<c2@mail.example.com>").body == "Teşekkürler!"

    # An answer that lost the headers still finds the ticket by its number in the subject.
    send(mailbox, email("Bir de kapağı.", subject=f"Re: Kupa [{ticket.number}]", Message_ID="<c3@mail.example.com>"))
    assert TicketMessage.objects.get(email_message_id="<c3@mail.example.com>").ticket_id == ticket.pk

    # An out-of-office answer: accepted by SMTP, but neither a message nor a reopened ticket.
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")
    auto = email(
        "I am away.",
        subject=f"Auto: [{ticket.number}]",
        Auto_Submitted="auto-replied",
        Message_ID="<a1@mail.example.com>",
    )
    assert send(mailbox, auto) == {}
    ticket.refresh_from_db()
    assert ticket.status == "solved" and not TicketMessage.objects.filter(email_message_id="<a1@mail.example.com>")
    assert Ticket.objects.count() == 1


def test_only_the_support_addresses_are_taken(mailbox):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(mailbox, email("Relay me"), to="someone@elsewhere.example")
    code, text = refused.value.recipients["someone@elsewhere.example"]
    assert code == 550 and b"support address only" in text
    assert send(mailbox, email("Merhaba", Message_ID="<d1@x.example>"), to="iade@help.shop.example") == {}
    assert Ticket.objects.count() == 1


def test_an_email_over_the_size_limit_is_refused_with_552(mailbox):
    big = email("Büyük dosya")
    big.add_attachment(b"x" * 60_000, maintype="application", subtype="pdf", filename="big.pdf")
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        send(mailbox, big)
    assert refused.value.smtp_code == 552
    assert b"too big for the support mailbox: the limit is 50000 bytes" in refused.value.smtp_error
    assert not Ticket.objects.exists()


def test_the_command_refuses_a_port_in_use_with_exit_status_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError) as raised:
            call_command("support_smtp", "--port", str(taken.getsockname()[1]))
    assert raised.value.returncode == 2 and "Cannot listen on 127.0.0.1" in str(raised.value)


def test_a_failure_on_our_side_answers_451_so_the_sender_tries_again(mailbox, monkeypatch):
    from kervan.support.management.commands import support_smtp

    def away(raw, **kwargs):
        raise ConnectionError("database away")

    monkeypatch.setattr(support_smtp, "email_receive", away)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mailbox, email("Merhaba", Message_ID="<e1@x.example>"))
    assert refused.value.smtp_code == 451
    assert not Ticket.objects.exists()
