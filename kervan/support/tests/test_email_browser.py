"""A real browser on a ticket that came by email: the customer's file is listed and downloads; the agent replies with
a file, the reply is emailed (a real SMTP server on loopback) with the file attached and the page says it was."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.models import User
from kervan.support.email_in import email_receive
from kervan.support.models import TicketMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INBOUND = (
    b"From: Ayse <ayse@example.com>\r\nTo: destek@shop.example\r\nSubject: Kupa kirik\r\n"
    b"Message-ID: <b1@mail.example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKupam kirik geldi.\r\n"
    b'--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="fatura.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgZmF0dXJh\r\n--XX--\r\n"
)


def log_in(page, live_server) -> User:
    user = User.objects.create_user("elif", password="kervan-browser-pw", role="support", language="en")
    staff = Client()
    staff.force_login(user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return user


def test_files_both_ways_on_a_ticket_by_email(page, live_server, smtp, settings, tmp_path):
    settings.KERVAN_SUPPORT_EMAIL = "destek@shop.example"
    settings.MEDIA_ROOT = tmp_path / "media"
    ticket_id = email_receive(INBOUND, source="test").ticket_id
    log_in(page, live_server)

    page.goto(f"/support/tickets/{ticket_id}/")
    link = page.locator("ul.attachments a", has_text="fatura.pdf")
    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == "fatura.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 fatura"

    upload = tmp_path / "iade-formu.pdf"
    upload.write_bytes(b"%PDF-1.4 iade")
    page.fill("#reply-form textarea[name=body]", "Yenisini gönderiyoruz; iade formu ekte.")
    page.set_input_files("#reply-form input[name=attachments]", str(upload))
    page.click("#reply-form button[value=reply]")
    page.wait_for_selector("[data-delivery=sent]")
    assert "Emailed" in page.locator("[data-delivery=sent]").inner_text()
    assert page.locator("ul.attachments a", has_text="iade-formu.pdf").count() == 1

    [sent] = smtp.to("ayse@example.com")
    [attached] = list(sent.message.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("iade-formu.pdf", b"%PDF-1.4 iade")
    assert sent.message["In-Reply-To"] == "<b1@mail.example.com>"
    assert TicketMessage.objects.get(direction="outbound").delivery == "sent"
