"""Tickets on the customer record: a timeline entry per ticket (opened, with its status now) and per reply or
message, and how a customer merge moves them. Registered from kervan.support.registrations."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.support.models import Ticket, TicketMessage

# The "Opened Ticket" events the actions record: the timeline shows the ticket rows themselves instead.
EMITTED_EVENT_PREFIXES = ("ticket:",)


def present_ticket(ticket: Ticket) -> dict[str, Any]:
    return {
        "title": _("Ticket %(number)s opened: %(subject)s") % {"number": ticket.number, "subject": ticket.subject},
        "data": {
            "ticket_id": ticket.pk,
            "status": ticket.status,
            "priority": ticket.priority,
            "channel": ticket.channel,
        },
        "summary": f"{ticket.get_status_display()} · {ticket.get_priority_display()} · {ticket.get_channel_display()}",
        "link": ("support:ticket_detail", ticket.pk, "support"),
    }


def present_message(message: TicketMessage) -> dict[str, Any]:
    titles = {
        TicketMessage.Direction.INBOUND: _("Customer wrote on ticket %(number)s"),
        TicketMessage.Direction.OUTBOUND: _("Reply on ticket %(number)s"),
        TicketMessage.Direction.NOTE: _("Internal note on ticket %(number)s"),
    }
    return {
        "title": titles[message.direction] % {"number": message.ticket.number},
        "data": {"ticket_id": message.ticket_id, "direction": message.direction},
        "summary": message.body[:200],
        "byline": str(message.author_user) if message.author_user_id else "",
        "link": ("support:ticket_detail", message.ticket_id, "support"),
    }


def tickets_reassign(*, from_customer_id: int, to_customer_id: int) -> int:
    TicketMessage.objects.filter(author_customer_id=from_customer_id).update(author_customer_id=to_customer_id)
    return Ticket.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)


def register() -> None:
    from kervan.customers.registry import register_merge, register_model_timeline
    from kervan.events.timeline import hide_emitted_events

    register_merge("support", tickets_reassign)
    hide_emitted_events(*EMITTED_EVENT_PREFIXES)
    register_model_timeline("ticket", gettext_lazy("Tickets"), 45, "support", Ticket, "created_at", present_ticket)
    register_model_timeline(
        "ticket_message",
        gettext_lazy("Ticket messages"),
        46,
        "support",
        TicketMessage,
        "created_at",
        present_message,
        customer_field="ticket__customer_id",
        select_related=("ticket", "author_user"),
    )
