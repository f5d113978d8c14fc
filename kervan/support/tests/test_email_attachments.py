"""Agents' files on replies (the ticket page's reply form, multipart): kept within the limits, or refused with a clear
error and nothing saved; listed under their message with their size; downloaded only by staff who may read support,
always as an attachment that no browser renders; listed by the API; erased with the person's data."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.customers.privacy import customer_anonymise
from kervan.customers.tests.factories import make_customer
from kervan.support import attachments
from kervan.support import ticket_actions as actions
from kervan.support.models import TicketAttachment, TicketMessage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KERVAN_SUPPORT_EMAIL = "destek@shop.example"
    settings.KERVAN_SUPPORT_ATTACHMENTS = {
        "max_bytes": 1000,
        "max_files": 2,
        "max_message_bytes": 100_000,
        "types": ["image/*", "application/pdf", ".docx"],
    }


@pytest.fixture
def ticket(clock):
    customer = make_customer(email="ayse@example.com", first_name="Ayşe")
    return actions.ticket_create(
        actor=Actor.system(), subject="Fatura", body="Faturamı gönderir misiniz?", customer=customer
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_an_agent_replies_with_files_listed_under_the_reply(ticket, make_agent):
    agent = client_for(make_agent("elif"))
    files = [upload("fatura.pdf", b"%PDF-1.4 fatura", "application/pdf"), upload("rapor.docx", b"PK docx", "")]
    response = agent.post(f"/support/tickets/{ticket.pk}/", {"action": "reply", "body": "Ekte.", "attachments": files})
    assert response.status_code == 302
    reply = TicketMessage.objects.get(direction="outbound")
    assert reply.delivery == "queued"
    stored = list(reply.attachments.all())
    assert [(a.filename, a.size) for a in stored] == [("fatura.pdf", 15), ("rapor.docx", 7)]
    with translation.override("en"):
        html = agent.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert f'href="/support/tickets/{ticket.pk}/attachments/{stored[0].pk}/"' in html and "fatura.pdf" in html
    assert "15\xa0bytes" in html and 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([("setup.exe", b"MZ", "application/octet-stream")], "setup.exe cannot be attached: files of this type"),
        ([("page.html", b"<script>", "text/html")], "page.html cannot be attached"),
        (
            [("huge.pdf", b"x" * 1001, "application/pdf")],
            "huge.pdf cannot be attached: 1001\xa0bytes is over the limit",
        ),
        ([(f"{n}.pdf", b"%PDF", "application/pdf") for n in range(3)], "2.pdf cannot be attached: more than 2 files"),
    ],
)
def test_a_refused_file_refuses_the_reply_and_saves_nothing(ticket, make_agent, files, expected):
    agent = client_for(make_agent("elif"))
    before = TicketMessage.objects.count()
    with translation.override("en"):
        response = agent.post(
            f"/support/tickets/{ticket.pk}/",
            {"action": "reply", "body": "Ekte.", "attachments": [upload(*f) for f in files]},
            headers={"accept-language": "en"},
        )
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert 'data-error-field="attachments"' in response.content.decode()
    assert TicketMessage.objects.count() == before and not TicketAttachment.objects.exists()


def test_only_support_readers_download_and_never_as_a_page(ticket, make_user, make_agent, client):
    message = ticket.messages.get()
    pdf = attachments.store(message, attachments.Incoming("fatura.pdf", "application/pdf", b"%PDF-1.4"))
    page = attachments.store(message, attachments.Incoming("evil.html", "text/html", b"<script>alert(1)</script>"))
    url = f"/support/tickets/{ticket.pk}/attachments/{pdf.pk}/"
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    assert client_for(make_user("sales")).get(url).status_code == 403
    for reader in (make_agent("elif"), make_user("analyst")):
        response = client_for(reader).get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4"
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="fatura.pdf"'
        assert response["X-Content-Type-Options"] == "nosniff"
    html = client_for(make_agent("can")).get(f"/support/tickets/{ticket.pk}/attachments/{page.pk}/")
    assert html["Content-Type"] == "application/octet-stream" and html["Content-Disposition"].startswith("attachment")
    other = actions.ticket_create(actor=Actor.system(), subject="Başka", body="x", requester_email="b@example.com")
    assert client_for(make_agent("deniz")).get(f"/support/tickets/{other.pk}/attachments/{pdf.pk}/").status_code == 404


def test_the_api_lists_a_messages_files(ticket, api):
    attachments.store(ticket.messages.get(), attachments.Incoming("foto.png", "image/png", b"\x89PNG"))
    body = api.get(f"/support/tickets/{ticket.pk}").json()
    assert body["messages"][0]["attachments"] == [
        {"id": TicketAttachment.objects.get().pk, "filename": "foto.png", "content_type": "image/png", "size": 4}
    ]
    assert body["messages"][0]["delivery"] == ""


def test_erasing_the_person_deletes_their_files(ticket):
    stored = attachments.store(ticket.messages.get(), attachments.Incoming("kimlik.png", "image/png", b"\x89PNG id"))
    path = Path(stored.file.path)
    assert path.exists()
    customer_anonymise(actor=Actor.system(), customer=ticket.customer, reason="KVKK talebi")
    assert not TicketAttachment.objects.exists() and not path.exists()
