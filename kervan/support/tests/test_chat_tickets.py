"""Chats that become tickets (an agent converts one, nobody answered in time, the offline form), the widget's HTTP
endpoints, and a chat on the customer record (timeline, ticket summary, merge, privacy). The socket side runs on a
real ASGI server (asgi_server.py); the unanswered-chat run is also tested on the Redis channel layer, as a task
worker in another process would announce it."""

import asyncio
import datetime as dt
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.accounts.testing import login_client
from kervan.customers.actions import customer_create
from kervan.support import chat_actions
from kervan.support.models import ChatConversation, Ticket, TicketMessage
from kervan.support.tests import asgi_server as served
from kervan.support.tests.asgi_server import http_json, next_frame, off_loop, run, session_cookie

asgi_server = served.asgi_server  # the fixture


@pytest.fixture(autouse=True)
def fresh_counters():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def agent(make_user):
    return make_user(Role.SUPPORT, "ayse", first_name="Ayşe")


def agent_socket(server, user):
    headers = {"Cookie": session_cookie(user), "Origin": server.url}
    return connect(f"{server.ws_url}/ws/chat/agent/", additional_headers=headers, open_timeout=5)


def visitor_socket(server, key):
    return connect(f"{server.ws_url}/ws/chat/visitor/?key={key}", open_timeout=5)


# ---------------------------------------------------------------- over the sockets


def test_an_agent_converts_a_chat_to_a_ticket_with_its_transcript(asgi_server, agent):
    server = asgi_server
    chat = chat_actions.chat_start(name="Zeynep", email="zeynep@example.com", language="en")

    async def scenario():
        async with agent_socket(server, agent) as console, visitor_socket(server, chat.visitor_key) as visitor:
            await next_frame(console, "conversations")
            await next_frame(visitor, "history")
            await visitor.send(json.dumps({"type": "message", "body": "The lamp arrived broken."}))
            await next_frame(console, "message", conversation=chat.pk)
            await console.send(json.dumps({"type": "message", "conversation": chat.pk, "body": "Sorry! Photo?"}))
            await next_frame(visitor, "message", where=lambda f: f["message"]["sender"] == "agent")
            ticket = await asyncio.to_thread(
                server.call, chat_actions.chat_to_ticket, actor=Actor.for_user(agent), conversation=chat
            )
            assert (await next_frame(visitor, "status", status="closed"))["agent_name"] == "Ayşe"
            ended = await next_frame(console, "conversation", where=lambda f: f["conversation"]["status"] == "closed")
            assert ended["conversation"]["ticket"] == ticket.number
            return ticket

    ticket = run(scenario())
    assert ticket.channel == "chat" and ticket.requester_email == "zeynep@example.com" and ticket.language == "en"
    first = TicketMessage.objects.filter(ticket=ticket).order_by("id").first()
    assert "Zeynep: The lamp arrived broken." in first.body and "Ayşe: Sorry! Photo?" in first.body
    chat.refresh_from_db()
    assert chat.ticket == ticket and chat.status == "closed"
    assert chat.messages.last().body == f"We will answer by email (ticket {ticket.number})."
    # Converting again gives the same ticket.
    assert chat_actions.chat_to_ticket(actor=Actor.for_user(agent), conversation=chat) == ticket
    assert Ticket.objects.count() == 1


def test_an_unanswered_chat_becomes_a_ticket_announced_over_redis(asgi_server, agent, clock, settings):
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/14"], "prefix": f"kervan-test-{id(settings)}"},
        }
    }
    server = asgi_server
    waiting = chat_actions.chat_start(email="deniz@example.com")
    anonymous = chat_actions.chat_start(name="Nobody")  # no address: stays in the queue
    clock.advance(dt.timedelta(minutes=3))
    answered = chat_actions.chat_start(email="can@example.com")

    async def scenario():
        async with agent_socket(server, agent) as console, visitor_socket(server, waiting.visitor_key) as visitor:
            listed = await next_frame(console, "conversations")
            assert [c["id"] for c in listed["conversations"]] == [waiting.pk, anonymous.pk, answered.pk]
            await next_frame(visitor, "history")
            assert await off_loop(chat_actions.chats_unanswered_to_tickets) == 0  # 3 minutes: not yet
            clock.advance(dt.timedelta(minutes=2, seconds=1))
            # From the test's thread, not the server's: the Redis layer carries it, as from a task worker.
            assert await off_loop(chat_actions.chats_unanswered_to_tickets) == 1
            update = await next_frame(console, "conversation", where=lambda f: f["conversation"]["status"] == "closed")
            assert update["conversation"]["id"] == waiting.pk and update["conversation"]["ticket"]
            await next_frame(visitor, "status", status="closed")

    run(scenario())
    waiting.refresh_from_db()
    assert waiting.ticket.channel == "chat" and waiting.ticket.requester_email == "deniz@example.com"
    assert ChatConversation.objects.get(pk=anonymous.pk).status == "waiting"
    assert chat_actions.chats_unanswered_to_tickets() == 0  # idempotent
    clock.advance(dt.timedelta(minutes=3))
    assert chat_actions.chats_unanswered_to_tickets() == 1  # the later one, in its turn
    assert Ticket.objects.count() == 2


# ---------------------------------------------------------------- the widget's HTTP endpoints


def test_the_offline_form_makes_a_ticket(asgi_server):
    url = asgi_server.url
    assert http_json(f"{url}/chat/status/") == (200, {"agents_online": False})
    status, body = http_json(
        f"{url}/chat/offline/",
        {"name": "Elif", "email": "elif@example.com", "message": "<b>Kargo?</b>", "language": "en"},
    )
    assert status == 201 and body["ticket"].startswith("T-")
    ticket = Ticket.objects.get()
    assert ticket.channel == "chat" and ticket.language == "en" and ticket.requester_name == "Elif"
    assert ticket.messages.get().body == "<b>Kargo?</b>"
    # Refusals change nothing.
    for payload, code in (
        ({"email": "", "message": "x"}, "required"),
        ({"email": "not-an-address", "message": "x"}, "invalid_email"),
        ({"email": "a@example.com", "message": ""}, "required"),
        ({"email": "a@example.com", "message": "x", "extra": 1}, "validation_error"),
    ):
        status, body = http_json(f"{url}/chat/offline/", payload)
        assert 400 <= status < 500 and body["code"] == code, body
    assert Ticket.objects.count() == 1


def test_the_widget_endpoints_answer_cors_only_for_the_shops_origins(asgi_server, settings):
    from kervan.events.models import TrackerSite

    TrackerSite.objects.create(name="Shop", public_key="pk_test_chat", allowed_origins=["https://shop.example"])
    url = asgi_server.url
    status, body = http_json(f"{url}/chat/start/", {"name": "A"}, headers={"Origin": "https://shop.example"})
    assert status == 201 and len(body["key"]) >= 40 and body["agents_online"] is False
    status, body = http_json(f"{url}/chat/start/", {"name": "B"}, headers={"Origin": "https://evil.example"})
    assert (status, body["code"]) == (403, "origin_not_allowed")
    assert list(ChatConversation.objects.values_list("visitor_name", flat=True)) == ["A"]
    status, body = http_json(f"{url}/chat/start/", {"email": "nope"})
    assert (status, body["code"]) == (400, "invalid_email")
    status, body = http_json(f"{url}/chat/start/", {"name": "x" * 300})
    assert (status, body["code"]) == (422, "validation_error")

    async def storefront_socket(origin):
        key = ChatConversation.objects.get().visitor_key
        ws = f"{asgi_server.ws_url}/ws/chat/visitor/?key={key}"
        async with connect(ws, additional_headers={"Origin": origin}, open_timeout=5) as socket:
            return (await next_frame(socket, "history"))["type"]

    assert run(storefront_socket("https://shop.example")) == "history"
    with pytest.raises(InvalidStatus):
        run(storefront_socket("https://evil.example"))
    settings.KERVAN_CHAT_LIMITS = {
        **settings.KERVAN_CHAT_LIMITS,
        "address_offline": (1, 600),
        "address_starts": (1, 600),
    }
    status, body = http_json(f"{url}/chat/start/", {"name": "C"})
    assert (status, body["code"]) == (429, "rate_limited")
    assert http_json(f"{url}/chat/offline/", {"email": "a@example.com", "message": "1"})[0] == 201
    status, body = http_json(f"{url}/chat/offline/", {"email": "a@example.com", "message": "2"})
    assert (status, body["code"]) == (429, "rate_limited")


def test_the_widget_script_and_styles_are_served(client):
    script = client.get("/chat/widget.js")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"textContent" in script.content and b"innerHTML" not in script.content
    assert client.get("/chat/widget.css").status_code == 200


# ---------------------------------------------------------------- the customer record


def test_a_chat_on_the_customer_record(db, agent, make_user):
    system = Actor.system()
    customer = customer_create(actor=system, email="elif@example.com", first_name="Elif")
    duplicate = customer_create(actor=system, email="elif.other@example.com", first_name="Elif")
    chat = chat_actions.chat_start(email="elif.other@example.com", language="en")
    chat_actions.chat_post(conversation=chat, sender="visitor", body="Where is order 1001?")
    ticket = chat_actions.chat_to_ticket(actor=Actor.for_user(agent), conversation=chat)
    assert chat.customer == duplicate and ticket.customer == duplicate
    from kervan.customers.actions import customer_merge

    customer_merge(actor=system, survivor=customer, merged=duplicate)
    chat.refresh_from_db()
    assert chat.customer == customer
    admin = login_client(make_user(Role.ADMIN, "admin"))
    page = admin.get(f"/customers/{customer.pk}/").content.decode()
    assert "Where is order 1001?" in page and f"/support/chat/{chat.pk}/" in page
    ticket.refresh_from_db()
    summary = admin.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert 'id="summary-chats"' in summary and f"/support/chat/{chat.pk}/" in summary
    from kervan.customers.registry import PrivacySubject
    from kervan.support import privacy

    exported = privacy.export(PrivacySubject(customer_ids=(customer.pk,)))
    assert exported["chat_messages"][0]["body"] == "Where is order 1001?"
