"""The agents' ticket pages and the public contact form: list with SLA timers and filters, the ticket with its
conversation (escaped) and the customer's 360 summary, replies and notes by role, the new-ticket form, presence,
and a contact form that makes a ticket and is rate-limited."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.actions import order_set_status
from kervan.predictions.models import CustomerPrediction
from kervan.support import ticket_actions as actions
from kervan.support.models import AgentPresence, Ticket

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create(**given) -> Ticket:
    given.setdefault("subject", "Kargom nerede?")
    given.setdefault("body", "Siparişim gelmedi.")
    return actions.ticket_create(actor=Actor.system(), **given)


def row(html: str, number: str) -> str:
    found = re.search(rf'<tr data-ticket="{number}">(.*?)</tr>', html, re.S)
    assert found, f"{number} not listed"
    return found.group(1)


def test_the_list_shows_sla_timers_and_filters(monday, admin_client):
    late = create(customer=make_customer(first_name="Zeynep", last_name="Kaya"), priority="urgent")
    risky = create(requester_email="yeni@example.org")
    monday.advance(dt.timedelta(hours=3, minutes=20))  # urgent: 1 h first response → 2h 20m overdue
    html = admin_client.get("/support/tickets/").content.decode()
    assert "Zeynep Kaya" in row(html, late.number) and 'data-sla="breached"' in row(html, late.number)
    assert "2h 20m overdue" in row(html, late.number)
    # normal: 4 h first response, 3h 20m used (over 80%) → at risk, 40m left
    assert "yeni@example.org" in row(html, risky.number) and "40m left" in row(html, risky.number)
    assert 'data-sla="at_risk"' in row(html, risky.number)
    breached = admin_client.get("/support/tickets/", {"sla": "breached"}).content.decode()
    assert late.number in breached and risky.number not in breached
    at_risk = admin_client.get("/support/tickets/", {"sla": "at_risk"}).content.decode()
    assert risky.number in at_risk and late.number not in at_risk
    urgent = admin_client.get("/support/tickets/", {"priority": "urgent", "status": ""}).content.decode()
    assert late.number in urgent and risky.number not in urgent
    actions.ticket_set_status(actor=Actor.system(), ticket=late, status="solved")
    assert late.number not in admin_client.get("/support/tickets/").content.decode()  # active by default


def test_the_ticket_shows_the_customers_360_summary(monday, admin_client, system_actor):
    customer = make_customer(first_name="Zeynep", last_name="Kaya")
    order = make_order(customer, total_lines=((1, "450.00"),))
    order_set_status(
        actor=system_actor, order=order, status="shipped", carrier="Yurtiçi", tracking_number="YK123456789"
    )
    earlier = create(customer=customer, subject="Fatura adresi")
    ticket = create(customer=customer, order_id=order.pk)
    html = admin_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    summary = html[html.index('id="customer-summary"') :]
    orders = re.search(r'<ul id="summary-orders">(.*?)</ul>', summary, re.S).group(1)
    assert order.number in orders and "Shipped" in orders and "YK123456789" in orders
    assert re.search(r'id="summary-total-spent">[^<]*450', summary)
    assert earlier.number in summary and "Fatura adresi" in summary
    assert 'id="summary-consents"' in summary
    assert 'id="summary-clv"' not in summary  # no prediction yet: not shown
    CustomerPrediction.objects.create(
        customer=customer,
        p_alive=0.9,
        expected_orders_30=0.1,
        expected_orders_90=0.3,
        expected_orders_365=1.2,
        expected_order_value=Decimal("400.00"),
        clv_12m=Decimal("1234.50"),
        churn_risk=0.1,
        basis="fit",
        rfm_r=5,
        rfm_f=4,
        rfm_m=5,
        rfm_segment="champions",
        rfm_month=dt.date(2026, 12, 1),
        fitted_at=monday.now(),
    )
    summary = admin_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert re.search(r'id="summary-clv">[^<]*1,234\.50', summary)
    assert re.search(r'id="summary-rfm">Champions<', summary)


def test_content_is_escaped(monday, admin_client):
    ticket = create(requester_email="a@example.com", subject="<b>kalın</b>", body="<script>alert('x')</script>")
    actions.ticket_note(actor=Actor.system(), ticket=ticket, body="<img src=x onerror=alert(1)>")
    html = admin_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>kalın</b>" not in html
    assert "<script>alert" not in admin_client.get("/support/tickets/").content.decode()


def test_support_replies_and_notes_marketing_reads_only(monday, make_agent, make_user):
    ticket = create(requester_email="a@example.com")
    agent = client_for(make_agent("ayse-destek"))
    answer = agent.post(
        f"/support/tickets/{ticket.pk}/", {"action": "reply", "body": "Kargonuz yolda.", "then_status": "pending"}
    )
    assert answer.status_code == 302
    agent.post(f"/support/tickets/{ticket.pk}/", {"action": "note", "body": "@ayse-destek yarın ara"})
    ticket.refresh_from_db()
    assert ticket.status == "pending" and ticket.first_responded_at == monday.now()
    assert list(ticket.messages.values_list("direction", flat=True)) == ["inbound", "outbound", "note"]

    marketing = client_for(make_user("marketing"))
    page = marketing.get(f"/support/tickets/{ticket.pk}/")
    assert page.status_code == 200 and 'id="reply-form"' not in page.content.decode()
    assert marketing.post(f"/support/tickets/{ticket.pk}/", {"action": "reply", "body": "x"}).status_code == 403
    assert marketing.post("/support/tickets/new/", {"subject": "x", "body": "y"}).status_code == 403
    assert marketing.post("/support/tickets/", {"ticket": [ticket.pk], "bulk_status": "solved"}).status_code == 403
    assert ticket.messages.count() == 3
    assert client_for(make_user("readonly")).get("/support/tickets/").status_code == 403
    assert client_for(make_user("sales")).get(f"/support/tickets/{ticket.pk}/").status_code == 403


def test_controls_merge_and_bulk_from_the_pages(monday, admin_client, make_agent):
    agent = make_agent("burak-destek")
    one, two = create(requester_email="a@example.com"), create(requester_email="a@example.com")
    saved = admin_client.post(
        f"/support/tickets/{one.pk}/",
        {"action": "update", "status": "on_hold", "priority": "high", "assignee": agent.pk, "tags": "kargo, Gecikme"},
    )
    assert saved.status_code == 302
    one.refresh_from_db()
    assert (one.status, one.priority, one.assignee, one.tags) == ("on_hold", "high", agent, ["kargo", "gecikme"])
    bad = admin_client.post(f"/support/tickets/{one.pk}/", {"action": "update", "status": "lost"})
    assert bad.status_code == 400 and 'data-error-field="status"' in bad.content.decode()
    merged = admin_client.post(f"/support/tickets/{two.pk}/", {"action": "merge", "target": one.number})
    assert merged.status_code == 302 and merged["Location"] == f"/support/tickets/{one.pk}/"
    assert Ticket.objects.get(pk=two.pk).merged_into_id == one.pk
    three = create(requester_email="b@example.com")
    admin_client.post("/support/tickets/", {"ticket": [one.pk, three.pk], "bulk_status": "solved"})
    assert set(Ticket.objects.filter(pk__in=[one.pk, three.pk]).values_list("status", flat=True)) == {"solved"}


def test_the_new_ticket_form_and_presence(monday, make_agent):
    agent = make_agent("ayse-destek")
    client = client_for(agent)
    assert client.post("/support/tickets/presence/", {"status": "online"}).status_code == 302
    assert AgentPresence.objects.get(user=agent).status == "online"
    customer = make_customer()
    made = client.post(
        "/support/tickets/new/",
        {"subject": "Telefonla aradı", "body": "Beden değişimi istiyor.", "customer": customer.pk, "priority": "low"},
    )
    ticket = Ticket.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/support/tickets/{ticket.pk}/"
    assert (ticket.customer, ticket.channel, ticket.priority, ticket.assignee) == (customer, "agent", "low", agent)
    refused = client.post("/support/tickets/new/", {"subject": "", "body": "x", "customer": customer.pk})
    assert refused.status_code == 400 and 'data-error-field="subject"' in refused.content.decode()
    assert Ticket.objects.count() == 1


def test_pages_in_turkish(monday, make_user):
    ticket = create(requester_email="a@example.com")
    client = client_for(make_user("support", "destek-tr", language="tr"))
    client.cookies["django_language"] = "tr"
    for url in ("/support/tickets/", f"/support/tickets/{ticket.pk}/", "/support/tickets/new/"):
        html = client.get(url).content.decode()
        assert "Öncelik" in html or "Durum" in html, url
    assert "Müşteri" in client.get("/support/tickets/").content.decode()


def _contact_token(client, language="tr") -> str:
    page = client.get("/help/contact/" if language == "tr" else "/help/en/contact/")
    assert page.status_code == 200
    return re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)


def test_the_contact_form_makes_a_ticket(monday, settings):
    client = Client()
    token = _contact_token(client, "en")
    sent = client.post(
        "/help/en/contact/",
        {
            "token": token,
            "name": "Ali Veli",
            "email": "Ali@Example.com",
            "subject": "Stok",
            "message": "Mavi kazak gelecek mi?",
        },
    )
    assert sent.status_code == 302 and sent["Location"] == "/help/en/contact/?sent=1"
    assert 'id="contact-sent"' in client.get(sent["Location"]).content.decode()
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.requester_email, ticket.requester_name, ticket.subject) == (
        "web_form",
        "ali@example.com",
        "Ali Veli",
        "Stok",
    )
    assert ticket.messages.get().body == "Mavi kazak gelecek mi?"
    refused = client.post(
        "/help/en/contact/", {"token": token, "email": "ali@example.com", "subject": "", "message": "x"}
    )
    assert refused.status_code == 400 and 'data-error-field="subject"' in refused.content.decode()
    assert (
        client.post(
            "/help/contact/", {"token": "forged", "email": "a@b.co", "subject": "s", "message": "m"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/help/contact/",
            {"token": _contact_token(client), "email": "a@b.co", "subject": "s", "message": "m"},
            HTTP_ORIGIN="https://evil.example",
        ).status_code
        == 403
    )
    assert Ticket.objects.count() == 1


def test_the_contact_form_is_rate_limited(monday, settings):
    settings.KERVAN_HELP_LIMITS = {"contact": (2, 3600)}
    client = Client()
    token = _contact_token(client)
    answers = [
        client.post("/help/contact/", {"token": token, "email": f"k{i}@example.com", "subject": "s", "message": "m"})
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert int(answers[2]["Retry-After"]) > 0 and 'id="problem"' in answers[2].content.decode()
    assert Ticket.objects.count() == 2


def test_the_customer_360_page_lists_the_ticket(monday, admin_client):
    customer = make_customer()
    ticket = create(customer=customer, subject="Yanlış beden")
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Değişim kodunuz: D-42")
    html = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert f"Ticket {ticket.number} opened: Yanlış beden" in html
    assert f"Reply on ticket {ticket.number}" in html and "Değişim kodunuz: D-42" in html
    assert f'href="/support/tickets/{ticket.pk}/"' in html
