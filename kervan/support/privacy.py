"""Tickets, chats and satisfaction answers in a privacy request (kervan.customers.privacy): the person's tickets and
chats and what was written in them. On erasure a ticket or chat keeps its number, status and times (the support
reports count them) and loses the person's address and name, its subject, custom fields and every message's text;
a survey keeps its score and loses its address and comment."""

from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.support.models import ChatConversation, ChatMessage, CsatSurvey, Ticket, TicketAttachment, TicketMessage

ERASED = "[erased]"


def _tickets(subject: PrivacySubject):
    return Ticket.objects.filter(customer_id__in=subject.customer_ids)


def export(subject: PrivacySubject) -> dict[str, Any]:
    tickets = _tickets(subject).order_by("created_at", "id")
    messages = TicketMessage.objects.filter(ticket__in=tickets).exclude(direction=TicketMessage.Direction.NOTE)
    chats = ChatConversation.objects.filter(customer_id__in=subject.customer_ids)
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
        "chats": list(
            chats.order_by("started_at", "id").values(
                "id", "visitor_name", "visitor_email", "page_url", "status", "started_at", "closed_at"
            )
        ),
        "chat_messages": list(
            ChatMessage.objects.filter(conversation__in=chats)
            .order_by("created_at", "id")
            .values("conversation_id", "sender", "body", "created_at")
        ),
        "satisfaction_surveys": list(
            CsatSurvey.objects.filter(customer_id__in=subject.customer_ids)
            .order_by("created_at", "id")
            .values("ticket_id", "email", "score", "comment", "answered_at")
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
    files = TicketAttachment.objects.filter(message__in=messages)
    for attachment in files:  # the stored files go with their rows (a failed delete leaves only an unnamed file)
        attachment.file.delete(save=False)
    if files.delete()[0]:
        changed.append("support.TicketAttachment")
    chats = ChatConversation.objects.filter(customer_id__in=subject.customer_ids)
    if chats.filter(~Q(visitor_name="") | ~Q(visitor_email="") | ~Q(page_url="")).update(
        visitor_name="", visitor_email="", page_url=""
    ):
        changed += ["support.ChatConversation.visitor_name", "support.ChatConversation.visitor_email"]
    if ChatMessage.objects.filter(conversation__in=chats).exclude(body=ERASED).update(body=ERASED):
        changed.append("support.ChatMessage.body")
    surveys = CsatSurvey.objects.filter(customer_id__in=subject.customer_ids)
    if surveys.filter(~Q(email="") | ~Q(comment="")).update(email="", comment=""):
        changed += ["support.CsatSurvey.email", "support.CsatSurvey.comment"]
    return changed


HANDLER = PrivacyHandler(
    name="support",
    export=export,
    anonymise=anonymise,
    models=(
        "support.Ticket",
        "support.TicketMessage",
        "support.TicketAttachment",
        "support.ChatConversation",
        "support.CsatSurvey",
    ),
)
