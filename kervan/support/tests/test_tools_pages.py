"""The tools' staff pages: canned replies (list, editor with preview, a bad template as a form error, delete),
the ticket page's canned-reply picker (with and without htmx), assignment rules (create, order, delete), SLA
policies (hours and minutes, weekday hours, validation), the tabs; and the permission matrix (support writes,
marketing and analysts read, others refused; a refusal changes nothing)."""

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client
from kervan.core.models import AuditLog
from kervan.customers.tests.factories import make_customer
from kervan.support import canned, routing, ticket_actions
from kervan.support.models import AssignmentRule, CannedReply, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(make_agent):
    return login_client(make_agent("destek", "online"))


def html(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- canned replies


def test_canned_replies_are_written_previewed_and_deleted(agent_client):
    with translation.override("en"):
        page = agent_client.get("/support/canned/")
        assert page.status_code == 200 and "Canned replies" in html(page) and "Assignment rules" in html(page)
        body = "Merhaba {{ customer.first_name }}, {{ ticket.number }} kargoda: {{ order.tracking_number }}"
        preview = agent_client.post(
            "/support/canned/new/", {"action": "preview", "title": "Kargo", "language": "tr", "body": body}
        )
        assert preview.status_code == 200 and "Merhaba Ayşe, T-000123 kargoda: TR123456789" in html(preview)
        assert not CannedReply.objects.exists()
        htmx = agent_client.post("/support/canned/preview/", {"language": "tr", "body": body}, HTTP_HX_REQUEST="true")
        assert "Merhaba Ayşe, T-000123" in html(htmx) and "<html" not in html(htmx)
        saved = agent_client.post(
            "/support/canned/new/",
            {"action": "save", "title": "Kargo", "shortcut": "kargo", "language": "tr", "body": body},
        )
        assert saved.status_code == 302
        reply = CannedReply.objects.get()
        assert (reply.title, reply.shortcut, reply.created_by.username) == ("Kargo", "kargo", "destek")
        bad = agent_client.post(
            f"/support/canned/{reply.pk}/", {"action": "save", "title": "Kargo", "language": "tr", "body": "{{ x"}
        )
        assert bad.status_code == 400 and 'id="form-error"' in html(bad) and 'data-error-field="body"' in html(bad)
        reply.refresh_from_db()
        assert reply.body == body
        assert agent_client.post(f"/support/canned/{reply.pk}/", {"action": "delete"}).status_code == 302
    assert not CannedReply.objects.exists()
    assert AuditLog.objects.filter(object_type="support.cannedreply").count() == 2


def test_the_picker_fills_the_reply_box_without_and_with_htmx(monday, agent_client):
    customer = make_customer(email="zeynep@example.com", first_name="Zeynep")
    ticket = ticket_actions.ticket_create(actor=Actor.system(), subject="Kargo", body="?", customer=customer)
    reply = canned.canned_save(
        actor=Actor.system(), title="Selam", language="tr", body="Merhaba {{ customer.first_name }}"
    )
    canned.canned_save(actor=Actor.system(), title="Hello", language="en", body="Hello")
    page = html(agent_client.get(f"/support/tickets/{ticket.pk}/"))
    assert page.index("Selam") < page.index("Hello")  # the ticket's language first
    filled = agent_client.post(
        f"/support/tickets/{ticket.pk}/", {"action": "canned", "canned": reply.pk, "body": "Önce bu."}
    )
    assert filled.status_code == 200
    assert "Önce bu.\n\nMerhaba Zeynep</textarea>" in html(filled)
    assert ticket.messages.count() == 1  # nothing sent
    htmx = agent_client.post(
        f"/support/tickets/{ticket.pk}/canned/", {"canned": reply.pk, "body": ""}, HTTP_HX_REQUEST="true"
    )
    assert html(htmx).startswith("<textarea") and ">Merhaba Zeynep</textarea>" in html(htmx)
    reply.refresh_from_db()
    assert reply.uses == 2


def test_canned_pages_are_read_only_for_marketing(db, make_user):
    reply = canned.canned_save(actor=Actor.system(), title="Selam", language="tr", body="Merhaba")
    marketing = login_client(make_user("marketing", "pazarlama"))
    page = marketing.get(f"/support/canned/{reply.pk}/")
    assert page.status_code == 200 and "<fieldset disabled>" in html(page) and 'id="save-canned"' not in html(page)
    for path, data in (
        (f"/support/canned/{reply.pk}/", {"action": "delete"}),
        ("/support/canned/new/", {"title": "x", "language": "tr", "body": "y"}),
        ("/support/rules/new/", {"name": "x", "set_priority": "high"}),
        ("/support/sla/new/", {"name": "x"}),
    ):
        assert marketing.post(path, data).status_code == 403
    assert CannedReply.objects.count() == 1 and not AssignmentRule.objects.exists()
    sales = login_client(make_user("sales", "satis"))
    for path in ("/support/canned/", "/support/rules/", "/support/sla/"):
        assert sales.get(path).status_code == 403


# ---------------------------------------------------------------- assignment rules


def test_rules_are_created_ordered_and_deleted_from_the_pages(monday, agent_client, make_agent):
    vip = make_agent("vip-destek")
    with translation.override("en"):
        bad = agent_client.post("/support/rules/new/", {"name": "Boş", "active": "1"})
        assert bad.status_code == 400 and "Choose agents to assign or a priority to set." in html(bad)
        for name, data in (("VIP", {"customer_tag": "VIP", "agents": [vip.pk]}), ("Acil", {"set_priority": "urgent"})):
            assert agent_client.post("/support/rules/new/", {"name": name, "active": "1", **data}).status_code == 302
        first, second = AssignmentRule.objects.order_by("position")
        assert agent_client.post("/support/rules/", {"rule": second.pk, "direction": "up"}).status_code == 302
        assert list(AssignmentRule.objects.order_by("position").values_list("name", flat=True)) == ["Acil", "VIP"]
        listing = html(agent_client.get("/support/rules/"))
        assert listing.index("Acil") < listing.index("VIP") and "Customer tag: VIP" in listing
        edit = agent_client.post(
            f"/support/rules/{first.pk}/", {"name": "VIP müşteri", "customer_tag": "VIP", "agents": [vip.pk]}
        )
        assert edit.status_code == 302
        first.refresh_from_db()
        assert (first.name, first.active) == ("VIP müşteri", False)
        assert agent_client.post(f"/support/rules/{second.pk}/", {"action": "delete"}).status_code == 302
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["VIP müşteri"]
    assert routing.rule_for  # the rules' behaviour is tested in test_tools_routing


# ---------------------------------------------------------------- SLA policies


def sla_form(**given) -> dict:
    form = {
        "name": "VIP acil",
        "priority": "urgent",
        "first_response_hours": "1",
        "first_response_minutes": "30",
        "resolution_hours": "",
        "resolution_minutes": "480",
        "segment": "",
        "timezone": "Europe/Istanbul",
    }
    for day in range(5):
        form |= {f"open_{day}": "1", f"opens_{day}": "09:00", f"closes_{day}": "18:00"}
    form |= {"open_5": "1", "opens_5": "10:00", "closes_5": "14:00", "opens_6": "", "closes_6": ""}
    return form | given


def test_an_sla_policy_is_saved_from_hours_and_minutes(monday, agent_client):
    from kervan.segments.actions import segment_create

    segment = segment_create(actor=Actor.system(), name="VIP", kind="static")
    with translation.override("en"):
        page = agent_client.get("/support/sla/")
        assert "applies to tickets created" in html(page) and "SLA policies" in html(page)
        saved = agent_client.post("/support/sla/new/", sla_form(segment=str(segment.pk)))
    assert saved.status_code == 302
    policy = SlaPolicy.objects.get(name="VIP acil")
    assert (policy.first_response_minutes, policy.resolution_minutes, policy.segment) == (90, 480, segment)
    assert policy.business_hours["5"] == ["10:00", "14:00"] and "6" not in policy.business_hours
    edit = agent_client.post(f"/support/sla/{policy.pk}/", sla_form(segment=str(segment.pk), first_response_hours="2"))
    assert edit.status_code == 302
    policy.refresh_from_db()
    assert policy.first_response_minutes == 150
    logs = AuditLog.objects.filter(object_type="support.slapolicy", object_id=str(policy.pk)).order_by("id")
    assert [log.action for log in logs] == ["create", "update"]
    assert logs[1].changes["first_response_minutes"] == [90, 150]
    assert agent_client.post(f"/support/sla/{policy.pk}/", {"action": "delete"}).status_code == 302
    assert not SlaPolicy.objects.filter(pk=policy.pk).exists()


@pytest.mark.parametrize(
    "given, message",
    [
        ({"closes_0": "08:00"}, "A day must close after it opens."),
        ({"opens_1": "9am"}, "Enter a time as HH:MM, for example 09:00."),
        ({"first_response_hours": "0", "first_response_minutes": "0"}, "more than 0 minutes"),
        ({"first_response_hours": "-1"}, "Enter whole hours and minutes."),
        ({"resolution_minutes": "30"}, "cannot be shorter than the first response"),
        ({"timezone": "Mars/Olympus"}, "Choose a time zone from the list."),
        ({"name": "x" * 121}, "At most 120 characters"),
        ({"priority": "asap"}, "Choose one of"),
        ({"segment": "999999"}, "There is no such segment."),
        ({f"open_{day}": "" for day in range(7)}, "Open at least one day of the week."),
        ({"priority": "urgent", "segment": "", "name": "İkinci"}, "Another policy already covers this priority"),
    ],
)
def test_bad_sla_policies_are_form_errors_and_change_nothing(monday, agent_client, given, message):
    before = list(SlaPolicy.objects.values_list("id", "name", "first_response_minutes"))
    with translation.override("en"):
        page = agent_client.post("/support/sla/new/", sla_form(**given))
    assert page.status_code == 400 and message in html(page)
    assert list(SlaPolicy.objects.values_list("id", "name", "first_response_minutes")) == before


def test_a_shortcut_typed_in_the_reply_box_is_expanded(monday, agent_client):
    ticket = ticket_actions.ticket_create(
        actor=Actor.system(), subject="Kargo", body="?", requester_email="a@example.org", requester_name="Deniz Ak"
    )
    canned.canned_save(
        actor=Actor.system(), title="Kargo", shortcut="kargo", language="tr", body="Selam {{ customer.first_name }}"
    )
    canned.canned_save(actor=Actor.system(), title="Cargo", shortcut="kargo", language="en", body="Hi")
    page = agent_client.post(
        f"/support/tickets/{ticket.pk}/", {"action": "canned", "canned": "", "body": "Not:\n/kargo"}
    )
    assert "Not:\nSelam Deniz</textarea>" in html(page)
    unknown = agent_client.post(f"/support/tickets/{ticket.pk}/", {"action": "canned", "canned": "", "body": "a /yok"})
    assert ">a /yok</textarea>" in html(unknown)
    alone = agent_client.post(f"/support/tickets/{ticket.pk}/canned/", {"canned": "", "body": "/kargo"})
    assert ">Selam Deniz</textarea>" in html(alone)
