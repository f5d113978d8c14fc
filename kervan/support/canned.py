"""Canned replies: saved answers an agent inserts into a ticket reply or a chat message. The body may use variables,
rendered in the messaging templates' Jinja2 sandbox (so a reply can neither run code nor hang a worker):

    {{ customer.first_name }} {{ customer.last_name }} {{ customer.name }} {{ customer.email }}
    {{ agent.first_name }} {{ agent.name }}
    {{ ticket.number }} {{ ticket.subject }}
    {{ order.number }} {{ order.status }} {{ order.tracking_number }}

Missing values render empty ({{ customer.first_name | default("there") }} gives a fallback). The context is plain
dicts: a template sees these values and nothing else of the models."""

from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit, diff
from kervan.core.errors import KervanError
from kervan.messaging.rendering import CompiledTemplate, TemplateProblem
from kervan.support.actions import _text
from kervan.support.models import CannedReply, Language

TITLE_MAX = 120
SHORTCUT_MAX = 40
BODY_MAX = 20_000


def _user_context(user) -> dict[str, str]:
    if user is None:
        return {"first_name": "", "name": ""}
    first = getattr(user, "first_name", "") or ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {"first_name": first or getattr(user, "username", ""), "name": full or getattr(user, "username", "")}


def _customer_context(customer, ticket) -> dict[str, str]:
    if customer is None and ticket is not None:
        customer = ticket.customer if ticket.customer_id else None
    if customer is not None:
        return {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "name": customer.full_name,
            "email": customer.email,
        }
    # A requester Kervan does not know as a customer yet: the ticket still says who wrote.
    name = getattr(ticket, "requester_name", "") or ""
    first, _space, last = name.partition(" ")
    return {"first_name": first, "last_name": last, "name": name, "email": getattr(ticket, "requester_email", "")}


def _order_context(order, ticket) -> dict[str, str]:
    if order is None and ticket is not None and ticket.order_id:
        order = ticket.order
    if order is None:
        return {"number": "", "status": "", "tracking_number": ""}
    shipment = order.shipments.exclude(tracking_number="").order_by("-shipped_at", "-id").first()
    return {
        "number": str(order),
        "status": str(order.get_status_display()),
        "tracking_number": shipment.tracking_number if shipment else "",
    }


def canned_context(*, agent, customer=None, ticket=None, order=None) -> dict[str, Any]:
    """The variables a canned reply may read, as plain values. A value Kervan does not have is left out, so it renders
    empty and `default("…")` applies to it."""
    context = {
        "customer": _customer_context(customer, ticket),
        "agent": _user_context(agent),
        "ticket": {"number": ticket.number, "subject": ticket.subject} if ticket is not None else {},
        "order": _order_context(order, ticket),
    }
    return {name: {key: value for key, value in values.items() if value} for name, values in context.items()}


def _compile(body: str, language: str) -> CompiledTemplate:
    return CompiledTemplate({language: {"text": body}})


def canned_render(reply: CannedReply, *, agent, customer=None, ticket=None, order=None) -> str:
    """The reply's text with its variables filled in. Raises TemplateProblem when the body cannot render."""
    context = canned_context(agent=agent, customer=customer, ticket=ticket, order=order)
    return _compile(reply.body, reply.language).render(reply.language, context, inline_css=False).text


def canned_preview(*, body: str, language: str, agent) -> str:
    """The body rendered with a sample customer, ticket and order (the edit page's preview)."""
    context = {
        "customer": {"first_name": "Ayşe", "last_name": "Yılmaz", "name": "Ayşe Yılmaz", "email": "ayse@example.com"},
        "agent": _user_context(agent),
        "ticket": {"number": "T-000123", "subject": _("Where is my order?")},
        "order": {"number": "#1001", "status": _("Shipped"), "tracking_number": "TR123456789"},
    }
    return _compile(body, language).render(language, context, inline_css=False).text


def canned_for(language: str | None = None):
    """The replies to pick from: those in `language` (the ticket's) first, then the others, each by title."""
    replies = CannedReply.objects.all()
    if language:
        first = Case(When(language=language, then=Value(0)), default=Value(1), output_field=IntegerField())
        replies = replies.annotate(other_language=first).order_by("other_language", "title", "id")
    return replies


def canned_find(shortcut: str, language: str | None = None) -> CannedReply | None:
    """The reply a "/shortcut" names, the one in `language` when there are several."""
    shortcut = str(shortcut or "").strip().lstrip("/").lower()
    if not shortcut:
        return None
    return canned_for(language).filter(shortcut=shortcut).first()


def canned_used(reply: CannedReply) -> None:
    """Count one use (the list sorts the favourites)."""
    CannedReply.objects.filter(pk=reply.pk).update(uses=F("uses") + 1)


# ---------------------------------------------------------------- staff writes


def _values(*, title, shortcut, language, body) -> dict[str, str]:
    values = {
        "title": _text(title, "title", TITLE_MAX, required=True),
        "shortcut": _text(shortcut, "shortcut", SHORTCUT_MAX).lstrip("/").lower(),
        "language": str(language or ""),
        "body": _text(body, "body", BODY_MAX, required=True),
    }
    if values["language"] not in Language.values:
        raise KervanError(_("Choose Turkish or English."), "invalid_choice", field="language")
    shortcut = values["shortcut"]
    if shortcut and not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in shortcut):
        raise KervanError(
            _("A shortcut uses letters a–z, digits, hyphens and underscores (for example: refund)."),
            "invalid_shortcut",
            field="shortcut",
        )
    try:
        _compile(values["body"], values["language"])
    except TemplateProblem as problem:
        raise KervanError(str(problem), "invalid_template", field="body") from problem
    return values


def canned_save(
    *, actor: Actor, reply: CannedReply | None = None, title, shortcut="", language=Language.TURKISH, body
) -> CannedReply:
    """Create or change a canned reply; a body that is not a valid template is refused."""
    actor.require("support", "write")
    values = _values(title=title, shortcut=shortcut, language=language, body=body)
    taken = CannedReply.objects.filter(shortcut=values["shortcut"], language=values["language"])
    if values["shortcut"] and taken.exclude(pk=getattr(reply, "pk", None)).exists():
        raise KervanError(_("Another reply in this language has this shortcut."), "shortcut_taken", field="shortcut")
    with transaction.atomic():
        if reply is None:
            reply = CannedReply.objects.create(created_by=actor.user, **values)
            audit(actor=actor, action="create", obj=reply, changes={k: [None, v] for k, v in values.items()})
            return reply
        changes = diff(reply, values)
        if changes:
            for name, value in values.items():
                setattr(reply, name, value)
            reply.save(update_fields=[*values, "updated_at"])
            audit(actor=actor, action="update", obj=reply, changes=changes)
    return reply


def canned_delete(*, actor: Actor, reply: CannedReply) -> None:
    actor.require("support", "write")
    with transaction.atomic():
        audit(actor=actor, action="delete", obj=reply, changes={"title": [reply.title, None]})
        reply.delete()
