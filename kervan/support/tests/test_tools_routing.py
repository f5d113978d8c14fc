"""Rule-based assignment: each condition, the first matching rule by position, one agent or round-robin among a
rule's online agents, the priority a rule sets (with its SLA policy), no rule → round-robin among all online agents;
and the rules' staff writes (order, refusals, audit)."""

import pytest

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.models import AuditLog
from kervan.customers.models import Tag
from kervan.customers.tests.factories import make_customer
from kervan.segments.actions import segment_create, static_list_add
from kervan.support import routing, ticket_actions
from kervan.support.models import AssignmentRule, SlaPolicy

pytestmark = pytest.mark.django_db


def create(**given):
    given.setdefault("subject", "Soru")
    given.setdefault("body", "Merhaba")
    given.setdefault("requester_email", "yeni@example.org")
    return ticket_actions.ticket_create(actor=Actor.system(), **given)


def rule(*agents, **given):
    given.setdefault("name", "Kural")
    return routing.rule_save(actor=Actor.system(), agent_ids=[a.pk for a in agents], **given)


def test_no_rule_keeps_round_robin_among_all_online_agents(monday, make_agent):
    ayse, mehmet = make_agent("ayse", "online"), make_agent("mehmet", "online")
    make_agent("kapali", "offline")
    assert [create().assignee for _i in range(4)] == [ayse, mehmet, ayse, mehmet]


def test_a_vip_customer_tag_goes_to_the_vip_agent_folded_the_turkish_way(monday, make_agent):
    make_agent("ayse", "online")
    vip_agent = make_agent("vip", "offline")  # one agent: assigned even when not online
    rule(vip_agent, customer_tag="vip", set_priority="high")
    customer = make_customer(email="zeynep@example.com")
    customer.tags.add(Tag.objects.create(name="VİP"))
    ticket = create(customer=customer)
    assert (ticket.assignee, ticket.priority) == (vip_agent, "high")
    assert AssignmentRule.objects.get().matched == 1
    assert create().assignee.username == "ayse"  # not a VIP: round-robin


def test_the_first_matching_rule_by_position_wins(monday, make_agent):
    first, second = make_agent("first"), make_agent("second")
    broad = rule(first, name="Her e-posta", channel="email")
    narrow = rule(second, name="İade e-postası", channel="email", tag="İADE")
    assert create(channel="email", tags=["iade"]).assignee == first
    routing.rule_move(actor=Actor.system(), rule=narrow, direction="up")
    assert list(AssignmentRule.objects.order_by("position").values_list("name", flat=True)) == [
        "İade e-postası",
        "Her e-posta",
    ]
    assert create(channel="email", tags=["iade"]).assignee == second
    assert create(channel="email").assignee == first
    assert create(channel="web_form").assignee is None  # nobody online
    broad.refresh_from_db()
    narrow.refresh_from_db()
    assert (broad.matched, narrow.matched) == (2, 1)


def test_language_segment_and_offline_team(monday, make_agent):
    a, b = make_agent("a", "online"), make_agent("b", "online")
    make_agent("c", "offline")
    make_agent("other", "online")
    customer = make_customer(email="vip@example.com")
    segment = segment_create(actor=Actor.system(), name="Sadık", kind="static")
    static_list_add(actor=Actor.system(), segment=segment, customer_ids=[customer.pk])
    rule(a, b, ticket_actions.agents().get(username="c"), segment_id=segment.pk)
    assert [create(customer=customer).assignee.username for _i in range(3)] == ["a", "b", "a"]
    assert create().assignee.username == "other"
    offline = rule(make_agent("d", "offline"), make_agent("e", "away"), name="Kapalı ekip", channel="chat")
    routing.rule_move(actor=Actor.system(), rule=offline, direction="up")
    routing.rule_move(actor=Actor.system(), rule=offline, direction="up")
    assert create(channel="chat").assignee is None  # the team is offline: left for them, not given to others


def test_language_condition(monday, make_agent):
    from kervan.support.models import Ticket

    english = make_agent("english")
    en_rule = rule(english, language="en")
    assert routing.rule_matches(en_rule, Ticket(channel="email", tags=[], language="en"), set(), set())
    assert not routing.rule_matches(en_rule, Ticket(channel="email", tags=[], language="tr"), set(), set())


def test_a_rule_priority_takes_its_sla_policy(monday, make_agent):
    SlaPolicy.objects.filter(priority="urgent").delete()
    SlaPolicy.objects.create(name="Acil", priority="urgent", first_response_minutes=30, resolution_minutes=240)
    rule(channel="chat", set_priority="urgent")  # no agents: round-robin still assigns
    agent = make_agent("ayse", "online")
    ticket = create(channel="chat")
    assert (ticket.priority, ticket.sla_policy.name, ticket.assignee) == ("urgent", "Acil", agent)
    assert ticket.first_response_due_at is not None


def test_inactive_rules_are_skipped(monday, make_agent):
    agent = make_agent("a")
    rule(agent, active=False, channel="email")
    assert create(channel="email").assignee is None


@pytest.mark.parametrize(
    "given, code, field",
    [
        ({"name": ""}, "required", "name"),
        ({"channel": "fax"}, "invalid_choice", "channel"),
        ({"language": "de"}, "invalid_choice", "language"),
        ({"set_priority": "asap"}, "invalid_choice", "set_priority"),
        ({"segment_id": "999999"}, "invalid_segment", "segment"),
        ({"agent_ids": ["abc"]}, "invalid_agents", "agents"),
        ({"agent_ids": ["999999"]}, "invalid_agents", "agents"),
        ({"agent_ids": []}, "rule_does_nothing", "agents"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(db, make_agent, given, code, field):
    agent = make_agent("a")
    values = {"name": "Kural", "agent_ids": [agent.pk], **given}
    with pytest.raises(KervanError) as refused:
        routing.rule_save(actor=Actor.system(), **values)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not AssignmentRule.objects.exists()


def test_a_non_agent_cannot_be_in_a_rule(db, make_user):
    marketer = make_user("marketing", "pazarlama")
    with pytest.raises(KervanError) as refused:
        routing.rule_save(actor=Actor.system(), name="x", agent_ids=[marketer.pk])
    assert refused.value.code == "invalid_agents"


def test_rule_writes_are_audited(db, make_agent, admin_actor):
    agent = make_agent("a")
    saved = routing.rule_save(actor=admin_actor, name="Kural", agent_ids=[agent.pk])
    routing.rule_save(actor=admin_actor, rule=saved, name="Kural 2", agent_ids=[agent.pk], set_priority="high")
    routing.rule_delete(actor=admin_actor, rule=saved)
    logs = AuditLog.objects.filter(object_type="support.assignmentrule").order_by("id")
    assert [log.action for log in logs] == ["create", "update", "delete"]
    assert logs[1].changes["name"] == ["Kural", "Kural 2"]


def test_the_ticket_language_given_at_creation_picks_the_rule(monday, make_agent):
    english = make_agent("english")
    rule(english, language="en")
    assert create(language="en").assignee == english
    assert create(language="tr").assignee is None
    with pytest.raises(KervanError) as refused:
        create(language="de")
    assert (refused.value.code, refused.value.field) == ("invalid_choice", "language")
