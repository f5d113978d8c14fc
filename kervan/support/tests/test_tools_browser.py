"""A real browser, two agents on one ticket: each sees the other (writing, once the reply box holds text) through
the htmx poll; the canned-reply picker fills the reply box in place; a reply that crosses the other agent's newer
reply is held with the new message shown and goes with "Send anyway"."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.accounts.two_factor import SESSION_VERIFIED
from kervan.customers.tests.factories import make_customer
from kervan.support import canned, ticket_actions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def agent_tab(browser, live_server, username: str, first_name: str):
    user = User.objects.create_user(username, role="support", language="en", first_name=first_name)
    staff = Client()
    staff.force_login(user)
    session = staff.session
    session[SESSION_VERIFIED] = True
    session.save()
    context = browser.new_context(locale="en-GB", base_url=live_server.url)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": live_server.url}])
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    return context, tab


def test_two_agents_on_one_ticket(browser, live_server):
    customer = make_customer(email="zeynep@example.com", first_name="Zeynep")
    ticket = ticket_actions.ticket_create(actor=Actor.system(), subject="İade", body="Kazak küçük.", customer=customer)
    canned.canned_save(actor=Actor.system(), title="İade kodu", language="tr", body="Merhaba {{ customer.first_name }}")
    ayse_context, ayse = agent_tab(browser, live_server, "ayse-b", "Ayşe")
    mehmet_context, mehmet = agent_tab(browser, live_server, "mehmet-b", "Mehmet")
    try:
        url = f"/support/tickets/{ticket.pk}/"
        ayse.goto(url)
        mehmet.goto(url)
        expect(mehmet.locator("#ticket-viewers")).to_contain_text("Ayşe is viewing")

        mehmet.select_option("#canned-picker select[name=canned]", index=1)
        mehmet.click("#insert-canned")  # htmx: the reply box is replaced in place, the page stays
        expect(mehmet.locator("#reply-body")).to_have_value("Merhaba Zeynep")
        assert mehmet.url.endswith(url)
        # Mehmet's next poll says he is writing, Ayşe's next poll shows it: up to two poll periods.
        expect(ayse.locator("#ticket-viewers")).to_contain_text("Mehmet is writing a reply", timeout=25_000)

        ayse.fill("#reply-body", "Değişim yapalım.")
        ayse.click("#reply-form button[value=reply]")
        expect(ayse.locator("#conversation")).to_contain_text("Değişim yapalım.")

        mehmet.click("#reply-form button[value=reply]")
        expect(mehmet.locator("#reply-crossed")).to_contain_text("Değişim yapalım.")
        expect(mehmet.locator("#reply-body")).to_have_value("Merhaba Zeynep")
        assert ticket.messages.filter(direction="outbound").count() == 1
        mehmet.click("#send-anyway")
        expect(mehmet.locator("#conversation")).to_contain_text("Merhaba Zeynep")
        assert ticket.messages.filter(direction="outbound").count() == 2
    finally:
        ayse_context.close()
        mehmet_context.close()
