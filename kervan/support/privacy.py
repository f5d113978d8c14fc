"""Tickets in a privacy request (kervan.customers.privacy): the person's tickets and what was written in them. On
erasure a ticket keeps its number, status and times (the support reports count it) and loses the requester's address
and name, its subject, custom fields and every message's text."""

from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.support.models import Ticket, TicketMessage

ERASED = "[erased]"


def _tickets(subject: PrivacySubject):
    return Ticket.objects.filter(customer_id__in=subject.customer_ids)


def export(subject: PrivacySubject) -> dict[str, Any]:
    tickets = _tickets(subject).order_by("created_at", "id")
    messages = TicketMessage.objects.filter(ticket__in=tickets).exclude(direction=TicketMessage.Direction.NOTE)
    return {
        "tickets": list(
            tickets.values(
                "id",
                "subject",
                "status",
                "priority",
                "channel",
                "requester_email",
                "created_at",
                "solved_at",
                "closed_at",
            )
        ),
        "ticket_messages": list(
            messages.order_by("created_at", "id").values("ticket_id", "direction", "body", "created_at")
        ),
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    changed: list[str] = []
    tickets = _tickets(subject)
    named = tickets.filter(~Q(subject=ERASED) | ~Q(requester_email="") | ~Q(requester_name="") | ~Q(custom_fields={}))
    if named.update(subject=ERASED, requester_email="", requester_name="", custom_fields={}):
        changed += [
            "support.Ticket.subject",
            "support.Ticket.requester_email",
            "support.Ticket.requester_name",
            "support.Ticket.custom_fields",
        ]
    messages = TicketMessage.objects.filter(Q(ticket__in=tickets) | Q(author_customer_id__in=subject.customer_ids))
    if messages.exclude(body=ERASED).update(body=ERASED):
        changed.append("support.TicketMessage.body")
    return changed


HANDLER = PrivacyHandler(
    name="support",
    export=export,
    anonymise=anonymise,
    models=("support.Ticket", "support.TicketMessage"),
)
