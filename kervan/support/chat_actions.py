"""Every write of the live chat: a visitor starts a conversation (the storefront widget), either side writes, agents
join, transfer and close it, read marks, a conversation becomes a ticket (by an agent, the offline form, or when
nobody answered in time: KERVAN_CHAT_UNANSWERED_MINUTES, the scheduled `chats_unanswered_to_tickets`).

Staff actions are audited on the conversation's customer (so they reach the Customer 360); the conversation itself
is the customer's timeline entry (kervan.support.timeline). Each change is announced to the sockets after commit
(`notify`): the channel layer's groups "chat.agents" (every agent console) and "chat.c.<id>" (one conversation's
visitor and agents), events {"type": "chat.event", "visitor": frame | None,
"agent": frame | None}, each consumer forwarding the frame meant for its side.

Linking to a customer: an email the visitor gives names the customer who holds it, the tracker's anonymous id the
customer its identity points to; an anonymous visitor is looked up again on every connect and message, so a visitor
who identified to the tracker meanwhile is linked then. Both are the visitor's word, as with the help centre's
contact form: they only tell the agents who this probably is, never show the visitor anything of the customer's.
"""

import logging
import secrets

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.customers.models import Customer, Identity
from kervan.events.actions import event_record
from kervan.events.models import CanonicalEvent
from kervan.support.actions import _text
from kervan.support.models import AgentPresence, ChatConversation, ChatMessage, Language, Ticket
from kervan.support.ticket_actions import _agent, agent_presence_set, ticket_create

logger = logging.getLogger(__name__)

MESSAGE_MAX = 4000
NAME_MAX = 200
URL_MAX = 500
ANONYMOUS_ID_MAX = 64
AGENTS_GROUP = "chat.agents"
Status = ChatConversation.Status
Sender = ChatMessage.Sender


def conversation_group(conversation_id: int) -> str:
    return f"chat.c.{conversation_id}"


# ---------------------------------------------------------------- notifications


def notify(group: str, *, visitor: dict | None = None, agent: dict | None = None) -> None:
    """Send a frame to a group's sockets once the transaction commits (nothing for a change that rolled back)."""
    event = {"type": "chat.event", "visitor": visitor, "agent": agent}

    def send() -> None:
        from channels.layers import get_channel_layer

        try:
            async_to_sync(get_channel_layer().group_send)(group, event)
        except Exception:  # a layer that is down must not undo or fail the write: the consoles reload on reconnect
            logger.exception("chat.notify_failed", extra={"group": group})

    transaction.on_commit(send)


def notify_conversation(conversation: ChatConversation, *, visitor: bool = True) -> None:
    """The conversation's new state to the agents and (unless only its counters changed) as a status frame to its
    visitor."""
    from kervan.support.chat_selectors import conversation_payload, visitor_status

    frame = {"type": "conversation", "conversation": conversation_payload(conversation)}
    notify(AGENTS_GROUP, agent=frame)
    if visitor:
        notify(conversation_group(conversation.pk), visitor=visitor_status(conversation))


def notify_message(message: ChatMessage) -> None:
    from kervan.support.chat_selectors import message_payload, visitor_message_payload

    notify(
        conversation_group(message.conversation_id),
        visitor={"type": "message", "message": visitor_message_payload(message)},
        agent={"type": "message", "conversation": message.conversation_id, "message": message_payload(message)},
    )


# ---------------------------------------------------------------- the visitor's side


def _customer_of(identity: Identity | None) -> Customer | None:
    if identity is None:
        return None
    customer = identity.customer
    return customer.merged_into if customer.merged_into_id else customer


def _find_customer(email: str, anonymous_id: str) -> Customer | None:
    identities = Identity.objects.select_related("customer__merged_into").order_by("id")
    if email:
        found = _customer_of(identities.filter(kind=Identity.Kind.EMAIL, value=email_match_key(email)).first())
        if found is not None:
            return found
    if anonymous_id:
        return _customer_of(identities.filter(kind=Identity.Kind.ANONYMOUS, value=anonymous_id).first())
    return None


def chat_link_customer(*, conversation: ChatConversation) -> bool:
    """Link a conversation without a customer to the one its email or anonymous id now names. True if it did."""
    if conversation.customer_id is not None:
        return False
    customer = _find_customer(conversation.visitor_email, conversation.anonymous_id)
    if customer is None:
        return False
    with transaction.atomic():
        linked = ChatConversation.objects.filter(pk=conversation.pk, customer__isnull=True).update(customer=customer)
        if not linked:
            conversation.refresh_from_db(fields=["customer"])
            return False
        conversation.customer = customer
        _started_chat_event(conversation)
        notify_conversation(conversation)
    return True


def _started_chat_event(conversation: ChatConversation) -> None:
    event_record(
        name=CanonicalEvent.STARTED_CHAT,
        occurred_at=conversation.started_at,
        dedupe_key=f"chat:{conversation.pk}:started",
        customer_id=conversation.customer_id,
        anonymous_id=conversation.anonymous_id,
        properties={"chat_id": conversation.pk, "page_url": conversation.page_url},
    )


def _language(value) -> str:
    value = str(value or "").strip().lower()[:2]
    return value if value in Language.values else Language.TURKISH


def _email(value) -> str:
    return normalize_email(value, "email") if str(value or "").strip() else ""


def chat_start(*, name="", email="", language="tr", page_url="", anonymous_id="") -> ChatConversation:
    """A visitor opens the chat: a waiting conversation, announced to the agents. Its `visitor_key` is the
    visitor's only way back to it."""
    name = _text(name, "name", NAME_MAX)
    email = _email(email)
    page_url = _text(page_url, "page_url", 10_000)[:URL_MAX]
    anonymous_id = _text(anonymous_id, "anonymous_id", ANONYMOUS_ID_MAX)
    now = clock.now()
    with transaction.atomic():
        conversation = ChatConversation.objects.create(
            visitor_key=secrets.token_urlsafe(32),
            anonymous_id=anonymous_id,
            customer=_find_customer(email, anonymous_id),
            visitor_name=name,
            visitor_email=email,
            language=_language(language),
            page_url=page_url,
            started_at=now,
            last_message_at=now,
        )
        if conversation.customer_id is not None:
            _started_chat_event(conversation)
        notify_conversation(conversation)
    return conversation


def _writable(conversation: ChatConversation) -> None:
    if conversation.status == Status.CLOSED:
        raise KervanError(_("This chat has ended; start a new one."), "chat_closed", status=409)


def chat_post(*, conversation: ChatConversation, sender: str, body, actor: Actor | None = None) -> ChatMessage:
    """A message in the conversation: the visitor's (no actor), an agent's (actor: the agent, who must be allowed
    to write in support) or the system's. Plain text, at most MESSAGE_MAX characters."""
    if sender not in Sender.values:
        raise KervanError(_("Unknown sender."), "invalid_sender", field="sender")
    body = _text(body, "body", MESSAGE_MAX, required=True)
    if sender == Sender.AGENT:
        if actor is None or actor.user is None:
            raise KervanError(_("Only a signed-in agent writes as an agent."), "not_an_agent", status=403)
        actor.require("support", "write")
        if conversation.assignee_id not in (None, actor.user.pk):
            raise KervanError(_("Another agent has taken this chat."), "chat_taken", status=409)
    _writable(conversation)
    if sender == Sender.VISITOR:
        chat_link_customer(conversation=conversation)
    now = clock.now()
    with transaction.atomic():
        message = ChatMessage.objects.create(
            conversation=conversation,
            sender=sender,
            author_user=actor.user if sender == Sender.AGENT else None,
            body=body,
            created_at=now,
        )
        fields = ["last_message_at"]
        conversation.last_message_at = now
        if sender == Sender.AGENT and conversation.first_agent_message_at is None:
            conversation.first_agent_message_at = now
            fields.append("first_agent_message_at")
        if sender == Sender.AGENT and conversation.status == Status.WAITING:
            # Answering a waiting chat takes it, as joining would.
            conversation.status, conversation.assignee = Status.ACTIVE, actor.user
            fields += ["status", "assignee"]
        conversation.save(update_fields=fields)
        notify_message(message)
        if "status" in fields:
            # Only a change of state goes to every console: a frame per message to every agent costs more than the
            # message itself at a thousand chats (bench/chat_concurrency.py); consoles count unread from messages.
            notify_conversation(conversation)
    return message


def _system_message(conversation: ChatConversation, body: str) -> ChatMessage:
    now = clock.now()
    message = ChatMessage.objects.create(conversation=conversation, sender=Sender.SYSTEM, body=body, created_at=now)
    conversation.last_message_at = now
    conversation.save(update_fields=["last_message_at"])
    notify_message(message)
    return message


def chat_read(*, conversation: ChatConversation, side: str, upto) -> int:
    """The visitor ("visitor") or the agents ("agent") have read up to message `upto` (never backwards, never past
    the conversation's last message). Returns the read mark now."""
    field = {"visitor": "visitor_read_upto", "agent": "agent_read_upto"}.get(side)
    if field is None:
        raise KervanError(_("Unknown side."), "invalid_side", field="side")
    try:
        upto = int(upto)
    except (TypeError, ValueError):
        raise KervanError(_("This is not a valid id."), "invalid_id", field="upto") from None
    last = conversation.messages.filter(pk__lte=upto).order_by("-pk").values_list("pk", flat=True).first() or 0
    if last <= getattr(conversation, field):
        return getattr(conversation, field)
    ChatConversation.objects.filter(pk=conversation.pk).update(**{field: last})
    setattr(conversation, field, last)
    frame = {"type": "read", "upto": last}
    if side == "visitor":
        notify(conversation_group(conversation.pk), agent={**frame, "conversation": conversation.pk})
    else:
        notify(conversation_group(conversation.pk), visitor=frame)
        notify_conversation(conversation, visitor=False)  # the consoles' unread count
    return last


# ---------------------------------------------------------------- the agents' side


def _staff_change(actor: Actor, conversation: ChatConversation, changes: dict) -> None:
    audit(actor=actor, action="update", obj=conversation, customer_id=conversation.customer_id, changes=changes)


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _in_language(conversation: ChatConversation, text) -> str:
    with override(conversation.language):
        return str(text())


def chat_join(*, actor: Actor, conversation: ChatConversation) -> ChatConversation:
    """The agent takes a waiting conversation (or re-joins their own)."""
    actor.require("support", "write")
    if actor.user is None:
        raise KervanError(_("Only a signed-in agent joins a chat."), "not_an_agent", status=403)
    _writable(conversation)
    with transaction.atomic():
        current = ChatConversation.objects.select_for_update().get(pk=conversation.pk)
        if current.assignee_id == actor.user.pk and current.status == Status.ACTIVE:
            return current
        if current.assignee_id not in (None, actor.user.pk):
            raise KervanError(_("Another agent has taken this chat."), "chat_taken", status=409)
        current.assignee, current.status = actor.user, Status.ACTIVE
        current.save(update_fields=["assignee", "status"])
        _staff_change(actor, current, {"assignee": [None, actor.user.get_username()], "status": ["waiting", "active"]})
        name = _name(actor.user)
        _system_message(current, _in_language(current, lambda: _("%(name)s joined the chat.") % {"name": name}))
        notify_conversation(current)
    conversation.__dict__.update(current.__dict__)
    return conversation


def chat_transfer(*, actor: Actor, conversation: ChatConversation, to) -> ChatConversation:
    """Hand the conversation to another agent (a user id of the support team)."""
    actor.require("support", "write")
    _writable(conversation)
    agent = _agent(to, "to")
    if agent is None:
        raise KervanError(_("Choose an active agent of the support team."), "invalid_assignee", field="to")
    if agent.pk == conversation.assignee_id:
        return conversation
    old = conversation.assignee.get_username() if conversation.assignee_id else None
    with transaction.atomic():
        conversation.assignee, conversation.status = agent, Status.ACTIVE
        conversation.save(update_fields=["assignee", "status"])
        _staff_change(actor, conversation, {"assignee": [old, agent.get_username()]})
        name = _name(agent)
        _system_message(
            conversation, _in_language(conversation, lambda: _("The chat was passed to %(name)s.") % {"name": name})
        )
        notify_conversation(conversation)
    return conversation


def chat_close(*, actor: Actor, conversation: ChatConversation) -> ChatConversation:
    """End the conversation (an agent, or Kervan itself)."""
    actor.require("support", "write")
    if conversation.status == Status.CLOSED:
        return conversation
    with transaction.atomic():
        old = conversation.status
        conversation.status, conversation.closed_at = Status.CLOSED, clock.now()
        conversation.save(update_fields=["status", "closed_at"])
        _staff_change(actor, conversation, {"status": [old, "closed"]})
        _system_message(conversation, _in_language(conversation, lambda: _("The chat has ended.")))
        notify_conversation(conversation)
    return conversation


def chat_presence(*, actor: Actor, status: str) -> AgentPresence:
    """The agent's presence from the console (online, away, offline): the widget offers the chat while one is
    online."""
    return agent_presence_set(actor=actor, status=status)


# ---------------------------------------------------------------- tickets


def transcript(conversation: ChatConversation) -> str:
    """The conversation as plain text lines: "[14:02] Ayşe: Merhaba"."""
    from kervan.support.chat_selectors import sender_name

    lines = []
    messages = conversation.messages.select_related("author_user").order_by("created_at", "id")
    for message in messages:
        at = timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")
        lines.append(f"[{at}] {sender_name(message, conversation)}: {message.body}")
    return "\n".join(lines)


def chat_to_ticket(*, actor: Actor, conversation: ChatConversation) -> Ticket:
    """The conversation becomes a ticket (channel "chat"): the transcript is its first message, the requester the
    visitor; the conversation ends pointing at it. A conversation that already has its ticket returns it."""
    actor.require("support", "write")
    if conversation.ticket_id is not None:
        return conversation.ticket
    with transaction.atomic():
        current = ChatConversation.objects.select_for_update().get(pk=conversation.pk)
        if current.ticket_id is not None:
            return current.ticket
        if current.customer_id is None and not current.visitor_email:
            raise KervanError(
                _("The visitor left no email address and is not a known customer: nobody to answer."),
                "requester_required",
            )
        name = current.visitor_name or (str(current.customer) if current.customer_id else current.visitor_email)
        ticket = ticket_create(
            actor=actor,
            subject=_in_language(current, lambda: _("Chat with %(name)s") % {"name": name})[:200],
            body=transcript(current) or "-",
            channel=Ticket.Channel.CHAT,
            customer=current.customer,
            requester_email=current.visitor_email,
            requester_name=current.visitor_name,
            language=current.language,
        )
        current.ticket = ticket
        fields = ["ticket"]
        if current.status != Status.CLOSED:
            current.status, current.closed_at = Status.CLOSED, clock.now()
            fields += ["status", "closed_at"]
            number = ticket.number
            _system_message(
                current,
                _in_language(current, lambda: _("We will answer by email (ticket %(number)s).") % {"number": number}),
            )
        current.save(update_fields=fields)
        _staff_change(actor, current, {"ticket": [None, ticket.number]})
        notify_conversation(current)
    conversation.__dict__.update(current.__dict__)
    return ticket


def chat_offline(*, name="", email, message, language="tr", page_url="", anonymous_id="") -> Ticket:
    """The widget's form when no agent is online: a ticket (channel "chat") with the visitor's message."""
    if not str(email or "").strip():
        raise KervanError(_("Please give your email address."), "required", field="email")
    body = _text(message, "message", MESSAGE_MAX, required=True)
    email = _email(email)
    name = _text(name, "name", NAME_MAX)
    customer = _find_customer(email, _text(anonymous_id, "anonymous_id", ANONYMOUS_ID_MAX))
    page_url = _text(page_url, "page_url", 10_000)[:URL_MAX]
    if page_url:
        body = f"{body}\n\n({page_url})"
    language = _language(language)
    with transaction.atomic():
        with override(language):
            subject = _("Chat message from %(name)s") % {"name": name or email}
        ticket = ticket_create(
            actor=Actor.system(),
            subject=subject[:200],
            body=body,
            channel=Ticket.Channel.CHAT,
            customer=customer,
            requester_email=email,
            requester_name=name,
            language=language,
        )
    return ticket


def unanswered_minutes() -> int:
    from django.conf import settings

    return int(getattr(settings, "KERVAN_CHAT_UNANSWERED_MINUTES", 5))


def chats_unanswered_to_tickets(*, limit: int = 200) -> int:
    """Waiting conversations nobody joined within KERVAN_CHAT_UNANSWERED_MINUTES become tickets (the agents answer
    by email). Only those with somebody to answer: an email address or a known customer; the others stay in the
    consoles' queue. Each is taken with a row lock that re-checks it is still waiting and ticketless, so two
    workers, or an agent joining at that moment, never make two tickets of one chat."""
    import datetime as dt

    due = clock.now() - dt.timedelta(minutes=unanswered_minutes())
    candidates = (
        ChatConversation.objects.filter(status=Status.WAITING, assignee__isnull=True, ticket__isnull=True)
        .filter(started_at__lte=due)
        .filter(Q(customer__isnull=False) | ~Q(visitor_email=""))
        .order_by("started_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    made = 0
    system = Actor.system()
    for pk in list(candidates):
        with transaction.atomic():
            current = (
                ChatConversation.objects.select_for_update()
                .filter(pk=pk, status=Status.WAITING, assignee__isnull=True, ticket__isnull=True)
                .first()
            )
            if current is None:
                continue
            try:
                chat_to_ticket(actor=system, conversation=current)
            except KervanError:
                logger.warning("chat.unanswered_ticket_refused", extra={"chat_id": pk})
                continue
            made += 1
    return made


# ---------------------------------------------------------------- merge


def chats_reassign(*, from_customer_id: int, to_customer_id: int) -> int:
    """A customer merge: the merged customer's chats belong to the survivor."""
    return ChatConversation.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
