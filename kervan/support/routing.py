"""Who gets a new ticket: the assignment rules, tried in order, and their staff writes.

The first active rule whose conditions all hold wins (an empty condition matches anything): its one agent gets the
ticket, or its several agents take turns among those online (the same round-robin turn as all agents share); it may
also set the priority. A rule's agents all offline leave the ticket unassigned for that team rather than handing a
VIP's ticket to anyone. No rule matching (or a matching rule without agents) keeps the round-robin among all online
agents."""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit, diff
from kervan.core.errors import KervanError, NotFound
from kervan.core.text import search_fold, turkish_lower
from kervan.segments.models import Segment
from kervan.segments.selectors import customer_segments
from kervan.support.actions import _text
from kervan.support.models import AssignmentRule, Language, Ticket, TicketPriority
from kervan.support.ticket_actions import _round_robin, agents, policy_for

NAME_MAX = 120
TAG_MAX = 40
AGENTS_MAX = 50


def _customer_facts(customer) -> tuple[set[int], set[str]]:
    if customer is None:
        return set(), set()
    segments = {segment.pk for segment in customer_segments(customer_id=customer.pk)}
    tags = {search_fold(name) for name in customer.tags.values_list("name", flat=True)}
    return segments, tags


def rule_matches(rule: AssignmentRule, ticket: Ticket, segments: set[int], customer_tags: set[str]) -> bool:
    """Whether every condition the rule names holds for the ticket (its customer's segments and folded tags given)."""
    return (
        (not rule.channel or rule.channel == ticket.channel)
        and (not rule.tag or turkish_lower(rule.tag) in ticket.tags)
        and (not rule.language or rule.language == ticket.language)
        and (not rule.segment_id or rule.segment_id in segments)
        and (not rule.customer_tag or search_fold(rule.customer_tag) in customer_tags)
    )


def rule_for(ticket: Ticket) -> AssignmentRule | None:
    """The first active rule (by position) that matches the ticket."""
    rules = list(AssignmentRule.objects.filter(active=True).order_by("position", "id"))
    if not rules:
        return None
    segments, customer_tags = _customer_facts(ticket.customer if ticket.customer_id else None)
    return next((rule for rule in rules if rule_matches(rule, ticket, segments, customer_tags)), None)


def ticket_route(ticket: Ticket):
    """Assign a new (unsaved) ticket by the rules; sets ticket.assignee (returned) and, when the rule says so, its
    priority and that priority's SLA policy. Runs in ticket_create's transaction."""
    rule = rule_for(ticket)
    if rule is None:
        ticket.assignee = _round_robin()
        return ticket.assignee
    AssignmentRule.objects.filter(pk=rule.pk).update(matched=F("matched") + 1)
    if rule.set_priority and rule.set_priority != ticket.priority:
        ticket.priority = rule.set_priority
        ticket.sla_policy = policy_for(ticket.priority, ticket.customer_id)
    team = agents().filter(pk__in=rule.agents.values("pk"))
    members = list(team.values_list("pk", flat=True)[:2])
    if not members:
        ticket.assignee = _round_robin()
    elif len(members) == 1:
        ticket.assignee = team.get()
    else:
        ticket.assignee = _round_robin(team)
    return ticket.assignee


# ---------------------------------------------------------------- staff writes


def _choice(value, choices, field: str) -> str:
    value = str(value or "")
    if value and value not in choices.values:
        raise KervanError(
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)}, "invalid_choice", field=field
        )
    return value


def _values(*, name, active, channel, tag, language, segment_id, customer_tag, set_priority) -> dict:
    segment = None
    given = str(segment_id or "").strip()
    if given:
        segment = Segment.objects.filter(pk=int(given)).first() if given.isdigit() and len(given) < 19 else None
        if segment is None:
            raise KervanError(_("There is no such segment."), "invalid_segment", field="segment")
    return {
        "name": _text(name, "name", NAME_MAX, required=True),
        "active": bool(active),
        "channel": _choice(channel, Ticket.Channel, "channel"),
        "tag": turkish_lower(_text(tag, "tag", TAG_MAX)),
        "language": _choice(language, Language, "language"),
        "segment": segment,
        "customer_tag": _text(customer_tag, "customer_tag", TAG_MAX),
        "set_priority": _choice(set_priority, TicketPriority, "set_priority"),
    }


def _agents(agent_ids) -> list:
    ids = {str(value).strip() for value in agent_ids or [] if str(value).strip()}
    if len(ids) > AGENTS_MAX or not all(value.isdigit() and len(value) < 19 for value in ids):
        raise KervanError(_("Choose active agents of the support team."), "invalid_agents", field="agents")
    found = list(agents().filter(pk__in=[int(value) for value in ids]).order_by("username"))
    if len(found) != len(ids):
        raise KervanError(_("Choose active agents of the support team."), "invalid_agents", field="agents")
    return found


def rule_save(
    *,
    actor: Actor,
    rule: AssignmentRule | None = None,
    name,
    active=True,
    channel="",
    tag="",
    language="",
    segment_id=None,
    customer_tag="",
    agent_ids=(),
    set_priority="",
) -> AssignmentRule:
    """Create (last in the order) or change a rule. A rule must do something: assign or set a priority."""
    actor.require("support", "write")
    values = _values(
        name=name,
        active=active,
        channel=channel,
        tag=tag,
        language=language,
        segment_id=segment_id,
        customer_tag=customer_tag,
        set_priority=set_priority,
    )
    team = _agents(agent_ids)
    if not team and not values["set_priority"]:
        raise KervanError(_("Choose agents to assign or a priority to set."), "rule_does_nothing", field="agents")
    usernames = [user.username for user in team]
    with transaction.atomic():
        if rule is None:
            last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
            rule = AssignmentRule.objects.create(position=(last or 0) + 1, **values)
            rule.agents.set(team)
            changes = {k: [None, str(v) if k == "segment" and v else v] for k, v in values.items()}
            audit(actor=actor, action="create", obj=rule, changes={**changes, "agents": [None, usernames]})
            return rule
        changes = diff(rule, values)
        if "segment" in changes:
            changes["segment"] = [str(v) if v else None for v in changes["segment"]]
        old = sorted(rule.agents.values_list("username", flat=True))
        if old != usernames:
            changes["agents"] = [old, usernames]
        for field, value in values.items():
            setattr(rule, field, value)
        rule.save(update_fields=list(values))
        rule.agents.set(team)
        if changes:
            audit(actor=actor, action="update", obj=rule, changes=changes)
    return rule


def rule_delete(*, actor: Actor, rule: AssignmentRule) -> None:
    actor.require("support", "write")
    with transaction.atomic():
        audit(actor=actor, action="delete", obj=rule, changes={"name": [rule.name, None]})
        rule.delete()


def rule_move(*, actor: Actor, rule: AssignmentRule, direction: str) -> None:
    """Move a rule one place up or down the order (positions are renumbered 1, 2, 3…)."""
    actor.require("support", "write")
    if direction not in ("up", "down"):
        raise KervanError(_("Move a rule up or down."), "invalid_direction", field="direction")
    with transaction.atomic():
        rules = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
        index = next((i for i, candidate in enumerate(rules) if candidate.pk == rule.pk), None)
        if index is None:
            raise NotFound()
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(rules):
            return
        rules[index], rules[other] = rules[other], rules[index]
        for position, moved in enumerate(rules, start=1):
            if moved.position != position:
                AssignmentRule.objects.filter(pk=moved.pk).update(position=position)
        audit(actor=actor, action="update", obj=rule, changes={"position": [index + 1, other + 1]})
