"""Two agents on one ticket: each sees the other viewing (and writing, once their reply box holds text) for about
30 seconds after the last poll; and a reply written before a newer message (the customer's, or the other agent's
reply) is held with the new message shown and the text kept, then sent with "Send anyway"."""

import datetime as dt
import re

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client
from kervan.support import ticket_actions
from kervan.support.models import TicketMessage, TicketViewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_agents(monday, make_user):
    ayse = make_user("support", "ayse", first_name="Ayşe")
    mehmet = make_user("support", "mehmet", first_name="Mehmet")
    ticket = ticket_actions.ticket_create(
        actor=Actor.system(), subject="İade", body="Kazak küçük geldi.", requester_email="zeynep@example.com"
    )
    return ticket, (ayse, login_client(ayse)), (mehmet, login_client(mehmet))


def seen_id(page: str) -> str:
    return re.search(r'name="seen_message" value="(\d+)"', page).group(1)


def test_agents_see_each_other_viewing_and_writing(two_agents, monday):
    ticket, (ayse, ayse_client), (_mehmet, mehmet_client) = two_agents
    url = f"/support/tickets/{ticket.pk}/"
    with translation.override("en"):
        first = ayse_client.get(url).content.decode()
        assert "is viewing" not in first and 'hx-trigger="every 10s' in first
        second = mehmet_client.get(url).content.decode()
        assert "Ayşe is viewing" in second  # shown on load, without JavaScript
        poll = ayse_client.post(f"{url}viewers/", {"body": "Merhaba, "}, HTTP_HX_REQUEST="true").content.decode()
        assert "Mehmet is viewing" in poll and "<html" not in poll
        polled = mehmet_client.post(f"{url}viewers/", {"body": ""}).content.decode()
        assert "Ayşe is writing a reply" in polled
        monday.advance(dt.timedelta(seconds=31))
        assert "Ayşe" not in mehmet_client.post(f"{url}viewers/", {}).content.decode()
    assert TicketViewer.objects.filter(ticket=ticket).count() == 2


def test_a_reply_crossing_another_agents_reply_is_held_then_sent_anyway(two_agents, monday):
    ticket, (_ayse, ayse_client), (mehmet, mehmet_client) = two_agents
    url = f"/support/tickets/{ticket.pk}/"
    ayse_seen = seen_id(ayse_client.get(url).content.decode())
    mehmet_seen = seen_id(mehmet_client.get(url).content.decode())
    monday.advance(dt.timedelta(minutes=1))
    sent = mehmet_client.post(url, {"action": "reply", "body": "Değişim yapalım.", "seen_message": mehmet_seen})
    assert sent.status_code == 302
    with translation.override("en"):
        held = ayse_client.post(url, {"action": "reply", "body": "İade kodunuz: 123", "seen_message": ayse_seen})
        page = held.content.decode()
    assert held.status_code == 409
    assert "Your reply is not sent" in page and "Değişim yapalım." in page
    assert ">İade kodunuz: 123</textarea>" in page and 'id="send-anyway"' in page
    assert ticket.messages.filter(direction="outbound").count() == 1
    anyway = ayse_client.post(
        url, {"action": "reply", "body": "İade kodunuz: 123", "seen_message": seen_id(page), "send_anyway": "1"}
    )
    assert anyway.status_code == 302
    assert list(ticket.messages.filter(direction="outbound").values_list("body", flat=True)) == [
        "Değişim yapalım.",
        "İade kodunuz: 123",
    ]


def test_a_new_customer_message_holds_the_reply_but_a_note_or_own_reply_does_not(two_agents, monday):
    ticket, (ayse, ayse_client), (_mehmet, mehmet_client) = two_agents
    url = f"/support/tickets/{ticket.pk}/"
    seen = seen_id(ayse_client.get(url).content.decode())
    mehmet_client.post(url, {"action": "note", "body": "Bunu Ayşe alsın"})
    first = ayse_client.post(url, {"action": "reply", "body": "İlk cevap", "seen_message": seen})
    assert first.status_code == 302  # a note is not public: nothing crossed
    ticket_actions.ticket_receive(actor=Actor.system(), ticket=ticket, body="Bir de renk değişsin")
    again = ayse_client.post(url, {"action": "reply", "body": "İkinci", "seen_message": seen})
    assert again.status_code == 409 and "Bir de renk değişsin" in again.content.decode()
    assert TicketMessage.objects.filter(ticket=ticket, direction="outbound").count() == 1
    no_id = ayse_client.post(url, {"action": "reply", "body": "Eski sayfadan"})  # an old page: not held
    assert no_id.status_code == 302


def test_readers_are_not_shown_as_viewers(two_agents, make_user):
    ticket, (_ayse, ayse_client), _mehmet = two_agents
    marketing = login_client(make_user("marketing", "pazarlama", first_name="Pelin"))
    url = f"/support/tickets/{ticket.pk}/"
    assert marketing.get(url).status_code == 200
    assert marketing.post(f"{url}viewers/", {"body": "x"}).status_code == 200
    with translation.override("en"):
        assert "Pelin" not in ayse_client.get(url).content.decode()
    assert not TicketViewer.objects.filter(user__username="pazarlama").exists()
