"""A real browser on the live-chat console, against the real ASGI server (HTTP pages and WebSockets in one process):
a visitor on a shop page with the widget writes, the agent sees the conversation waiting, takes it and answers, and
the visitor receives the answer; typing and read marks travel both ways; a message with markup shows as text; canned
replies, article links, transfer, presence and converting to a ticket from the console."""

import json
from contextlib import ExitStack

import pytest
from django.conf import settings
from playwright.sync_api import expect
from websockets.sync.client import connect

from kervan.accounts.models import RolePolicy, User
from kervan.support.chat_actions import chat_start
from kervan.support.models import AgentPresence, ChatConversation, Ticket
from kervan.support.tests import asgi_server as served
from kervan.support.tests.asgi_server import session_cookie

asgi_server = served.asgi_server  # the fixture
pytestmark = [pytest.mark.browser]

SCRIPT = '<script>document.title="hacked"</script><b>bold</b>'


@pytest.fixture
def agent_page(browser, asgi_server):
    """A browser tab signed in as a Support agent who passed 2FA (the role requires it here), on the ASGI server."""
    RolePolicy.objects.update_or_create(role="support", defaults={"require_two_factor": True})
    user = User.objects.create_user(
        "selin-browser", password="kervan-browser-pw", role="support", language="en", first_name="Selin"
    )
    name, value = session_cookie(user, verified=True).split("=", 1)
    context = browser.new_context(locale="en-GB", base_url=asgi_server.url)
    context.add_cookies([{"name": name, "value": value, "url": asgi_server.url}])
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.agent = user
    yield tab
    context.close()


@pytest.fixture
def visitor_for(asgi_server):
    """visitor_for(conversation): the visitor's socket to it, closed after the test."""
    with ExitStack() as stack:

        def open_socket(conversation) -> "Visitor":
            url = f"{asgi_server.ws_url}/ws/chat/visitor/?key={conversation.visitor_key}"
            return Visitor(stack.enter_context(connect(url, open_timeout=10)))

        yield open_socket


class Visitor:
    """The storefront side, speaking the widget's protocol on its own socket."""

    def __init__(self, socket):
        self.socket = socket
        self.history = self.next("history")

    def send(self, **frame):
        self.socket.send(json.dumps(frame))

    def next(self, kind: str, timeout: float = 10) -> dict:
        while True:
            frame = json.loads(self.socket.recv(timeout=timeout))
            if frame["type"] == kind:
                return frame

    def message_from_agent(self) -> dict:
        while True:
            frame = self.next("message")
            if frame["message"]["sender"] == "agent":
                return frame["message"]


@pytest.fixture
def shop_page(browser, asgi_server, make_user):
    """A tab for the visitor, on the same server. Its shop page is Kervan's demo store page (/events/tracker/demo/),
    which loads the widget through the tracker: a page the test fulfilled itself would count as a public address, and
    Chromium's local-network checks then refuse its socket to the loopback server. That page is for staff who may
    read settings, so the visitor's tab carries an owner's session (the widget's socket never uses it)."""
    owner = make_user("admin", "shop-owner")
    name, value = session_cookie(owner).split("=", 1)
    context = browser.new_context(locale="en-GB", base_url=asgi_server.url)
    context.add_cookies([{"name": name, "value": value, "url": asgi_server.url}])
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def test_a_shop_visitor_and_an_agent_talk_through_widget_and_console(agent_page, shop_page):
    page, shop = agent_page, shop_page
    page.goto("/support/chat/")  # the agent's open console makes them online: the widget offers the chat
    expect(page.locator("#chat-connection")).to_have_text("Connected")

    shop.goto("/events/tracker/demo/")
    shop.get_by_role("button", name="Live chat").click()
    start = shop.locator("form.kc-start")
    start.locator("input[name=name]").fill("Zeynep")
    start.get_by_role("button", name="Start chat").click()
    box = shop.locator("textarea.kc-box")
    box.fill("Where is my order?")
    box.press("Enter")
    expect(shop.locator(".kc-message.kc-visitor .kc-body")).to_have_text("Where is my order?")

    conversation = ChatConversation.objects.get()
    item = page.locator(f'#chat-waiting li[data-chat="{conversation.pk}"]')
    expect(item).to_contain_text("Zeynep")
    item.locator("button").click()
    pane = page.locator(f"#chat-{conversation.pk}")
    expect(pane.locator(".from-visitor .chat-body")).to_have_text("Where is my order?")
    pane.locator("[data-action=join]").click()
    field = pane.locator("[data-field=input]")
    field.fill("Hello Zeynep, let me look.")
    expect(shop.locator(".kc-typing")).to_be_visible()  # the agent's typing reaches the widget
    field.press("Enter")
    expect(shop.locator(".kc-message.kc-agent .kc-body")).to_have_text("Hello Zeynep, let me look.")
    expect(pane.locator(".from-agent .chat-tick")).to_have_text("✓✓")  # the open widget read it

    box.fill(SCRIPT)
    box.press("Enter")
    expect(pane.locator(".from-visitor .chat-body").last).to_have_text(SCRIPT)  # as text in the console too
    assert pane.locator(".chat-messages b, .chat-messages script").count() == 0 and page.title() != "hacked"


def test_a_visitor_and_an_agent_talk_through_the_console(agent_page, asgi_server, visitor_for):
    page = agent_page
    conversation = asgi_server.call(
        chat_start, name="Deniz Kaya", email="deniz@example.com", page_url="https://shop.test/"
    )
    visitor = visitor_for(conversation)

    page.goto("/support/chat/")
    expect(page.locator("#chat-connection")).to_have_text("Connected")
    item = page.locator(f'#chat-waiting li[data-chat="{conversation.pk}"]')
    expect(item).to_contain_text("Deniz Kaya")

    visitor.send(type="message", body="Merhaba, kargom nerede?")
    expect(item.locator(".chat-unread")).to_have_text("1")  # waiting, unread

    item.locator("button").click()
    pane = page.locator(f"#chat-{conversation.pk}")
    expect(pane.locator(".from-visitor .chat-body")).to_have_text("Merhaba, kargom nerede?")
    pane.locator("[data-action=join]").click()
    expect(pane.locator("[data-field=status]")).to_have_attribute("data-status", "active")
    expect(pane.locator("[data-action=join]")).to_be_hidden()
    expect(page.locator(f'#chat-mine li[data-chat="{conversation.pk}"]')).to_be_visible()

    page.locator(f"#chat-{conversation.pk} [data-field=input]").fill("Merhaba Deniz, hemen bakıyorum.")
    assert visitor.next("typing")["on"] is True  # the agent's typing reached the visitor
    page.keyboard.press("Enter")
    answer = visitor.message_from_agent()
    assert answer["body"] == "Merhaba Deniz, hemen bakıyorum." and answer["agent_name"] == "Selin"
    mine = pane.locator(".from-agent").last
    expect(mine.locator(".chat-body")).to_have_text("Merhaba Deniz, hemen bakıyorum.")
    expect(mine.locator(".chat-tick")).to_have_text("✓")

    visitor.send(type="read", upto=answer["id"])  # the visitor read it: two ticks
    expect(mine.locator(".chat-tick")).to_have_text("✓✓")

    visitor.send(type="typing", on=True)
    expect(pane.locator("[data-field=typing]")).to_be_visible()
    visitor.send(type="message", body=SCRIPT)
    last = pane.locator(".from-visitor .chat-body").last
    expect(last).to_have_text(SCRIPT)  # the markup arrives as text
    assert pane.locator(".chat-messages b, .chat-messages script").count() == 0
    assert page.title() != "hacked"
    expect(pane.locator("[data-field=typing]")).to_be_hidden()

    page.locator(f"#chat-{conversation.pk} [data-field=input]").fill("/missing")
    page.keyboard.press("Enter")  # not a shortcut: sent as it is
    assert visitor.message_from_agent()["body"] == "/missing"

    pane.locator("[data-action=close]").click()
    expect(pane.locator("[data-field=status]")).to_have_attribute("data-status", "closed")
    assert ChatConversation.objects.get(pk=conversation.pk).status == "closed"
    while visitor.next("status")["status"] != "closed":
        pass


def test_the_console_inserts_canned_replies_and_article_links(agent_page, asgi_server, visitor_for, kb):
    from kervan.accounts.actors import Actor
    from kervan.support.canned import canned_save

    page = agent_page
    canned_save(actor=Actor.system(), title="Greeting", shortcut="hi", body="Merhaba {{ customer.first_name }}!")
    conversation = asgi_server.call(chat_start, name="Deniz Kaya", email="deniz@example.com")
    visitor = visitor_for(conversation)
    visitor.send(type="message", body="kargom nerede")

    page.goto("/support/chat/")
    page.locator(f'#chat-waiting li[data-chat="{conversation.pk}"] button').click()
    pane = page.locator(f"#chat-{conversation.pk}")
    pane.locator("[data-action=join]").click()
    expect(pane.locator("[data-field=compose]")).to_be_visible()
    field = pane.locator("[data-field=input]")

    field.fill("/hi")
    field.press("Enter")  # a shortcut: replaced by the rendered reply, not sent
    expect(field).to_have_value("Merhaba Deniz!")
    field.fill("")
    pane.locator("[data-field=canned]").select_option(label="Greeting (/hi)")
    expect(field).to_have_value("Merhaba Deniz!")

    suggestion = page.locator("#chat-suggestions li").first
    expect(suggestion.locator("a")).to_have_text("Kargo takibi: siparişim nerede?")
    field.fill("")
    suggestion.locator("button").click()
    expect(field).to_have_value(f"{settings.KERVAN_PUBLIC_URL.rstrip('/')}/help/kargo-takibi/")
    expect(page.locator("#chat-summary")).to_contain_text("not linked to a customer")


def test_presence_transfer_and_converting_to_a_ticket(agent_page, asgi_server, visitor_for, make_agent):
    page = agent_page
    colleague = make_agent("burak", "online")
    conversation = asgi_server.call(chat_start, name="Deniz Kaya", email="deniz@example.com")
    visitor = visitor_for(conversation)
    visitor.send(type="message", body="Faturamı alabilir miyim?")

    page.goto("/support/chat/")
    expect(page.locator("#chat-connection")).to_have_text("Connected")
    page.select_option("#chat-presence", "away")
    page.locator(f'#chat-waiting li[data-chat="{conversation.pk}"] button').click()
    pane = page.locator(f"#chat-{conversation.pk}")
    pane.locator("[data-action=join]").click()
    expect(pane.locator("[data-field=status]")).to_have_attribute("data-status", "active")
    assert AgentPresence.objects.get(user=page.agent).status == "away"

    transfer = pane.locator("[data-field=transfer]")
    expect(transfer.locator(f'option[value="{colleague.pk}"]')).to_have_count(1)
    transfer.select_option(str(colleague.pk))
    pane.locator("[data-action=transfer]").click()
    expect(pane.locator("[role=alert]")).to_contain_text("now with another agent")
    expect(page.locator(f'#chat-mine li[data-chat="{conversation.pk}"]')).to_have_count(0)
    assert ChatConversation.objects.get(pk=conversation.pk).assignee_id == colleague.pk

    pane.locator("[data-action=ticket]").click()
    link = pane.locator("[data-field=ticket]")
    expect(link).to_be_visible()
    ticket = Ticket.objects.get()
    expect(link).to_have_text(ticket.number)
    expect(link).to_have_attribute("href", f"/support/tickets/{ticket.pk}/")
    assert "Faturamı alabilir miyim?" in ticket.messages.get().body
