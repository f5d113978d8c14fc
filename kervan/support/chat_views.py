"""The agents' live-chat console (/support/chat/) and its small JSON endpoints: a conversation's history, a canned
reply rendered for its visitor, help-centre articles that may answer the visitor's last message, online agents to
transfer to, and converting the conversation into a ticket. Messages themselves travel over the agent WebSocket
(kervan.support.consumers); the page only loads what a socket does not carry. A past conversation has a read-only
transcript page.

Support writers chat; roles that may only read support (marketing, analyst) see the conversations and transcripts
but cannot send or change anything. Every JSON endpoint refuses with 403 {"detail", "code"}."""

from functools import wraps

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.accounts.decorators import require_access
from kervan.accounts.permissions import refusal_message
from kervan.core.api import MAX_ID
from kervan.core.errors import KervanError
from kervan.customers.models import Customer
from kervan.messaging.rendering import TemplateProblem
from kervan.support import canned, chat_selectors, search, ticket_actions, ticket_selectors
from kervan.support.models import AgentPresence, CannedReply, ChatConversation, ChatMessage, Ticket

TRANSCRIPT_MAX = 5000
SUGGESTIONS_MAX = 5
RECENT_CLOSED = 30
QUERY_MAX = 200  # characters of the visitor's message used as a search


def _error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": str(detail), "code": code}, status=status)


def json_access(access: str):
    """The JSON endpoints' guard: a session with `access` to support, else 401/403 {"detail", "code"}; sets
    request.actor and turns a KervanError raised by the view into its status and body."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _error(_("Log in first."), "not_authenticated", 401)
            actor = Actor.for_user(request.user, client_ip(request))
            if not actor.can("support", access):
                return _error(refusal_message("support", access), "permission_denied", 403)
            request.actor = actor
            try:
                return view(request, *args, **kwargs)
            except KervanError as error:
                return _error(error.detail, error.code, error.status)

        return wrapped

    return decorator


def _conversation(actor: Actor, chat_id: int) -> ChatConversation:
    found = chat_selectors.conversation_for_agent(actor, chat_id) if 0 < chat_id <= MAX_ID else None
    if found is None:
        raise KervanError(_("There is no such conversation."), "chat_not_found", status=404)
    return found


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _visitor(conversation: ChatConversation) -> Customer | None:
    """The customer a canned reply addresses: the linked one, else the name and email the visitor gave (not saved)."""
    if conversation.customer_id:
        return conversation.customer
    if not (conversation.visitor_name or conversation.visitor_email):
        return None
    first, _space, last = conversation.visitor_name.strip().partition(" ")
    return Customer(first_name=first, last_name=last, email=conversation.visitor_email)


def _summary(actor: Actor, conversation: ChatConversation):
    """The ticket page's customer summary for the visitor. The selector reads a ticket's customer and lists that
    customer's other tickets; an unsaved ticket of this customer gives it exactly that (all their tickets)."""
    if not conversation.customer_id:
        return None
    return ticket_selectors.customer_summary(actor=actor, ticket=Ticket(customer=conversation.customer))


# ---------------------------------------------------------------- pages


def _console_texts() -> dict[str, str]:
    """The words chat-console.js shows, in the agent's language."""
    return {
        "connected": _("Connected"),
        "reconnecting": _("Connection lost; reconnecting…"),
        "refused": _("The chat server refused this session: answering needs write access to Support."),
        "visitor": _("Visitor"),
        "system": _("Kervan"),
        "sent": _("Sent"),
        "read": _("Read by the visitor"),
        "paste": _("Paste link"),
        "transferred": _("This conversation is now with another agent."),
        "closed": _("This conversation is closed."),
        "failed": _("That did not work; try again."),
        "waiting": str(ChatConversation.Status.WAITING.label),
        "active": str(ChatConversation.Status.ACTIVE.label),
        "closed_status": str(ChatConversation.Status.CLOSED.label),
    }


@require_GET
@require_access("support", "read")
def console(request):
    """Writers get the live console (the conversations come over the socket); readers a list of the
    conversations with their transcripts."""
    writer = request.actor.can("support", "write")
    rows = ChatConversation.objects.select_related("assignee", "customer")
    context = {
        "tab": "chat",
        "writer": writer,
        "presence": AgentPresence.objects.filter(user=request.user).values_list("status", flat=True).first()
        or AgentPresence.Status.OFFLINE,
        "open_rows": [] if writer else list(rows.exclude(status=ChatConversation.Status.CLOSED)[:200]),
        "closed_rows": list(rows.filter(status=ChatConversation.Status.CLOSED)[:RECENT_CLOSED]),
        "console_texts": _console_texts() if writer else {},
    }
    return render(request, "support/chat/console.html", context)


@require_GET
@require_access("support", "read")
def transcript(request, chat_id: int):
    try:
        conversation = _conversation(request.actor, chat_id)
    except KervanError as error:
        raise Http404(error.detail) from error
    history = chat_selectors.messages(conversation, limit=TRANSCRIPT_MAX)
    return render(
        request,
        "support/chat/transcript.html",
        {
            "tab": "chat",
            "conversation": conversation,
            "history": history,
            "summary": _summary(request.actor, conversation),
        },
    )


@require_GET
@require_access("support", "read")
def summary(request, chat_id: int):
    """The visitor's 360 summary beside a console pane (an htmx fragment; empty for an unknown visitor)."""
    try:
        conversation = _conversation(request.actor, chat_id)
    except KervanError as error:
        return render(request, "support/chat/_no_summary.html", {"detail": error.detail}, status=404)
    found = _summary(request.actor, conversation)
    if found is None:
        return render(request, "support/chat/_no_summary.html", {"conversation": conversation})
    return render(request, "support/tickets/_summary.html", {"summary": found})


# ---------------------------------------------------------------- JSON


@require_GET
@json_access("read")
def messages(request, chat_id: int):
    """The conversation and its latest messages, oldest first, with how far each side has read."""
    conversation = _conversation(request.actor, chat_id)
    payload = chat_selectors.conversation_payload(conversation)
    payload["visitor_read_upto"] = conversation.visitor_read_upto
    payload["agent_read_upto"] = conversation.agent_read_upto
    if conversation.ticket_id:
        payload["ticket_url"] = reverse("support:ticket_detail", args=[conversation.ticket_id])
    history = chat_selectors.messages(conversation)
    return JsonResponse({"conversation": payload, "messages": [chat_selectors.message_payload(m) for m in history]})


@require_GET
@json_access("write")
def canned_list(request, chat_id: int):
    """The canned replies to pick from, those in the conversation's language first."""
    conversation = _conversation(request.actor, chat_id)
    replies = canned.canned_for(conversation.language)
    return JsonResponse(
        {
            "replies": [
                {"id": r.pk, "title": r.title, "shortcut": r.shortcut, "language": r.language} for r in replies[:500]
            ]
        }
    )


@require_GET
@json_access("write")
def canned_text(request, chat_id: int, reply_id: int):
    """A canned reply rendered for this conversation's visitor and the agent asking."""
    conversation = _conversation(request.actor, chat_id)
    reply = CannedReply.objects.filter(pk=reply_id).first() if 0 < reply_id <= MAX_ID else None
    if reply is None:
        return _error(_("There is no such canned reply."), "canned_not_found", 404)
    try:
        text = canned.canned_render(reply, agent=request.user, customer=_visitor(conversation))
    except TemplateProblem as problem:
        return _error(str(problem), "invalid_template", 400)
    canned.canned_used(reply)
    return JsonResponse({"id": reply.pk, "text": text})


@require_GET
@json_access("read")
def suggestions(request, chat_id: int):
    """Published help articles matching the visitor's last message, with the public address to paste."""
    conversation = _conversation(request.actor, chat_id)
    last = (
        conversation.messages.filter(sender=ChatMessage.Sender.VISITOR)
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)
        .first()
    )
    if not last:
        return JsonResponse({"query": "", "articles": []})
    language = conversation.language
    query, found = search.search(last[:QUERY_MAX], language, limit=SUGGESTIONS_MAX)
    public = settings.KERVAN_PUBLIC_URL.rstrip("/")
    articles = []
    for translation in found:
        path = reverse(f"help:article_{language}", args=[translation.article.slug])
        articles.append({"title": translation.title, "path": path, "url": public + path})
    return JsonResponse({"query": last[:QUERY_MAX], "articles": articles})


@require_GET
@json_access("write")
def online_agents(request):
    """The other agents a conversation can be transferred to: online ones of the support team."""
    online = AgentPresence.objects.filter(status=AgentPresence.Status.ONLINE).values_list("user_id", flat=True)
    users = ticket_actions.agents().filter(pk__in=online).exclude(pk=request.user.pk).order_by("username")
    return JsonResponse({"agents": [{"id": u.pk, "name": _name(u)} for u in users]})


@require_POST
@json_access("write")
def to_ticket(request, chat_id: int):
    """Convert the conversation into a ticket (its transcript is the ticket's first message)."""
    from kervan.support.chat_actions import chat_to_ticket

    conversation = _conversation(request.actor, chat_id)
    ticket = chat_to_ticket(actor=request.actor, conversation=conversation)
    return JsonResponse(
        {"ticket": ticket.number, "url": reverse("support:ticket_detail", args=[ticket.pk])},
        status=201,
    )
