"""Live chat over real WebSockets: a uvicorn server on loopback serving config.asgi (kervan/support/tests/
asgi_server.py), the visitor and the agent as real `websockets` clients."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kervan.accounts.permissions import Role
from kervan.support.models import AgentPresence, ChatConversation, ChatMessage
from kervan.support.tests import asgi_server as served
from kervan.support.tests.asgi_server import http_json, next_frame, off_loop, run, session_cookie

asgi_server = served.asgi_server  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_counters():
    """Rate-limit counters live in the cache: none carried over from another test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def agent(make_user):
    return make_user(Role.SUPPORT, "ayse", first_name="Ayşe", last_name="Yılmaz")


def eventually(check, seconds: float = 3.0) -> bool:
    """What a socket's close does on the server happens just after the client has gone: wait for it."""
    import time

    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def start_chat(server, **fields) -> str:
    status, body = http_json(f"{server.url}/chat/start/", {"language": "en", **fields})
    assert status == 201, body
    return body["key"]


def visitor_socket(server, key: str):
    return connect(f"{server.ws_url}/ws/chat/visitor/?key={key}", open_timeout=5)


def agent_socket(server, user, **kwargs):
    headers = {"Cookie": session_cookie(user, **kwargs), "Origin": server.url}
    return connect(f"{server.ws_url}/ws/chat/agent/", additional_headers=headers, open_timeout=5)


def test_visitor_and_agent_talk_both_ways_with_typing_and_read(asgi_server, agent):
    server = asgi_server
    cookie_agent = agent

    async def scenario():
        async with agent_socket(server, cookie_agent) as console:
            listed = await next_frame(console, "conversations")
            assert listed["conversations"] == []
            key = await asyncio.to_thread(start_chat, server, name="Zeynep", page_url="https://shop.test/p/1")
            new = await next_frame(console, "conversation")
            chat_id = new["conversation"]["id"]
            assert new["conversation"]["status"] == "waiting"
            assert new["conversation"]["visitor_name"] == "Zeynep"
            async with visitor_socket(server, key) as visitor:
                history = await next_frame(visitor, "history")
                assert history["messages"] == [] and history["conversation"]["status"] == "waiting"

                await visitor.send(json.dumps({"type": "typing", "on": True}))
                assert (await next_frame(console, "typing"))["conversation"] == chat_id
                await visitor.send(json.dumps({"type": "message", "body": "Kargom nerede?"}))
                got = await next_frame(console, "message", conversation=chat_id)
                assert got["message"]["sender"] == "visitor" and got["message"]["body"] == "Kargom nerede?"
                first_id = got["message"]["id"]

                await console.send(json.dumps({"type": "join", "conversation": chat_id}))
                status = await next_frame(visitor, "status")
                assert status == {"type": "status", "status": "active", "agent_name": "Ayşe"}
                await console.send(json.dumps({"type": "read", "conversation": chat_id, "upto": first_id}))
                assert (await next_frame(visitor, "read"))["upto"] == first_id

                await console.send(json.dumps({"type": "typing", "conversation": chat_id, "on": True}))
                assert (await next_frame(visitor, "typing"))["on"] is True
                await console.send(json.dumps({"type": "message", "conversation": chat_id, "body": "Yolda!"}))
                reply = await next_frame(visitor, "message", where=lambda f: f["message"]["sender"] == "agent")
                assert reply["message"]["body"] == "Yolda!" and reply["message"]["agent_name"] == "Ayşe"
                await visitor.send(json.dumps({"type": "read", "upto": reply["message"]["id"]}))
                read = await next_frame(console, "read", conversation=chat_id)
                assert read["upto"] == reply["message"]["id"]
        return chat_id

    chat_id = run(scenario())
    chat = ChatConversation.objects.get(pk=chat_id)
    assert chat.status == "active" and chat.assignee == agent
    assert chat.first_agent_message_at is not None
    assert chat.visitor_read_upto == chat.messages.filter(sender="agent").get().pk
    assert list(chat.messages.values_list("sender", flat=True)) == ["visitor", "system", "agent"]
    # The console closed: the agent is offline again.
    assert eventually(lambda: AgentPresence.objects.get(user=agent).status == "offline")


def test_a_visitor_reads_only_their_own_conversation(asgi_server):
    server = asgi_server

    async def scenario():
        first = await asyncio.to_thread(start_chat, server, name="Birinci")
        second = await asyncio.to_thread(start_chat, server, name="İkinci")
        async with visitor_socket(server, first) as one:
            await next_frame(one, "history")
            await one.send(json.dumps({"type": "message", "body": "gizli sipariş 4411"}))
            await next_frame(one, "message")
        async with visitor_socket(server, second) as two:
            history = await next_frame(two, "history")
            assert history["messages"] == []
            await two.send(json.dumps({"type": "message", "body": "merhaba"}))
            mine = await next_frame(two, "message")
            assert mine["message"]["body"] == "merhaba"
        for wrong in (first[:-1] + ("A" if first[-1] != "A" else "B"), "", "x" * 200, "%00"):
            async with visitor_socket(server, wrong) as intruder:
                error = await next_frame(intruder, "error")
                assert error["code"] == "not_found"
                with pytest.raises(ConnectionClosed) as closed:
                    await intruder.recv()
                assert closed.value.rcvd.code == 4404

    run(scenario())
    bodies = {c.visitor_name: list(c.messages.values_list("body", flat=True)) for c in ChatConversation.objects.all()}
    assert bodies == {"Birinci": ["gizli sipariş 4411"], "İkinci": ["merhaba"]}


async def refused(socket) -> int:
    """The close code of a socket the server refuses (after its error frame)."""
    error = await next_frame(socket, "error")
    assert error["code"] == "forbidden"
    with pytest.raises(ConnectionClosed) as closed:
        await socket.recv()
    return closed.value.rcvd.code


def test_only_support_agents_who_passed_two_factor_open_the_console(asgi_server, make_user, agent):
    from django.utils import timezone

    marketer = make_user(Role.MARKETING, "pazarlama")  # reads support, may not answer
    agent.totp_confirmed_at = timezone.now()  # 2FA on: the session must have passed it
    agent.save(update_fields=["totp_confirmed_at"])
    server = asgi_server

    async def scenario():
        codes = []
        async with agent_socket(server, marketer) as socket:
            codes.append(await refused(socket))
        async with agent_socket(server, agent, verified=False) as socket:
            codes.append(await refused(socket))
        async with connect(f"{server.ws_url}/ws/chat/agent/", additional_headers={"Origin": server.url}) as socket:
            codes.append(await refused(socket))
        async with agent_socket(server, agent) as socket:  # the same agent, second factor passed
            assert (await next_frame(socket, "conversations"))["conversations"] == []
        return codes

    assert run(scenario()) == [4403, 4403, 4403]
    # A foreign page cannot open the agent's socket on the agent's cookie.
    with pytest.raises(InvalidStatus):
        run(_open_from(server, agent, "https://evil.example"))
    assert not AgentPresence.objects.filter(user=marketer).exists()


async def _open_from(server, user, origin):
    headers = {"Cookie": session_cookie(user), "Origin": origin}
    async with connect(f"{server.ws_url}/ws/chat/agent/", additional_headers=headers, open_timeout=5) as socket:
        await socket.recv()


def test_script_in_a_message_arrives_as_text_and_bad_frames_get_errors(asgi_server, agent):
    server = asgi_server
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    async def scenario():
        async with agent_socket(server, agent) as console:
            await next_frame(console, "conversations")
            key = await asyncio.to_thread(start_chat, server, name="<b>Mallory</b>")
            chat_id = (await next_frame(console, "conversation"))["conversation"]["id"]
            async with visitor_socket(server, key) as visitor:
                await next_frame(visitor, "history")
                await visitor.send(json.dumps({"type": "message", "body": script}))
                got = await next_frame(console, "message", conversation=chat_id)
                assert got["message"]["body"] == script  # the same characters, for textContent
                await visitor.send("not json")
                assert (await next_frame(visitor, "error"))["code"] == "invalid_frame"
                await visitor.send(json.dumps({"type": "message", "body": "x" * 4001}))
                assert (await next_frame(visitor, "error"))["code"] == "too_long"
                await visitor.send(json.dumps({"type": "message", "body": "   "}))
                assert (await next_frame(visitor, "error"))["code"] == "required"
                await visitor.send(json.dumps({"type": "shout"}))
                assert (await next_frame(visitor, "error"))["code"] == "unknown_type"
                await console.send(json.dumps({"type": "message", "conversation": 999999, "body": "hi"}))
                assert (await next_frame(console, "error"))["code"] == "not_found"

    run(scenario())
    assert list(ChatMessage.objects.values_list("body", flat=True)) == [script]
    assert ChatConversation.objects.get().visitor_name == "<b>Mallory</b>"


def test_visitor_messages_are_rate_limited(asgi_server, settings):
    settings.KERVAN_CHAT_LIMITS = {**settings.KERVAN_CHAT_LIMITS, "visitor_messages": (3, 60)}
    server = asgi_server

    async def scenario():
        key = await asyncio.to_thread(start_chat, server)
        async with visitor_socket(server, key) as visitor:
            await next_frame(visitor, "history")
            for number in range(4):
                await visitor.send(json.dumps({"type": "message", "body": f"m{number}"}))
            error = await next_frame(visitor, "error")
            assert error["code"] == "rate_limited"
        async with visitor_socket(server, key) as visitor:  # any frames: typing floods are cut off too
            await next_frame(visitor, "history")
            for _number in range(61):
                await visitor.send(json.dumps({"type": "typing", "on": True}))
            assert (await next_frame(visitor, "error"))["code"] == "rate_limited"

    run(scenario())
    assert list(ChatMessage.objects.order_by("id").values_list("body", flat=True)) == ["m0", "m1", "m2"]


def test_transfer_and_close_reach_both_sides(asgi_server, agent, make_user):
    other = make_user(Role.SUPPORT, "mehmet", first_name="Mehmet")
    server = asgi_server

    async def scenario():
        async with agent_socket(server, agent) as ayse, agent_socket(server, other) as mehmet:
            await next_frame(ayse, "conversations")
            await next_frame(mehmet, "conversations")
            key = await asyncio.to_thread(start_chat, server, name="Deniz")
            chat_id = (await next_frame(ayse, "conversation"))["conversation"]["id"]
            async with visitor_socket(server, key) as visitor:
                await next_frame(visitor, "history")
                await ayse.send(json.dumps({"type": "join", "conversation": chat_id}))
                await next_frame(visitor, "status", status="active")
                await mehmet.send(json.dumps({"type": "message", "conversation": chat_id, "body": "ben de"}))
                assert (await next_frame(mehmet, "error"))["code"] == "chat_taken"
                await ayse.send(json.dumps({"type": "transfer", "conversation": chat_id, "to": other.pk}))
                await next_frame(mehmet, "conversation", where=lambda f: f["conversation"]["assignee_id"] == other.pk)
                status = await next_frame(visitor, "status", agent_name="Mehmet")
                assert status["status"] == "active"
                await mehmet.send(json.dumps({"type": "message", "conversation": chat_id, "body": "Merhaba"}))
                reply = await next_frame(visitor, "message", where=lambda f: f["message"]["sender"] == "agent")
                assert reply["message"]["agent_name"] == "Mehmet"
                await mehmet.send(json.dumps({"type": "close", "conversation": chat_id}))
                await next_frame(visitor, "status", status="closed")
                await visitor.send(json.dumps({"type": "message", "body": "hello?"}))
                assert (await next_frame(visitor, "error"))["code"] == "chat_closed"
            await ayse.send(json.dumps({"type": "presence", "status": "away"}))
            await off_loop(eventually, lambda: AgentPresence.objects.filter(user=agent, status="away").exists())
            assert AgentPresence.objects.get(user=other).status == "online"
        return chat_id

    chat_id = run(scenario())
    chat = ChatConversation.objects.get(pk=chat_id)
    assert chat.status == "closed" and chat.assignee == other and chat.closed_at is not None
    from kervan.core.models import AuditLog

    changes = [a.changes for a in AuditLog.objects.filter(object_type="support.chatconversation").order_by("id")]
    assert changes[1] == {"assignee": ["ayse", "mehmet"]} and changes[-1] == {"status": ["active", "closed"]}


def test_an_anonymous_visitor_is_linked_once_the_tracker_knows_them(asgi_server, agent):
    from kervan.accounts.actors import Actor
    from kervan.customers.actions import customer_create, identity_add

    server = asgi_server

    async def scenario(key):
        async with visitor_socket(server, key) as visitor:
            await next_frame(visitor, "history")

    key = start_chat(server, anonymous_id="aid-123")
    chat = ChatConversation.objects.get()
    assert chat.customer_id is None
    customer = customer_create(actor=Actor.system(), email="elif@example.com", first_name="Elif")
    identity_add(actor=Actor.system(), customer=customer, kind="anonymous", value="aid-123")
    run(scenario(key))  # on the next connect
    chat.refresh_from_db()
    assert chat.customer == customer
    # An email given at the start names the customer at once.
    start_chat(server, email="ELIF@example.com ")
    assert ChatConversation.objects.latest("id").customer == customer
