"""Email to the support address (kervan.support.email_in.email_receive, and Postmark's inbound webhook through
django-anymail): new tickets, threading by In-Reply-To and by the ticket number, duplicates, machines' mail ignored,
quoted history stripped, HTML-only mail, attachments within limits and a note for a refused one."""

import base64
from email.message import EmailMessage

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.customers.tests.factories import make_customer
from kervan.support import ticket_actions as actions
from kervan.support.email_in import email_receive, strip_quoted
from kervan.support.models import Ticket, TicketAttachment, TicketMessage

pytestmark = pytest.mark.django_db

SUPPORT = "destek@shop.example"


@pytest.fixture(autouse=True)
def _support(settings, tmp_path):
    settings.KERVAN_SUPPORT_EMAIL = SUPPORT
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KERVAN_SUPPORT_ATTACHMENTS = {
        "max_bytes": 2000,
        "max_files": 3,
        "max_message_bytes": 100_000,
        "types": ["image/*", "application/pdf", "text/plain", ".docx"],
    }


def mail(
    body="Merhaba, siparişim gelmedi.",
    *,
    subject="Siparişim nerede?",
    sender="Ayşe Yılmaz <ayse@example.com>",
    message_id="<m1@mail.example.com>",
    html=None,
    files=(),
    **headers,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, data, mimetype in files:
        maintype, subtype = mimetype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def receive(raw: bytes, **kwargs):
    return email_receive(raw, source="test", **kwargs)


def test_an_email_from_a_known_customer_opens_a_ticket_for_them(clock):
    customer = make_customer(email="ayse@example.com", first_name="Ayşe")
    got = receive(mail())
    assert got.outcome == "created"
    ticket = Ticket.objects.get(pk=got.ticket_id)
    assert (ticket.channel, ticket.customer, ticket.requester_email) == ("email", customer, "ayse@example.com")
    assert (ticket.subject, ticket.language) == ("Siparişim nerede?", "tr")
    message = ticket.messages.get()
    assert (message.direction, message.body, message.email_message_id) == (
        "inbound",
        "Merhaba, siparişim gelmedi.",
        "<m1@mail.example.com>",
    )


def test_a_stranger_opens_a_ticket_by_address_in_english(clock):
    got = receive(mail("Hello, where is my order?", subject="Order 1042", sender="John <john@example.org>"))
    ticket = Ticket.objects.get(pk=got.ticket_id)
    assert (ticket.customer, ticket.requester_email, ticket.requester_name) == (None, "john@example.org", "John")
    assert ticket.language == "en"


def test_the_same_message_id_twice_makes_one_message(clock):
    first = receive(mail())
    again = receive(mail())
    assert (first.outcome, again.outcome) == ("created", "duplicate")
    assert TicketMessage.objects.count() == 1 and Ticket.objects.count() == 1


def test_a_reply_to_our_email_threads_by_in_reply_to_and_reopens(clock):
    got = receive(mail())
    ticket = Ticket.objects.get(pk=got.ticket_id)
    reply = actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Kargoda.", status="pending")
    reply.refresh_from_db()
    assert reply.email_message_id.startswith("<") and reply.delivery == "queued"
    answer = mail(
        "Teşekkürler, hâlâ gelmedi.\n\nOn Mon, 7 Dec 2026 at 10:00, Destek <destek@shop.example> wrote:\n> Kargoda.",
        subject="Something else entirely",
        message_id="<m2@mail.example.com>",
        In_Reply_To=reply.email_message_id,
        References=f"<m1@mail.example.com> {reply.email_message_id}",
    )
    got = receive(answer)
    assert (got.outcome, got.ticket_id) == ("added", ticket.pk)
    ticket.refresh_from_db()
    assert ticket.status == "open"  # pending the customer → open again
    assert TicketMessage.objects.get(pk=got.message_id).body == "Teşekkürler, hâlâ gelmedi."


def test_the_ticket_number_in_the_subject_threads_only_for_the_requester(clock):
    ticket = Ticket.objects.get(pk=receive(mail()).ticket_id)
    subject = f"Re: Siparişim nerede? [{ticket.number}]"
    own = receive(mail("Bir şey daha.", subject=subject, message_id="<m3@mail.example.com>"))
    assert (own.outcome, own.ticket_id) == ("added", ticket.pk)
    stranger = receive(
        mail("Bu benim değil.", subject=subject, sender="mallory@evil.example", message_id="<m4@evil.example>")
    )
    assert stranger.outcome == "created" and stranger.ticket_id != ticket.pk
    assert Ticket.objects.get(pk=stranger.ticket_id).requester_email == "mallory@evil.example"


def test_mail_to_a_closed_ticket_opens_a_new_one(clock):
    ticket = Ticket.objects.get(pk=receive(mail()).ticket_id)
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="closed")
    got = receive(mail("Yine ben.", subject=f"Re: [{ticket.number}]", message_id="<m5@mail.example.com>"))
    assert got.outcome == "created" and got.ticket_id != ticket.pk


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"X_Autoreply": "yes"},
        {"sender": "MAILER-DAEMON@mx.example.com"},
    ],
)
def test_machines_mail_neither_opens_nor_reopens_tickets(clock, headers):
    ticket = Ticket.objects.get(pk=receive(mail()).ticket_id)
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")
    got = receive(
        mail(
            "I am out of the office.",
            subject=f"Out of office: [{ticket.number}]",
            message_id="<auto@mail.example.com>",
            **headers,
        )
    )
    assert got.outcome == "ignored"
    ticket.refresh_from_db()
    assert ticket.status == "solved" and Ticket.objects.count() == 1 and TicketMessage.objects.count() == 1


def test_a_bounce_with_the_null_sender_is_ignored(clock):
    assert receive(mail(), envelope_sender="<>").outcome == "ignored"
    assert not Ticket.objects.exists()


def test_html_only_mail_is_read_as_text():
    raw = EmailMessage()
    raw["From"], raw["Subject"], raw["Message-ID"] = "ayse@example.com", "HTML", "<h1@example.com>"
    raw.set_content("<p>Merhaba,</p><p>Kargo nerede?</p><style>p{}</style>", subtype="html")
    got = email_receive(raw, source="test")
    assert TicketMessage.objects.get(pk=got.message_id).body == "Merhaba,\n\nKargo nerede?"


def test_quoted_history_is_stripped_in_english_and_turkish():
    assert strip_quoted("Tamam.\n\n7 Ara 2026 Pzt, 10:00 tarihinde Destek <d@x.com> şunu yazdı:\n> Merhaba") == (
        "Tamam."
    )
    assert strip_quoted("Thanks!\nOn Mon, 7 Dec 2026 at 10:00, A Very Long Name <a@b.com>\nwrote:\n> hi") == "Thanks!"
    assert strip_quoted("Answer one\n> question?\nAnswer two") == "Answer one\nAnswer two"
    assert strip_quoted("> all quoted") == "> all quoted"  # nothing new: kept rather than lost


def test_attachments_within_limits_are_kept_and_refused_ones_noted(clock):
    files = [
        ("fatura.pdf", b"%PDF-1.4 small", "application/pdf"),
        ("foto.png", b"\x89PNG" + b"x" * 5000, "image/png"),  # over max_bytes (2000)
        ("virus.exe", b"MZ", "application/octet-stream"),
        ("page.html", b"<script>", "text/html"),
    ]
    got = receive(mail(files=files))
    message = TicketMessage.objects.get(pk=got.message_id)
    stored = list(message.attachments.all())
    assert [(a.filename, a.content_type, a.size) for a in stored] == [("fatura.pdf", "application/pdf", 14)]
    assert stored[0].file.read() == b"%PDF-1.4 small"
    note = TicketMessage.objects.get(ticket_id=got.ticket_id, direction="note")
    assert note.author_user is None
    assert "foto.png was not stored" in note.body and "over the limit" in note.body
    assert "virus.exe was not stored" in note.body and "page.html was not stored" in note.body


def test_more_files_than_allowed_are_refused_by_number(clock):
    files = [(f"{n}.txt", b"x", "text/plain") for n in range(5)]
    got = receive(mail(files=files))
    assert TicketAttachment.objects.filter(message_id=got.message_id).count() == 3
    note = TicketMessage.objects.get(ticket_id=got.ticket_id, direction="note")
    with translation.override("en"):
        assert "3.txt was not stored: more than 3 files in one message" in note.body


# ---------------------------------------------------------------- Postmark's inbound webhook (django-anymail)

URL = "/anymail/postmark/inbound/"
AUTH = "Basic " + base64.b64encode(b"esp:webhook-secret").decode()


def postmark_payload(**changes) -> dict:
    """Postmark's documented inbound JSON (postmarkapp.com/developer/webhooks/inbound-webhook), trimmed."""
    payload = {
        "FromName": "Ayşe Yılmaz",
        "MessageStream": "inbound",
        "From": "ayse@example.com",
        "FromFull": {"Email": "ayse@example.com", "Name": "Ayşe Yılmaz", "MailboxHash": ""},
        "To": f'"Destek" <{SUPPORT}>',
        "ToFull": [{"Email": SUPPORT, "Name": "Destek", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": SUPPORT,
        "Subject": "İade talebi",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Mon, 7 Dec 2026 10:00:00 +0300",
        "TextBody": "Merhaba, kupayı iade etmek istiyorum.",
        "HtmlBody": "<p>Merhaba, kupayı iade etmek istiyorum.</p>",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<ayse@example.com>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": "<CAE-pm-1@mail.gmail.com>"},
        ],
        "Attachments": [
            {
                "Name": "kupa.png",
                "Content": base64.b64encode(b"\x89PNG tiny").decode(),
                "ContentType": "image/png",
                "ContentLength": 9,
            }
        ],
    }
    payload.update(changes)
    return payload


def test_postmark_inbound_opens_a_ticket_with_its_attachment(client, clock):
    response = client.post(URL, postmark_payload(), content_type="application/json", headers={"authorization": AUTH})
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.requester_email, ticket.channel) == ("İade talebi", "ayse@example.com", "email")
    message = ticket.messages.get()
    assert message.body == "Merhaba, kupayı iade etmek istiyorum."
    assert message.email_message_id == "<CAE-pm-1@mail.gmail.com>"
    assert [(a.filename, a.size) for a in message.attachments.all()] == [("kupa.png", 9)]
    # Postmark retries a webhook it thinks failed: the same email again is no second message.
    client.post(URL, postmark_payload(), content_type="application/json", headers={"authorization": AUTH})
    assert TicketMessage.objects.count() == 1


def test_postmark_inbound_without_the_secret_changes_nothing(client):
    response = client.post(URL, postmark_payload(), content_type="application/json")
    assert response.status_code == 400
    assert not Ticket.objects.exists()
