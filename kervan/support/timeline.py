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


def present_chat(conversation) -> dict[str, Any]:
    """A live chat: its first lines (plain text), its ticket's number if it became one, a link to its transcript."""
    from kervan.support.chat_selectors import first_lines, sender_name

    lines = [f"{sender_name(m, conversation)}: {m.body}" for m in first_lines(conversation)]
    ticket = conversation.ticket if conversation.ticket_id else None
    return {
        "title": _("Chat with %(agent)s") % {"agent": str(conversation.assignee)}
        if conversation.assignee_id
        else _("Chat (not answered)"),
        "data": {"chat_id": conversation.pk, "status": conversation.status, "ticket_id": conversation.ticket_id},
        "summary": "\n".join(lines)[:400],
        "byline": ticket.number if ticket is not None else "",
        "link": ("support:chat_transcript", conversation.pk, "support"),
    }


CHAT_TIMELINE_POSITION = 47  # after tickets (45) and their messages (46); positions are unique across sources


def register() -> None:
    from kervan.customers.registry import register_merge, register_model_timeline
    from kervan.events.timeline import hide_emitted_events
    from kervan.support.chat_actions import chats_reassign
    from kervan.support.models import ChatConversation

    register_merge("support", tickets_reassign)
    register_merge("support_chats", chats_reassign)
    hide_emitted_events("chat:")  # the "Started Chat" events: the chat's own entry shows it
    register_model_timeline(
        "chat",
        gettext_lazy("Chats"),
        CHAT_TIMELINE_POSITION,
        "support",
        ChatConversation,
        "started_at",
        present_chat,
        select_related=("assignee", "ticket"),
    )
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
