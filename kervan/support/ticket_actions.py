"""Every write of the tickets: create (by an agent, the API or the public contact form), a customer's message, reply,
internal note, status, priority, assignment (by hand, or round-robin among the online agents when a ticket arrives),
tags, merge, bulk changes and agent presence (the scheduled SLA check is kervan.support.sla_check). Each change is
audited on the ticket's customer, so it reaches the Customer 360 (its cache is forgotten by kervan.core.audit).

A reply is emailed: ticket_reply calls `deliver_reply`, which queues it for kervan.support.email_out (inbound email
is kervan.support.email_in, threading by Message-ID)."""

import datetime as dt
import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role, allows, role_access
from kervan.core import clock
from kervan.core.api import MAX_ID, nul_path
from kervan.core.audit import audit
from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.core.outgoing import emit
from kervan.core.text import turkish_lower
from kervan.customers.models import Customer, Identity
from kervan.events.actions import event_record
from kervan.events.models import CanonicalEvent
from kervan.support.actions import _text
from kervan.support.business_hours import BusinessHours
from kervan.support.models import AgentPresence, Language, SlaPolicy, Ticket, TicketMessage, TicketPriority

SUBJECT_MAX = 200
BODY_MAX = 50_000
NAME_MAX = 200
TAG_MAX = 40
TAGS_MAX = 20
AT_RISK_SHARE = 0.2  # "at risk" once less than this share of a target's business time is left
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")
Status = Ticket.Status
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


def _id(value, field: str) -> int | None:
    given = str(value if value is not None else "").strip()
    if not given:
        return None
    if not given.isdigit() or not 0 < int(given) <= MAX_ID:
        raise KervanError(_("This is not a valid id."), "invalid_id", field=field)
    return int(given)


def _choice(value, choices, field: str) -> str:
    if value not in choices.values:
        raise KervanError(
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)}, "invalid_choice", field=field
        )
    return value


def _tags(values) -> list[str]:
    tags: list[str] = []
    for raw in values or []:
        tag = turkish_lower(_text(raw, "tags", TAG_MAX))  # "İade" and "iade" are one tag
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise KervanError(_("At most %(limit)s tags.") % {"limit": TAGS_MAX}, "too_many_tags", field="tags")
    return tags


def _custom_fields(value) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or nul_path(value) is not None or len(str(value)) > 10_000:
        raise KervanError(
            _("Custom fields are a small object of names and values."), "invalid_custom_fields", field="custom_fields"
        )
    return value


def agents():
    """Active staff whose role may write in the support area."""
    writers = [role for role in Role.values if allows(role_access(role).get("support"), "write")]
    return get_user_model().objects.filter(is_active=True, role__in=writers)


def _agent(user_id, field: str = "assignee"):
    pk = _id(user_id, field)
    if pk is None:
        return None
    user = agents().filter(pk=pk).first()
    if user is None:
        raise KervanError(_("Choose an active agent of the support team."), "invalid_assignee", field=field)
    return user


def _customer_for_email(email: str) -> Customer | None:
    identity = (
        Identity.objects.filter(kind=Identity.Kind.EMAIL, value=email_match_key(email))
        .select_related("customer")
        .order_by("id")
        .first()
    )
    if identity is None:
        return None
    customer = identity.customer
    return customer.merged_into if customer.merged_into_id else customer


# ---------------------------------------------------------------- SLA


def policy_for(priority: str, customer_id: int | None) -> SlaPolicy | None:
    """The priority's policy for a member of one of its segments (the oldest such policy), else its general one."""
    policies = SlaPolicy.objects.filter(priority=priority).order_by("id")
    if customer_id is not None:
        special = policies.filter(segment__memberships__customer_id=customer_id).first()
        if special is not None:
            return special
    return policies.filter(segment__isnull=True).first()


def _apply_sla(ticket: Ticket) -> None:
    """Due and warning times from the policy, counted from the ticket's creation in business time; the resolution
    target also moves by the time paused while pending."""
    policy = ticket.sla_policy
    if policy is None:
        ticket.first_response_due_at = ticket.resolution_due_at = None
        ticket.first_response_warn_at = ticket.resolution_warn_at = None
        return
    hours = BusinessHours.of(policy)
    first = dt.timedelta(minutes=policy.first_response_minutes)
    resolution = dt.timedelta(minutes=policy.resolution_minutes)
    paused = dt.timedelta(seconds=ticket.paused_seconds)
    start = ticket.created_at
    ticket.first_response_due_at = hours.add(start, first)
    ticket.first_response_warn_at = hours.add(start, first * (1 - AT_RISK_SHARE))
    ticket.resolution_due_at = hours.add(start, resolution + paused)
    ticket.resolution_warn_at = hours.add(start, resolution * (1 - AT_RISK_SHARE) + paused)


SLA_FIELDS = [
    "sla_policy",
    "first_response_due_at",
    "first_response_warn_at",
    "resolution_due_at",
    "resolution_warn_at",
    "paused_seconds",
]


# ---------------------------------------------------------------- creation


def _round_robin(candidates=None):
    """The online agent (of `candidates`, a user queryset, when given) whose turn it is (the lowest turn), moved to the
    back of the queue. Runs in the caller's transaction; on PostgreSQL the row lock makes two tickets arriving together
    go to two agents."""
    online = AgentPresence.objects.filter(status=AgentPresence.Status.ONLINE, user__in=agents())
    online = online if candidates is None else online.filter(user__in=candidates)
    presence = online.select_for_update(of=("self",)).order_by("turn", "id").select_related("user").first()
    if presence is None:
        return None
    last = AgentPresence.objects.aggregate(last=Max("turn"))["last"] or 0
    AgentPresence.objects.filter(pk=presence.pk).update(turn=last + 1, last_assigned_at=clock.now())
    return presence.user


def ticket_create(
    *,
    actor: Actor,
    subject,
    body,
    channel: str = Ticket.Channel.AGENT,
    customer: Customer | None = None,
    requester_email: str = "",
    requester_name: str = "",
    priority: str = TicketPriority.NORMAL,
    tags=(),
    custom_fields=None,
    order_id=None,
    assignee_id=None,
    language: str = Language.TURKISH,
) -> Ticket:
    """A new ticket with the customer's first message. The requester is the customer, or an email address (the
    customer it belongs to when Kervan knows one). Without an assignee it goes round-robin to an online agent."""
    actor.require("support", "write")
    subject = _text(subject, "subject", SUBJECT_MAX, required=True)
    body = _text(body, "body", BODY_MAX, required=True)
    requester_name = _text(requester_name, "requester_name", NAME_MAX)
    channel = _choice(channel, Ticket.Channel, "channel")
    priority = _choice(priority, TicketPriority, "priority")
    tags, custom_fields = _tags(tags), _custom_fields(custom_fields)
    email = normalize_email(requester_email, "requester_email") if str(requester_email or "").strip() else ""
    if customer is None and email:
        customer = _customer_for_email(email)
    if customer is not None:
        email = email or customer.email
        requester_name = requester_name or str(customer)
    if customer is None and not email:
        raise KervanError(_("Give the customer or their email address."), "requester_required", field="customer")
    order = None
    if (order_pk := _id(order_id, "order")) is not None:
        from kervan.orders.models import Order

        order = Order.objects.filter(pk=order_pk).first()
        if order is None or (customer is not None and order.customer_id != customer.pk):
            raise KervanError(_("There is no such order of this customer."), "invalid_order", field="order")
        customer = customer or order.customer
    assignee = _agent(assignee_id)
    now = clock.now()
    with transaction.atomic():
        ticket = Ticket(
            subject=subject,
            customer=customer,
            requester_email=email,
            requester_name=requester_name,
            priority=priority,
            channel=channel,
            tags=tags,
            custom_fields=custom_fields,
            order=order,
            assignee=assignee,
            created_at=now,
            updated_at=now,
            sla_policy=policy_for(priority, getattr(customer, "pk", None)),
            language=_choice(language, Language, "language"),  # before the assignment rules, which may match it
        )
        if assignee is None:  # the first matching assignment rule, else round-robin (it may also set the priority)
            from kervan.support.routing import ticket_route

            assignee, priority = ticket_route(ticket), ticket.priority
        _apply_sla(ticket)
        ticket.save()
        TicketMessage.objects.create(
            ticket=ticket,
            direction=TicketMessage.Direction.INBOUND,
            author_customer=customer,
            author_user=actor.user if channel == Ticket.Channel.AGENT else None,
            body=body,
            created_at=now,
        )
        audit(
            actor=actor,
            action="create",
            obj=ticket,
            customer_id=ticket.customer_id,
            changes={
                "subject": [None, subject],
                "channel": [None, channel],
                "priority": [None, priority],
                "assignee": [None, getattr(assignee, "username", None)],
            },
        )
        if customer is not None:
            event_record(
                name=CanonicalEvent.OPENED_TICKET,
                occurred_at=now,
                dedupe_key=f"ticket:{ticket.pk}:opened",
                customer_id=customer.pk,
                properties={
                    "ticket_id": ticket.pk,
                    "number": ticket.number,
                    "channel": channel,
                    "priority": priority,
                    "subject": subject,
                },
            )
        emit("ticket.created", event_id=f"ticket:{ticket.pk}:created", data=ticket_payload(ticket))
    return ticket


def ticket_payload(ticket: Ticket) -> dict:
    """The ticket as the webhook and the API send it."""
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "customer_id": ticket.customer_id,
        "requester_email": ticket.requester_email,
        "order_id": ticket.order_id,
        "assignee_id": ticket.assignee_id,
        "tags": ticket.tags,
        "created_at": ticket.created_at.isoformat(),
        "first_response_due_at": ticket.first_response_due_at.isoformat() if ticket.first_response_due_at else None,
        "resolution_due_at": ticket.resolution_due_at.isoformat() if ticket.resolution_due_at else None,
    }


# ---------------------------------------------------------------- conversation


def _writable(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise KervanError(_("This ticket is closed; open a new one instead."), "ticket_closed", field="status")


def deliver_reply(message: TicketMessage) -> None:
    """Where a reply leaves for the customer's mailbox: queued to be emailed (kervan.support.email_out) when the
    ticket has the requester's address, in the reply's transaction."""
    from kervan.support.email_out import reply_queue

    reply_queue(message)


def ticket_reply(*, actor: Actor, ticket: Ticket, body, status: str = "") -> TicketMessage:
    """A reply to the customer. The first one is the ticket's first response (late: the breach is recorded); a new
    ticket becomes open, or takes `status` (e.g. pending, solved) when given."""
    actor.require("support", "write")
    body = _text(body, "body", BODY_MAX, required=True)
    if status:
        _choice(status, Status, "status")
    _writable(ticket)
    now = clock.now()
    with transaction.atomic():
        message = TicketMessage.objects.create(
            ticket=ticket,
            direction=TicketMessage.Direction.OUTBOUND,
            author_user=actor.user,
            body=body,
            created_at=now,
        )
        fields = ["updated_at"]
        ticket.updated_at = now
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            fields.append("first_responded_at")
            if ticket.first_response_due_at and now > ticket.first_response_due_at:
                ticket.breached_first_response = True
                fields.append("breached_first_response")
        ticket.save(update_fields=fields)
        audit(actor=actor, action="update", obj=ticket, customer_id=ticket.customer_id, changes={"reply": message.pk})
        target = status or (Status.OPEN if ticket.status == Status.NEW else "")
        if target and target != ticket.status:
            ticket_set_status(actor=actor, ticket=ticket, status=target)
        deliver_reply(message)
    return message


def ticket_receive(*, actor: Actor, ticket: Ticket, body, email_message_id: str = "") -> TicketMessage:
    """A message from the customer on an existing ticket (the seam inbound email and chat will call, threading by
    `email_message_id`): a ticket pending the customer, solved or on hold opens again (leaving pending ends the
    pause). A closed ticket takes no more messages: the caller opens a new one."""
    actor.require("support", "write")
    body = _text(body, "body", BODY_MAX, required=True)
    _writable(ticket)
    with transaction.atomic():
        message = TicketMessage.objects.create(
            ticket=ticket,
            direction=TicketMessage.Direction.INBOUND,
            author_customer=ticket.customer,
            body=body,
            email_message_id=_text(email_message_id, "email_message_id", 255),
            created_at=clock.now(),
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=message.created_at)
        if ticket.status in (Status.PENDING, Status.SOLVED, Status.ON_HOLD):
            ticket_set_status(actor=actor, ticket=ticket, status=Status.OPEN)
    return message


def ticket_note(*, actor: Actor, ticket: Ticket, body) -> TicketMessage:
    """An internal note; the staff it @mentions (by username) are kept on it."""
    actor.require("support", "write")
    body = _text(body, "body", BODY_MAX, required=True)
    named = {name.rstrip(".") for name in _MENTION.findall(body)}
    mentions = sorted(
        get_user_model().objects.filter(is_active=True, username__in=named).values_list("username", flat=True)
    )
    with transaction.atomic():
        note = TicketMessage.objects.create(
            ticket=ticket,
            direction=TicketMessage.Direction.NOTE,
            author_user=actor.user,
            body=body,
            mentions=mentions,
            created_at=clock.now(),
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=note.created_at)
        audit(
            actor=actor,
            action="update",
            obj=ticket,
            customer_id=ticket.customer_id,
            changes={"note": note.pk, "mentions": mentions},
        )
    return note


# ---------------------------------------------------------------- status, priority, assignment, tags


def _status_changes(ticket: Ticket, status: str, now: dt.datetime) -> list[str]:
    """Apply `status` to the ticket's times; returns the fields changed (the caller saves)."""
    fields = ["status", "updated_at"]
    if ticket.status == Status.PENDING and ticket.pending_since is not None:
        paused = BusinessHours.of(ticket.sla_policy).between(ticket.pending_since, now)
        ticket.paused_seconds += int(paused.total_seconds())
        ticket.pending_since = None
        _apply_sla(ticket)
        fields += ["pending_since", *SLA_FIELDS]
    if status == Status.PENDING:
        ticket.pending_since = now
        fields.append("pending_since")
    if status in (Status.SOLVED, Status.CLOSED) and ticket.solved_at is None:
        ticket.solved_at = now
        fields.append("solved_at")
        if ticket.resolution_due_at and now > ticket.resolution_due_at:
            ticket.breached_resolution = True
            fields.append("breached_resolution")
    if status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    if status in (Status.NEW, Status.OPEN, Status.ON_HOLD, Status.PENDING) and ticket.solved_at is not None:
        ticket.solved_at = None  # reopened: the resolution clock runs again
        fields.append("solved_at")
    ticket.status, ticket.updated_at = status, now
    return list(dict.fromkeys(fields))


def ticket_set_status(*, actor: Actor, ticket: Ticket, status: str) -> Ticket:
    """Pending starts the pause of the resolution clock (leaving it moves the target back by the business time
    paused); solved and closed keep their times. A closed ticket stays closed."""
    actor.require("support", "write")
    _choice(status, Status, "status")
    if status == ticket.status:
        return ticket
    _writable(ticket)
    old = ticket.status
    with transaction.atomic():
        ticket.save(update_fields=_status_changes(ticket, status, clock.now()))
        audit(
            actor=actor, action="update", obj=ticket, customer_id=ticket.customer_id, changes={"status": [old, status]}
        )
        if status == Status.SOLVED:  # "How did we do?" is emailed a little later
            from kervan.support.csat import csat_on_solved

            csat_on_solved(ticket)
    return ticket


def ticket_set_priority(*, actor: Actor, ticket: Ticket, priority: str) -> Ticket:
    """A new priority takes its policy's targets, counted from the ticket's creation."""
    actor.require("support", "write")
    _choice(priority, TicketPriority, "priority")
    if priority == ticket.priority:
        return ticket
    _writable(ticket)
    old = ticket.priority
    with transaction.atomic():
        ticket.priority = priority
        ticket.sla_policy = policy_for(priority, ticket.customer_id)
        _apply_sla(ticket)
        ticket.updated_at = clock.now()
        ticket.save(update_fields=["priority", "updated_at", *SLA_FIELDS])
        audit(
            actor=actor,
            action="update",
            obj=ticket,
            customer_id=ticket.customer_id,
            changes={"priority": [old, priority]},
        )
    return ticket


def ticket_assign(*, actor: Actor, ticket: Ticket, assignee_id) -> Ticket:
    """Give the ticket to an agent (None or "": nobody)."""
    actor.require("support", "write")
    assignee = _agent(assignee_id)
    if getattr(assignee, "pk", None) == ticket.assignee_id:
        return ticket
    old = ticket.assignee.username if ticket.assignee_id else None
    with transaction.atomic():
        ticket.assignee, ticket.updated_at = assignee, clock.now()
        ticket.save(update_fields=["assignee", "updated_at"])
        audit(
            actor=actor,
            action="update",
            obj=ticket,
            customer_id=ticket.customer_id,
            changes={"assignee": [old, getattr(assignee, "username", None)]},
        )
    return ticket


def ticket_set_tags(*, actor: Actor, ticket: Ticket, tags) -> Ticket:
    actor.require("support", "write")
    tags = _tags(tags)
    if tags == ticket.tags:
        return ticket
    with transaction.atomic():
        old, ticket.tags, ticket.updated_at = ticket.tags, tags, clock.now()
        ticket.save(update_fields=["tags", "updated_at"])
        audit(actor=actor, action="update", obj=ticket, customer_id=ticket.customer_id, changes={"tags": [old, tags]})
    return ticket


def agent_presence_set(*, actor: Actor, status: str) -> AgentPresence:
    """The signed-in agent's own presence (online agents take new tickets in turn)."""
    actor.require("support", "write")
    _choice(status, AgentPresence.Status, "status")
    if actor.user is None:
        raise KervanError(_("Only a signed-in agent has a presence."), "not_an_agent")
    presence, _created = AgentPresence.objects.update_or_create(user=actor.user, defaults={"status": status})
    return presence


# ---------------------------------------------------------------- merge and bulk


def ticket_merge(*, actor: Actor, source: Ticket, target: Ticket) -> Ticket:
    """Fold a duplicate into `target`: its messages move there (in time order with the others), and it is closed
    with a pointer to `target`."""
    actor.require("support", "write")
    if source.pk == target.pk:
        raise KervanError(_("A ticket cannot be merged into itself."), "merge_same", field="target")
    if target.status == Status.CLOSED:
        raise KervanError(_("Merge into a ticket that is not closed."), "ticket_closed", field="target")
    _writable(source)
    now = clock.now()
    with transaction.atomic():
        moved = TicketMessage.objects.filter(ticket=source).update(ticket=target)
        TicketMessage.objects.create(
            ticket=target,
            direction=TicketMessage.Direction.NOTE,
            author_user=actor.user,
            created_at=now,
            body=_("Merged from %(number)s: %(subject)s") % {"number": source.number, "subject": source.subject},
        )
        fields = _status_changes(source, Status.CLOSED, now)
        source.merged_into = target
        source.save(update_fields=[*fields, "merged_into"])
        target.tags = list(dict.fromkeys([*target.tags, *source.tags]))[:TAGS_MAX]
        target.updated_at = now
        target.save(update_fields=["tags", "updated_at"])
        audit(
            actor=actor,
            action="merge",
            obj=source,
            customer_id=source.customer_id,
            changes={"merged_into": [None, target.pk], "messages": moved},
        )
        audit(
            actor=actor, action="update", obj=target, customer_id=target.customer_id, changes={"merged_from": source.pk}
        )
    return target


def tickets_bulk(*, actor: Actor, ticket_ids, status: str = "", assignee_id=None, add_tag: str = "") -> int:
    """One change to many tickets (each audited as if done one by one); tickets that cannot take it (a closed one)
    are skipped. Returns how many changed."""
    actor.require("support", "write")
    ids = [pk for pk in (_id(v, "tickets") for v in ticket_ids or []) if pk is not None]
    if not ids:
        raise KervanError(_("Choose at least one ticket."), "no_tickets", field="tickets")
    if not (status or assignee_id not in (None, "") or add_tag):
        raise KervanError(_("Choose what to change."), "nothing_to_change", field="action")
    if status:
        _choice(status, Status, "status")
    tag = _tags([add_tag])[0] if add_tag else ""
    done = 0
    with transaction.atomic():
        for ticket in Ticket.objects.filter(pk__in=ids[:1000]).select_related("sla_policy", "assignee"):
            if ticket.status == Status.CLOSED:
                continue
            if status:
                ticket_set_status(actor=actor, ticket=ticket, status=status)
            if assignee_id not in (None, ""):
                ticket_assign(actor=actor, ticket=ticket, assignee_id=assignee_id)
            if tag and tag not in ticket.tags:
                ticket_set_tags(actor=actor, ticket=ticket, tags=[*ticket.tags, tag])
            done += 1
    return done
