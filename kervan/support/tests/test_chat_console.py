"""The live-chat console's page and JSON endpoints (/support/chat/): who may see and do what, a conversation's
history, canned replies rendered for the visitor, help-article suggestions, online agents, converting to a ticket,
the visitor's summary and the read-only transcript. The socket side is tested in test_chat_browser.py."""

import json

import pytest
from django.test import Client
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.customers.tests.factories import make_customer, make_order
from kervan.support import canned
from kervan.support.chat_actions import chat_join, chat_post, chat_start
from kervan.support.models import AgentPresence, ChatConversation, Ticket

pytestmark = pytest.mark.django_db

BASE = "/support/chat/"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def cast(make_user, make_agent):
    """Support agents (write), Marketing (reads support), Sales (no support at all)."""
    return {
        "selin": make_agent("selin", "online"),
        "burak": make_agent("burak", "online"),
        "marketing": make_user("marketing", "mert"),
        "sales": make_user("sales", "sena"),
    }


@pytest.fixture
def chat(db):
    conversation = chat_start(
        name="Deniz Kaya", email="deniz@example.com", language="tr", page_url="https://shop.test/"
    )
    chat_post(conversation=conversation, sender="visitor", body="Merhaba, kargom nerede?")
    return conversation


# ---------------------------------------------------------------- the page


def test_an_agent_gets_the_live_console_with_the_tab(cast):
    response = client_for(cast["selin"]).get(BASE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="chat-console"' in html and "chat-console.js" in html and 'id="chat-pane-template"' in html
    assert 'id="chat-texts"' in html and 'data-socket="/ws/chat/agent/"' in html
    assert 'href="/support/chat/" class="view-link active">Live chat</a>' in html
    assert '<option value="online" selected>' in html


def test_a_reader_sees_the_conversations_without_the_console(cast, chat):
    response = client_for(cast["marketing"]).get(BASE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="chat-console"' not in html and "chat-console.js" not in html
    assert 'id="chat-read-only"' in html and f'href="/support/chat/{chat.pk}/"' in html and "Deniz Kaya" in html


def test_other_roles_and_strangers_are_refused_the_page(cast):
    assert client_for(cast["sales"]).get(BASE).status_code == 403
    response = Client().get(BASE)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_support_tabs_link_the_console(cast):
    html = client_for(cast["selin"]).get("/support/tickets/").content.decode()
    assert 'href="/support/chat/"' in html and "Live chat" in html


# ---------------------------------------------------------------- permissions of every endpoint

ENDPOINTS = [  # (method, path pattern, access needed)
    ("get", "{id}/messages/", "read"),
    ("get", "{id}/suggestions/", "read"),
    ("get", "{id}/canned/", "write"),
    ("get", "{id}/canned/{reply}/", "write"),
    ("get", "agents/", "write"),
    ("post", "{id}/ticket/", "write"),
]


@pytest.mark.parametrize(("method", "pattern", "access"), ENDPOINTS)
@pytest.mark.parametrize("who", ["sales", "marketing", "anonymous"])
def test_each_endpoint_refuses_with_detail_and_code_and_changes_nothing(cast, chat, method, pattern, access, who):
    reply = canned.canned_save(actor=Actor.system(), title="Hi", body="Merhaba")
    path = BASE + pattern.format(id=chat.pk, reply=reply.pk)
    client = Client() if who == "anonymous" else client_for(cast[who])
    response = getattr(client, method)(path)
    if who == "marketing" and access == "read":
        assert response.status_code == 200
        return
    body = response.json()
    assert response.status_code == (401 if who == "anonymous" else 403)
    assert set(body) == {"detail", "code"} and body["detail"]
    assert body["code"] == ("not_authenticated" if who == "anonymous" else "permission_denied")
    assert Ticket.objects.count() == 0 and ChatConversation.objects.get(pk=chat.pk).ticket_id is None
    assert canned.CannedReply.objects.get(pk=reply.pk).uses == 0


def test_an_unknown_conversation_is_a_json_404_and_a_page_404(cast):
    client = client_for(cast["selin"])
    for path in ("999999/messages/", "999999/suggestions/", "999999/canned/", "999999/ticket/"):
        response = client.post(BASE + path) if path.endswith("ticket/") else client.get(BASE + path)
        assert response.status_code == 404 and response.json()["code"] == "chat_not_found"
    assert client.get(BASE + "99999999999999999999/messages/").status_code == 404
    assert client.get(BASE + "999999/").status_code == 404


def test_a_wrong_method_is_refused(cast, chat):
    client = client_for(cast["selin"])
    assert client.get(BASE + f"{chat.pk}/ticket/").status_code == 405
    assert client.post(BASE + f"{chat.pk}/messages/").status_code == 405


# ---------------------------------------------------------------- history


def test_the_history_has_the_conversation_its_messages_and_the_read_marks(cast, chat):
    agent = cast["selin"]
    chat_join(actor=Actor.for_user(agent), conversation=chat)
    sent = chat_post(conversation=chat, sender="agent", body="<script>alert(1)</script>", actor=Actor.for_user(agent))
    ChatConversation.objects.filter(pk=chat.pk).update(visitor_read_upto=sent.pk)

    body = client_for(cast["marketing"]).get(BASE + f"{chat.pk}/messages/").json()
    conversation = body["conversation"]
    assert conversation["id"] == chat.pk and conversation["status"] == "active"
    assert conversation["assignee_id"] == agent.pk and conversation["visitor_read_upto"] == sent.pk
    assert [m["sender"] for m in body["messages"]] == ["visitor", "system", "agent"]
    assert body["messages"][0]["body"] == "Merhaba, kargom nerede?"
    assert body["messages"][-1]["body"] == "<script>alert(1)</script>"  # plain text: the console sets textContent


# ---------------------------------------------------------------- canned replies


def test_a_canned_reply_is_rendered_for_the_visitor_and_the_agent(cast, chat):
    reply = canned.canned_save(
        actor=Actor.system(),
        title="Greeting",
        shortcut="hello",
        body="Merhaba {{ customer.first_name }}, ben {{ agent.first_name }}. {{ customer.email }}",
    )
    canned.canned_save(actor=Actor.system(), title="English one", language="en", body="Hi")
    client = client_for(cast["selin"])

    listed = client.get(BASE + f"{chat.pk}/canned/").json()["replies"]
    assert listed[0] == {"id": reply.pk, "title": "Greeting", "shortcut": "hello", "language": "tr"}  # Turkish first
    response = client.get(BASE + f"{chat.pk}/canned/{reply.pk}/")
    assert response.status_code == 200
    assert response.json() == {"id": reply.pk, "text": "Merhaba Deniz, ben selin. deniz@example.com"}
    assert canned.CannedReply.objects.get(pk=reply.pk).uses == 1
    missing = client.get(BASE + f"{chat.pk}/canned/987654/")
    assert missing.status_code == 404 and missing.json()["code"] == "canned_not_found"


def test_a_canned_reply_uses_the_linked_customer(cast, db):
    customer = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com")
    conversation = chat_start(name="someone", email="isil@example.com")
    assert conversation.customer_id == customer.pk
    reply = canned.canned_save(actor=Actor.system(), title="Name", body="{{ customer.name }}")
    text = client_for(cast["selin"]).get(BASE + f"{conversation.pk}/canned/{reply.pk}/").json()["text"]
    assert text == "Işıl Çağlar"


# ---------------------------------------------------------------- suggestions


def test_suggestions_come_from_the_visitors_last_message(cast, chat, kb, settings):
    settings.KERVAN_PUBLIC_URL = "https://crm.example.com/"
    body = client_for(cast["marketing"]).get(BASE + f"{chat.pk}/suggestions/").json()
    assert body["query"] == "Merhaba, kargom nerede?"
    assert body["articles"][0] == {
        "title": "Kargo takibi: siparişim nerede?",
        "path": "/help/kargo-takibi/",
        "url": "https://crm.example.com/help/kargo-takibi/",
    }
    assert all(a["path"] != "/help/gizli-kampanya/" for a in body["articles"])  # a draft is never suggested

    english = chat_start(name="Sam", language="en")
    chat_post(conversation=english, sender="visitor", body="how do returns work")
    found = client_for(cast["selin"]).get(BASE + f"{english.pk}/suggestions/").json()["articles"]
    assert found[0]["path"] == "/help/en/iadeler-ve-degisim/" and found[0]["title"] == "Returns and exchanges"


def test_no_visitor_message_means_no_suggestion(cast, db):
    quiet = chat_start(name="Quiet")
    assert client_for(cast["selin"]).get(BASE + f"{quiet.pk}/suggestions/").json() == {"query": "", "articles": []}


# ---------------------------------------------------------------- agents, ticket, summary, transcript


def test_the_transfer_list_has_the_other_online_agents(cast, make_agent):
    make_agent("away-agent", "away")
    AgentPresence.objects.create(user=cast["marketing"], status="online")  # online but not an agent
    body = client_for(cast["selin"]).get(BASE + "agents/").json()
    assert [a["id"] for a in body["agents"]] == [cast["burak"].pk]


def test_converting_makes_a_ticket_once_and_links_it(cast, chat):
    client = client_for(cast["selin"])
    response = client.post(BASE + f"{chat.pk}/ticket/")
    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert response.json() == {"ticket": ticket.number, "url": f"/support/tickets/{ticket.pk}/"}
    assert "kargom nerede" in ticket.messages.get().body and ticket.channel == "chat"
    again = client.post(BASE + f"{chat.pk}/ticket/")
    assert again.status_code == 201 and again.json()["ticket"] == ticket.number and Ticket.objects.count() == 1
    history = client.get(BASE + f"{chat.pk}/messages/").json()["conversation"]
    assert history["ticket"] == ticket.number and history["ticket_url"] == f"/support/tickets/{ticket.pk}/"


def test_converting_a_chat_with_nobody_to_answer_is_a_clear_400(cast, db):
    anonymous = chat_start()
    chat_post(conversation=anonymous, sender="visitor", body="hello")
    response = client_for(cast["selin"]).post(BASE + f"{anonymous.pk}/ticket/")
    assert response.status_code == 400 and response.json()["code"] == "requester_required"
    assert Ticket.objects.count() == 0


def test_the_summary_is_the_ticket_pages_summary_of_the_customer(cast, db):
    customer = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com")
    order = make_order(customer)
    conversation = chat_start(email="isil@example.com")
    html = client_for(cast["selin"]).get(BASE + f"{conversation.pk}/summary/").content.decode()
    assert 'id="customer-summary"' in html and f'href="/customers/{customer.pk}/"' in html
    assert "Işıl Çağlar" in html and f'data-order="{order.number}"' in html and 'id="summary-total-spent"' in html

    stranger = chat_start(name="New person")
    html = client_for(cast["selin"]).get(BASE + f"{stranger.pk}/summary/").content.decode()
    assert 'id="customer-summary-missing"' in html and "not linked to a customer" in html
    assert client_for(cast["sales"]).get(BASE + f"{stranger.pk}/summary/").status_code == 403


def test_the_transcript_shows_every_message_as_text(cast, chat):
    agent = cast["selin"]
    chat_post(conversation=chat, sender="agent", body='<script>alert("x")</script>', actor=Actor.for_user(agent))
    response = client_for(cast["marketing"]).get(BASE + f"{chat.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="chat-transcript"' in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and '<script>alert("x")' not in html
    assert "Merhaba, kargom nerede?" in html and "Deniz Kaya" in html
    assert client_for(cast["sales"]).get(BASE + f"{chat.pk}/").status_code == 403


def test_the_console_texts_are_json_not_markup(cast):
    html = client_for(cast["selin"]).get(BASE).content.decode()
    start = html.index('<script id="chat-texts" type="application/json">') + len(
        '<script id="chat-texts" type="application/json">'
    )
    texts = json.loads(html[start : html.index("</script>", start)])
    assert texts["visitor"] == "Visitor" and texts["read"] == "Read by the visitor"
