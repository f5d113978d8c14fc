"""Agents' tools around tickets (/support/…): canned replies and their editor with a preview, the assignment rules in
order, and on the ticket page the canned-reply picker, the "who else is here" box and the guard against a reply
that crosses a newer message. Everything works without JavaScript; htmx only saves a page load."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.messaging.rendering import TemplateProblem
from kervan.segments.models import Segment
from kervan.support import canned, collision, routing
from kervan.support.models import AssignmentRule, CannedReply, Language, Ticket, TicketPriority
from kervan.support.ticket_actions import agents
from kervan.support.ticket_selectors import ticket_get


def _forbidden(request):
    return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)


def _pk(value) -> int | None:
    given = str(value or "").strip()
    return int(given) if given.isdigit() and len(given) < 19 else None


# ---------------------------------------------------------------- canned replies


@require_access("support", "read")
def canned_list(request):
    replies = CannedReply.objects.select_related("created_by").order_by("language", "title", "id")
    return render(request, "support/tools/canned_list.html", {"replies": replies})


def _canned_editor(request, reply: CannedReply | None):
    post = request.POST
    values = {
        "title": reply.title if reply else "",
        "shortcut": reply.shortcut if reply else "",
        "language": reply.language if reply else Language.TURKISH,
        "body": reply.body if reply else "",
    }
    error = preview = None
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        action = post.get("action", "save")
        if action == "delete" and reply is not None:
            canned.canned_delete(actor=request.actor, reply=reply)
            messages.success(request, _("The canned reply is deleted."))
            return redirect("support:canned_list")
        values = {key: post.get(key, "") for key in values}
        try:
            if action == "preview":
                preview = _preview(request, values)
            else:
                saved = canned.canned_save(actor=request.actor, reply=reply, **values)
                messages.success(request, _("The canned reply is saved."))
                return redirect("support:canned_edit", saved.pk)
        except KervanError as exc:
            error = exc
    elif reply is not None:
        preview = _preview(request, values, quiet=True)
    return render(
        request,
        "support/tools/canned_edit.html",
        {"reply": reply, "values": values, "error": error, "preview": preview, "languages": Language.choices},
        status=400 if error else 200,
    )


def _preview(request, values: dict, *, quiet: bool = False) -> str | None:
    language = values["language"] if values["language"] in Language.values else Language.TURKISH
    try:
        return canned.canned_preview(body=values["body"], language=language, agent=request.user)
    except TemplateProblem as problem:
        if quiet:
            return None
        raise KervanError(str(problem), "invalid_template", field="body") from problem


@require_access("support", "read")
def canned_new(request):
    return _canned_editor(request, None)


@require_access("support", "read")
def canned_edit(request, reply_id: int):
    return _canned_editor(request, get_object_or_404(CannedReply, pk=reply_id))


@require_POST
@require_access("support", "read")
def canned_preview(request):
    """The editor's preview (htmx): the body rendered with a sample, or the template's problem."""
    values = {"body": request.POST.get("body", ""), "language": request.POST.get("language", "")}
    try:
        preview, error = _preview(request, values), None
    except KervanError as exc:
        preview, error = None, exc
    return render(request, "support/tools/_canned_preview.html", {"preview": preview, "error": error})


# ---------------------------------------------------------------- assignment rules


@require_access("support", "read")
def rule_list(request):
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        rule = get_object_or_404(AssignmentRule, pk=_pk(request.POST.get("rule")) or 0)
        try:
            routing.rule_move(actor=request.actor, rule=rule, direction=request.POST.get("direction", ""))
        except KervanError as error:
            messages.error(request, error.detail)
        return redirect("support:rule_list")
    rules = AssignmentRule.objects.select_related("segment").prefetch_related("agents").order_by("position", "id")
    return render(request, "support/tools/rule_list.html", {"rules": rules})


def _rule_editor(request, rule: AssignmentRule | None):
    fields = ("name", "channel", "tag", "language", "segment", "customer_tag", "set_priority")
    values = {key: getattr(rule, key, "") or "" for key in fields} if rule else dict.fromkeys(fields, "")
    values["segment"] = str(rule.segment_id or "") if rule else ""
    values["active"] = rule.active if rule else True
    chosen = {str(pk) for pk in rule.agents.values_list("pk", flat=True)} if rule else set()
    error = None
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        post = request.POST
        if post.get("action") == "delete" and rule is not None:
            routing.rule_delete(actor=request.actor, rule=rule)
            messages.success(request, _("The rule is deleted."))
            return redirect("support:rule_list")
        values = {key: post.get(key, "") for key in fields}
        values["active"] = bool(post.get("active"))
        chosen = set(post.getlist("agents"))
        try:
            routing.rule_save(
                actor=request.actor,
                rule=rule,
                name=values["name"],
                active=values["active"],
                channel=values["channel"],
                tag=values["tag"],
                language=values["language"],
                segment_id=values["segment"],
                customer_tag=values["customer_tag"],
                agent_ids=sorted(chosen),
                set_priority=values["set_priority"],
            )
        except KervanError as exc:
            error = exc
        else:
            messages.success(request, _("The rule is saved."))
            return redirect("support:rule_list")
    return render(
        request,
        "support/tools/rule_edit.html",
        {
            "rule": rule,
            "values": values,
            "chosen": chosen,
            "error": error,
            "channels": Ticket.Channel.choices,
            "languages": Language.choices,
            "priorities": TicketPriority.choices,
            "segments": Segment.objects.order_by("name"),
            "agents": agents().order_by("username"),
        },
        status=400 if error else 200,
    )


@require_access("support", "read")
def rule_new(request):
    return _rule_editor(request, None)


@require_access("support", "read")
def rule_edit(request, rule_id: int):
    return _rule_editor(request, get_object_or_404(AssignmentRule, pk=rule_id))


# ---------------------------------------------------------------- the ticket page's tools


def ticket_tools(request, ticket: Ticket) -> dict:
    """What the ticket page needs from the tools. On a POST it may hold the request back ("held": the page is drawn
    again instead of the change being made): a canned reply inserted into the reply box, or a reply that crosses a
    newer message from the customer or another agent (sent only when the agent chooses "Send anyway")."""
    post = request.POST
    if request.method != "POST" or not request.actor.can("support", "write"):
        return {}
    action = post.get("action", "")
    if action == "canned":
        text = _insert_canned(request, ticket, post.get("body", ""), post.get("canned"))
        return {"held": True, "reply_text": text}
    if action == "reply" and not post.get("send_anyway"):
        newer = collision.messages_since(actor=request.actor, ticket=ticket, seen_message_id=post.get("seen_message"))
        if newer:
            return {"held": True, "reply_text": post.get("body", ""), "crossed": newer, "status": 409}
    return {}


def _insert_canned(request, ticket: Ticket, body: str, reply_id) -> str:
    """The reply box with the chosen canned reply added; with none chosen, a "/shortcut" ending the text is replaced
    by the reply it names (in the ticket's language first)."""
    reply = CannedReply.objects.filter(pk=_pk(reply_id) or 0).first()
    before = f"{body.rstrip()}\n\n" if body.strip() else ""
    words = body.rstrip().rsplit(None, 1)
    if reply is None and words and words[-1].startswith("/"):
        reply = canned.canned_find(words[-1], ticket.language)
        before = body.rstrip()[: -len(words[-1])]
    if reply is None:
        return body
    try:
        text = canned.canned_render(reply, agent=request.user, ticket=ticket)
    except TemplateProblem as problem:
        messages.error(request, str(problem))
        return body
    canned.canned_used(reply)
    return before + text


def ticket_context(request, ticket: Ticket, tools: dict) -> dict:
    """The ticket page's extra context: canned replies (the ticket's language first), the other agents here (the
    page load counts as being seen), the newest message id for the reply guard, the CSAT answers."""
    if request.method == "GET" and request.actor.can("support", "write"):
        collision.ticket_viewer_seen(actor=request.actor, ticket=ticket)
    return {
        "canned_replies": canned.canned_for(ticket.language),
        "viewers": collision.ticket_other_viewers(actor=request.actor, ticket=ticket),
        "seen_message_id": collision.newest_message_id(ticket),
        "surveys": ticket.surveys.filter(answered_at__isnull=False).select_related("agent").order_by("-answered_at"),
        "reply_text": tools.get("reply_text", ""),
        "crossed": tools.get("crossed", []),
    }


@require_POST
@require_access("support", "read")
def ticket_viewers(request, ticket_id: int):
    """The "who else is here" box, polled by the ticket page: records this agent (writing when the reply box has
    text) and lists the others."""
    ticket = ticket_get(actor=request.actor, ticket_id=ticket_id)
    if request.actor.can("support", "write"):  # agents only: a reader never replies
        composing = bool(request.POST.get("body", "").strip())
        collision.ticket_viewer_seen(actor=request.actor, ticket=ticket, composing=composing)
    viewers = collision.ticket_other_viewers(actor=request.actor, ticket=ticket)
    return render(request, "support/tools/_viewers.html", {"ticket": ticket, "viewers": viewers})


@require_POST
@require_access("support", "write")
def ticket_canned(request, ticket_id: int):
    """The picker (htmx): the reply box again, with the chosen canned reply added to what it held."""
    ticket = ticket_get(actor=request.actor, ticket_id=ticket_id)
    text = _insert_canned(request, ticket, request.POST.get("body", ""), request.POST.get("canned"))
    return render(request, "support/tools/_reply_body.html", {"ticket": ticket, "reply_text": text})
