"""Canned replies: rendering with the customer's, agent's, ticket's and order's values (plain values only, the
sandbox refusing anything else), the language-first picker, use counts, and the staff writes with their refusals."""

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.models import AuditLog
from kervan.customers.tests.factories import make_customer, make_order
from kervan.messaging.rendering import TemplateProblem
from kervan.support import canned, ticket_actions
from kervan.support.models import CannedReply

pytestmark = pytest.mark.django_db


def save(actor=None, **given):
    given.setdefault("title", "Kargo durumu")
    given.setdefault("language", "tr")
    given.setdefault("body", "Merhaba {{ customer.first_name }}")
    return canned.canned_save(actor=actor or Actor.system(), **given)


def test_a_reply_renders_the_customer_agent_ticket_and_order(monday, admin_actor):
    customer = make_customer(email="zeynep@example.com", first_name="Zeynep", last_name="Kaya")
    order = make_order(customer)
    ticket = ticket_actions.ticket_create(
        actor=admin_actor, subject="Sipariş nerede?", body="?", customer=customer, order_id=order.pk
    )
    reply = save(
        body="Merhaba {{ customer.first_name }} ({{ customer.email }}), {{ ticket.number }} {{ ticket.subject }}: "
        "sipariş {{ order.number }} [{{ order.tracking_number }}] — {{ agent.first_name }}"
    )
    text = canned.canned_render(reply, agent=admin_actor.user, ticket=ticket)
    assert text == (f"Merhaba Zeynep (zeynep@example.com), {ticket.number} Sipariş nerede?: sipariş {order} [] — Ayşe")


def test_missing_values_render_empty_and_fallbacks_work(db, admin_user):
    reply = save(body='Hi {{ customer.first_name | default("there") }}{{ order.number }}{{ ticket.number }}!')
    assert canned.canned_render(reply, agent=admin_user) == "Hi there!"


def test_an_unknown_requester_is_named_from_the_ticket(monday, admin_actor):
    ticket = ticket_actions.ticket_create(
        actor=admin_actor, subject="Soru", body="?", requester_email="yeni@example.org", requester_name="Deniz Ak"
    )
    reply = save(body="{{ customer.first_name }}/{{ customer.last_name }}/{{ customer.email }}")
    assert canned.canned_render(reply, agent=admin_actor.user, ticket=ticket) == "Deniz/Ak/yeni@example.org"


def test_the_sandbox_refuses_reaching_into_python(db, admin_user):
    reply = CannedReply.objects.create(title="x", body="{{ customer.__class__ }}")
    with pytest.raises(TemplateProblem):
        canned.canned_render(reply, agent=admin_user)


def test_the_picker_lists_the_ticket_language_first_and_counts_uses(db):
    tr_reply = save(title="A Türkçe", language="tr", body="Merhaba")
    en_reply = save(title="B English", language="en", body="Hello")
    assert list(canned.canned_for("en")) == [en_reply, tr_reply]
    assert list(canned.canned_for("tr")) == [tr_reply, en_reply]
    assert list(canned.canned_for()) == [tr_reply, en_reply]
    canned.canned_used(en_reply)
    canned.canned_used(en_reply)
    en_reply.refresh_from_db()
    assert en_reply.uses == 2


def test_shortcuts_are_found_per_language(db):
    tr_reply = save(title="İade", shortcut="/Iade", language="tr", body="İade")
    en_reply = save(title="Refund", shortcut="iade", language="en", body="Refund")
    assert tr_reply.shortcut == "iade"
    assert canned.canned_find("/iade", "en") == en_reply
    assert canned.canned_find("iade", "tr") == tr_reply
    assert canned.canned_find("yok") is None


@pytest.mark.parametrize(
    "given, code, field",
    [
        ({"title": ""}, "required", "title"),
        ({"body": ""}, "required", "body"),
        ({"language": "de"}, "invalid_choice", "language"),
        ({"shortcut": "iade et"}, "invalid_shortcut", "shortcut"),
        ({"body": "{{ customer.first_name "}, "invalid_template", "body"),
        ({"body": "{{ customer._secret }}"}, "invalid_template", "body"),
    ],
)
def test_bad_replies_are_refused_and_nothing_is_written(db, given, code, field):
    with translation.override("en"), pytest.raises(KervanError) as refused:
        save(**given)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not CannedReply.objects.exists()


def test_a_taken_shortcut_is_refused(db):
    save(shortcut="kargo")
    with pytest.raises(KervanError) as refused:
        save(shortcut="kargo", title="Other")
    assert refused.value.code == "shortcut_taken"


def test_writes_are_audited_and_need_support_write(db, admin_actor, make_user):
    reply = save(actor=admin_actor)
    canned.canned_save(actor=admin_actor, reply=reply, title="Yeni", shortcut="", language="tr", body=reply.body)
    canned.canned_delete(actor=admin_actor, reply=reply)
    assert list(
        AuditLog.objects.filter(object_type="support.cannedreply").order_by("id").values_list("action", flat=True)
    ) == [
        "create",
        "update",
        "delete",
    ]
    analyst = Actor.for_user(make_user("analyst", "ali"))
    with pytest.raises(KervanError):
        save(actor=analyst)
