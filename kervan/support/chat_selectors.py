"""Every read of the live chat, and the JSON shapes the sockets and the console's endpoints send (the protocol:
<message> and <conversation>)."""

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from kervan.accounts.actors import Actor
from kervan.support.models import AgentPresence, ChatConversation, ChatMessage
from kervan.support.ticket_actions import agents

HISTORY_MAX = 500  # messages sent on connect; a chat is rarely longer
KEY_MAX = 64
Status = ChatConversation.Status


def conversation_for_key(key) -> ChatConversation | None:
    """The conversation whose visitor holds `key` (the only way a visitor reaches one), or None."""
    key = str(key or "")
    if not 20 <= len(key) <= KEY_MAX:
        return None
    return ChatConversation.objects.select_related("assignee", "ticket").filter(visitor_key=key).first()


def conversation_for_agent(actor: Actor, conversation_id) -> ChatConversation | None:
    """One conversation for a staff member who may read support, or None."""
    try:
        pk = int(conversation_id)
    except (TypeError, ValueError):
        return None
    rows = actor.scope("support", ChatConversation.objects.select_related("assignee", "ticket", "customer"))
    return rows.filter(pk=pk).first()


def agent_conversations(actor: Actor) -> list[ChatConversation]:
    """What an agent's console lists: every waiting conversation and the agent's own active ones."""
    from django.db.models import Q

    rows = actor.scope("support", ChatConversation.objects.select_related("assignee", "ticket"))
    mine = Q(status=Status.ACTIVE, assignee_id=actor.user_id) if actor.user_id else Q(pk__in=[])
    return list(rows.filter(Q(status=Status.WAITING) | mine).order_by("started_at", "id")[:500])


def agents_online() -> bool:
    """Whether an agent of the support team is online (the widget offers the chat, else its offline form)."""
    return AgentPresence.objects.filter(status=AgentPresence.Status.ONLINE, user__in=agents()).exists()


def messages(conversation: ChatConversation, *, after: int = 0, limit: int = HISTORY_MAX) -> list[ChatMessage]:
    """The conversation's messages in order (the last `limit`; those after message id `after` when given)."""
    rows = conversation.messages.select_related("author_user").filter(pk__gt=after).order_by("-created_at", "-id")
    return list(reversed(rows[:limit]))


def customer_chats(customer_id: int, limit: int = 5) -> QuerySet[ChatConversation]:
    """A customer's latest conversations (the ticket page's summary)."""
    return (
        ChatConversation.objects.filter(customer_id=customer_id)
        .select_related("ticket")
        .order_by("-started_at", "-id")[:limit]
    )


def first_lines(conversation: ChatConversation, count: int = 3) -> list[ChatMessage]:
    return list(conversation.messages.exclude(sender=ChatMessage.Sender.SYSTEM).order_by("created_at", "id")[:count])


def unread(conversation: ChatConversation) -> int:
    """The visitor's messages the agents have not read."""
    return conversation.messages.filter(sender=ChatMessage.Sender.VISITOR, pk__gt=conversation.agent_read_upto).count()


# ---------------------------------------------------------------- shapes


def _user_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def sender_name(message: ChatMessage, conversation: ChatConversation) -> str:
    if message.sender == ChatMessage.Sender.AGENT:
        return _user_name(message.author_user) or "Agent"
    if message.sender == ChatMessage.Sender.VISITOR:
        return conversation.visitor_name or conversation.visitor_email or "Visitor"
    return "Kervan"


def message_payload(message: ChatMessage) -> dict[str, Any]:
    """<message> = {"id", "sender", "body", "at", "agent_name"}: the body as plain text."""
    return {
        "id": message.pk,
        "sender": message.sender,
        "body": message.body,
        "at": message.created_at.isoformat(),
        "agent_name": _user_name(message.author_user) if message.author_user_id else "",
    }


def conversation_payload(conversation: ChatConversation) -> dict[str, Any]:
    """<conversation> as the agents' console receives it."""
    assignee = conversation.assignee if conversation.assignee_id else None
    ticket = conversation.ticket if conversation.ticket_id else None
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "assignee_name": _user_name(assignee),
        "visitor_name": conversation.visitor_name,
        "visitor_email": conversation.visitor_email,
        "customer_id": conversation.customer_id,
        "customer_url": (
            reverse("customer360:detail", args=[conversation.customer_id]) if conversation.customer_id else None
        ),
        "language": conversation.language,
        "page_url": conversation.page_url,
        "started_at": conversation.started_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
        "unread": unread(conversation),
        "ticket": ticket.number if ticket is not None else None,
    }


def visitor_status(conversation: ChatConversation) -> dict[str, Any]:
    """The status frame the visitor's widget receives: never more about the agent than a first name."""
    assignee = conversation.assignee if conversation.assignee_id else None
    name = ""
    if assignee is not None:
        name = assignee.first_name or assignee.get_username()
    return {"type": "status", "status": conversation.status, "agent_name": name}


def visitor_message_payload(message: ChatMessage) -> dict[str, Any]:
    """A message as the visitor sees it: the agent's first name only."""
    payload = message_payload(message)
    if message.author_user_id:
        payload["agent_name"] = message.author_user.first_name or message.author_user.get_username()
    return payload
