"""Reads of the tickets: the list with its filters, one ticket with its conversation, each ticket's SLA timer, and the
customer summary the agent sees beside the conversation (a slice of the Customer 360)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.api import MAX_ID
from kervan.core.errors import KervanError
from kervan.support.business_hours import BusinessHours
from kervan.support.models import Ticket, TicketMessage, TicketPriority

OPEN = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING, Ticket.Status.ON_HOLD)


def ticket_list(
    *,
    actor: Actor,
    status: str = "",
    priority: str = "",
    assignee: str = "",
    sla: str = "",
    customer_id: int | None = None,
    text: str = "",
) -> QuerySet[Ticket]:
    """Tickets newest first. `status` "active": every status but solved and closed; `assignee` a user id or "none";
    `sla` "breached" (either target missed) or "at_risk" (a target 80% used, not missed yet)."""
    rows = actor.scope("support", Ticket.objects.all())
    if status == "active":
        rows = rows.filter(status__in=OPEN)
    elif status in Ticket.Status.values:
        rows = rows.filter(status=status)
    if priority in TicketPriority.values:
        rows = rows.filter(priority=priority)
    if assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif assignee.isdigit() and 0 < int(assignee) <= MAX_ID:
        rows = rows.filter(assignee_id=int(assignee))
    now = clock.now()
    breached = (
        Q(breached_first_response=True)
        | Q(breached_resolution=True)
        | Q(status__in=OPEN, first_responded_at__isnull=True, first_response_due_at__lt=now)
        | (Q(status__in=OPEN) & ~Q(status=Ticket.Status.PENDING) & Q(resolution_due_at__lt=now))
    )
    if sla == "breached":
        rows = rows.filter(breached)
    elif sla == "at_risk":  # a target in its last 20%, and none missed
        first = Q(first_responded_at__isnull=True, first_response_warn_at__lte=now)
        resolution = ~Q(status=Ticket.Status.PENDING) & Q(resolution_warn_at__lte=now)
        rows = rows.filter(status__in=OPEN).filter(first | resolution).exclude(breached)
    if customer_id:
        rows = rows.filter(customer_id=customer_id)
    if text:
        number = text.upper().removeprefix("T-").lstrip("0")
        found = Q(subject__icontains=text) | Q(requester_email__icontains=text)
        if number.isdigit() and len(number) < 19:
            found |= Q(pk=int(number))
        rows = rows.filter(found)
    return rows.select_related("customer", "assignee", "sla_policy").order_by("-created_at", "-id")


def ticket_get(*, actor: Actor, ticket_id: int) -> Ticket:
    rows = actor.scope("support", Ticket.objects.select_related("customer", "assignee", "sla_policy", "order"))
    ticket = rows.filter(pk=ticket_id).first() if type(ticket_id) is int and 0 < ticket_id <= MAX_ID else None
    if ticket is None:
        raise KervanError(_("There is no such ticket."), "ticket_not_found", status=404)
    return ticket


def ticket_messages(ticket: Ticket) -> QuerySet[TicketMessage]:
    return ticket.messages.select_related("author_user", "author_customer").order_by("created_at", "id")


@dataclass(frozen=True)
class Timer:
    """Where a ticket stands against its SLA: the target now running ("first_response" or "resolution"), its due
    time, the business time left (negative: overdue by as much wall-clock time), and its state: "ok", "at_risk",
    "breached", "paused" (pending the customer) or "done" (solved, closed, or no policy)."""

    target: str
    state: str
    due_at: dt.datetime | None = None
    left: dt.timedelta | None = None

    @property
    def text(self) -> str:
        if self.state == "paused":
            return _("paused")
        if self.left is None:
            return "–"
        return (_("%(time)s left") if self.left >= dt.timedelta(0) else _("%(time)s overdue")) % {
            "time": duration(abs(self.left))
        }


def duration(value: dt.timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)sd %(hours)sh") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)sh %(minutes)sm") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)sm") % {"minutes": minutes}


def sla_timer(ticket: Ticket, now: dt.datetime | None = None) -> Timer:
    now = now or clock.now()
    if not ticket.is_open or ticket.resolution_due_at is None:
        return Timer("resolution", "done")
    if ticket.first_responded_at is None:
        target, due, warn = "first_response", ticket.first_response_due_at, ticket.first_response_warn_at
        breached = ticket.breached_first_response
    else:
        if ticket.status == Ticket.Status.PENDING:
            return Timer("resolution", "paused", ticket.resolution_due_at)
        target, due, warn = "resolution", ticket.resolution_due_at, ticket.resolution_warn_at
        breached = ticket.breached_resolution
    if now > due:
        return Timer(target, "breached", due, -(now - due))
    left = BusinessHours.of(ticket.sla_policy).between(now, due)
    state = "breached" if breached else ("at_risk" if warn and now >= warn else "ok")
    return Timer(target, state, due, left)


# ---------------------------------------------------------------- the customer beside the conversation


@dataclass
class CustomerSummary:
    customer: object
    stats: object
    orders: list  # [(order, tracking numbers)]
    prediction: object | None
    prediction_currency: str
    tickets: list
    consents: list  # [(channel label, the deciding marketing consent record or None)]
    chats: list | None = None  # the customer's latest live chats (kervan.support.chat_selectors)


def customer_summary(*, actor: Actor, ticket: Ticket) -> CustomerSummary | None:
    """The ticket's customer as the 360 shows them (header, consents), with their recent orders and tracking
    numbers, CLV and RFM when the predictions have them, and their other tickets. Parts the role may not read
    are left out."""
    customer = ticket.customer
    if customer is None or not actor.can("customers", "read"):
        return None
    from kervan.customer360.selectors import customer_360

    header = customer_360(actor=actor, customer=customer)
    orders = []
    if actor.can("orders", "read"):
        from kervan.orders.models import Order, Shipment

        recent = (
            Order.objects.filter(customer=customer)
            .prefetch_related(Prefetch("shipments", queryset=Shipment.objects.order_by("shipped_at", "id")))
            .order_by("-placed_at", "-id")[:5]
        )
        orders = [(o, [s.tracking_number for s in o.shipments.all() if s.tracking_number]) for o in recent]
    # CLV and RFM: the issue asks the agent to see them beside the conversation, so whoever may read the customer
    # sees them here (the 360's own predictions card is for the analytics area).
    from kervan.currency.selectors import reporting_currency
    from kervan.predictions.selectors import prediction_for

    prediction = prediction_for(customer.pk)
    tickets = list(Ticket.objects.filter(customer=customer).exclude(pk=ticket.pk).order_by("-created_at", "-id")[:10])
    from kervan.customers.models import ConsentRecord

    consents = [  # marketing consent per channel: what decides whether the shop may write to sell
        (label, (header.consents.get(channel) or {}).get("marketing"))
        for channel, label in ConsentRecord.Channel.choices
    ]
    from kervan.support.chat_selectors import customer_chats

    chats = list(customer_chats(customer.pk))
    return CustomerSummary(customer, header.stats, orders, prediction, reporting_currency(), tickets, consents, chats)
