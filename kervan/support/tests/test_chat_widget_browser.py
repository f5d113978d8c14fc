"""The storefront chat widget (chat-widget.js) in a real browser against the real ASGI server: a shop page that loads
it (by its own tag, or through the tracker's data-chat), the visitor chatting with an agent (typing, read ticks,
markup shown as text, the conversation kept across a reload) and the offline form when nobody is online."""

import json

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.support import chat_actions
from kervan.support.models import AgentPresence, ChatConversation, ChatMessage, Ticket
from kervan.support.tests import asgi_server as served
from kervan.support.tests.asgi_server import session_cookie

asgi_server = served.asgi_server  # the fixture
pytestmark = [pytest.mark.browser]

SHOP_PAGE = (
    '<!doctype html><html lang="{language}"><head><meta charset="utf-8"><title>Shop</title></head>'
    '<body><h1>Dükkan</h1><script async src="/chat/widget.js" data-kervan-chat></script></body></html>'
)


@pytest.fixture
def shop(browser, asgi_server):
    """shop(language): a tab on a shop page (served at the ASGI server's own origin) that carries the widget."""
    contexts = []

    def open_page(language: str = "en"):
        context = browser.new_context(base_url=asgi_server.url)
        contexts.append(context)
        context.route(
            f"{asgi_server.url}/shop/",
            lambda route: route.fulfill(content_type="text/html", body=SHOP_PAGE.format(language=language)),
        )
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.goto("/shop/")
        return tab

    yield open_page
    for context in contexts:
        context.close()


def test_the_offline_form_when_no_agent_is_online(shop):
    tab = shop("tr")
    tab.get_by_role("button", name="Canlı destek").click()
    form = tab.locator("form.kc-offline")
    expect(form).to_be_visible()
    form.locator("input[name=email]").fill("elif@example.com")
    form.locator("textarea[name=message]").fill("Siparişim nerede?")
    form.get_by_role("button", name="Mesajı gönder").click()
    expect(tab.locator(".kc-notice")).to_contain_text("T-")
    ticket = Ticket.objects.get()
    assert ticket.channel == "chat" and ticket.language == "tr" and ticket.requester_email == "elif@example.com"


def test_a_visitor_chats_with_an_agent(browser, asgi_server, make_user):
    """On Kervan's demo store page: the tracker loads the widget (data-chat), under Kervan's own CSP."""
    agent = make_user(Role.SUPPORT, "ayse", first_name="Ayşe")
    AgentPresence.objects.create(user=agent, status=AgentPresence.Status.ONLINE)
    owner = make_user(Role.ADMIN, "owner")  # the demo page is for staff who may read settings
    context = browser.new_context(base_url=asgi_server.url)
    name, value = session_cookie(owner).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": asgi_server.url}])
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.goto("/events/tracker/demo/")
    tab.get_by_role("button", name="Live chat").click()
    start = tab.locator("form.kc-start")
    start.locator("input[name=name]").fill("Zeynep")
    start.get_by_role("button", name="Start chat").click()
    box = tab.locator("textarea.kc-box")
    expect(box).to_be_visible()
    markup = '<img src=x onerror="document.title=1">Hello'
    box.fill(markup)
    box.press("Enter")
    mine = tab.locator(".kc-message.kc-visitor")
    expect(mine.locator(".kc-body")).to_have_text(markup)  # as text: no <img> in the widget
    assert tab.locator(".kervan-chat-host img").count() == 0
    chat = ChatConversation.objects.get()
    assert chat.visitor_name == "Zeynep" and chat.messages.get().body == markup

    cookie = session_cookie(agent)
    headers = {"Cookie": cookie, "Origin": asgi_server.url}
    with connect(f"{asgi_server.ws_url}/ws/chat/agent/", additional_headers=headers, open_timeout=5) as console:
        console.recv(timeout=5)
        actor = Actor.for_user(agent)
        asgi_server.call(chat_actions.chat_join, actor=actor, conversation=chat)
        expect(tab.locator(".kc-notice")).to_have_text("Ayşe is chatting with you.")
        console.send(json.dumps({"type": "typing", "conversation": chat.pk, "on": True}))
        expect(tab.locator(".kc-typing")).to_be_visible()
        reply = asgi_server.call(
            chat_actions.chat_post, conversation=chat, sender="agent", body="Hi Zeynep!", actor=actor
        )
        expect(tab.locator(".kc-message.kc-agent .kc-body")).to_have_text("Hi Zeynep!")
        expect(tab.locator(".kc-typing")).to_be_hidden()
        # The open widget marks the agent's message read; the agent reads the visitor's: ✓✓.
        first = chat.messages.filter(sender="visitor").get()
        asgi_server.call(chat_actions.chat_read, conversation=chat, side="agent", upto=first.pk)
        expect(mine.locator(".kc-tick")).to_have_text("✓✓")
    chat.refresh_from_db()
    assert chat.visitor_read_upto == reply.pk
    # The conversation carries on after a reload (its key in localStorage).
    tab.reload()
    tab.get_by_role("button", name="Live chat").click()
    expect(tab.locator(".kc-message.kc-agent .kc-body")).to_have_text("Hi Zeynep!")
    assert ChatConversation.objects.count() == 1 and ChatMessage.objects.filter(sender="visitor").count() == 1
    assert errors == []  # nothing refused by the page's Content Security Policy
    context.close()
