"""Agents' ticket pages (/support/tickets/): the list with filters, SLA timers and bulk changes; a ticket with its
conversation, reply and note forms, its controls and the customer's summary; the new-ticket form; and the agent's
own presence (online agents take new tickets in turn)."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.customers.models import Customer
from kervan.support import ticket_actions as actions
from kervan.support import ticket_selectors as selectors
from kervan.support import tools_views
from kervan.support.attachments import download_type, ticket_reply_with_files
from kervan.support.models import AgentPresence, Ticket, TicketAttachment, TicketPriority

PAGE = 100


def _forbidden(request):
    return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)


def _presence(request) -> str:
    found = AgentPresence.objects.filter(user=request.user).values_list("status", flat=True).first()
    return found or AgentPresence.Status.OFFLINE


@require_access("support", "read")
def ticket_list(request):
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        post = request.POST
        try:
            done = actions.tickets_bulk(
                actor=request.actor,
                ticket_ids=post.getlist("ticket"),
                status=post.get("bulk_status", ""),
                assignee_id=post.get("bulk_assignee", "") or None,
                add_tag=post.get("bulk_tag", ""),
            )
        except KervanError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("%(count)s tickets changed.") % {"count": done})
        return redirect(request.get_full_path())
    filters = {
        key: request.GET.get(key, "").replace("\x00", "")[:200]
        for key in ("status", "priority", "assignee", "sla", "q")
    }
    if "status" not in request.GET:
        filters["status"] = "active"
    tickets = list(
        selectors.ticket_list(
            actor=request.actor,
            status=filters["status"],
            priority=filters["priority"],
            assignee=filters["assignee"],
            sla=filters["sla"],
            text=filters["q"].strip(),
        )[:PAGE]
    )
    return render(
        request,
        "support/tickets/list.html",
        {
            "rows": [(t, selectors.sla_timer(t)) for t in tickets],
            "filters": filters,
            "statuses": [("active", _("Active")), *Ticket.Status.choices],
            "priorities": TicketPriority.choices,
            "agents": actions.agents().order_by("username"),
            "presence": _presence(request),
            "presences": AgentPresence.Status.choices,
        },
    )


@require_access("support", "read")
def ticket_new(request):
    values = {"subject": "", "body": "", "customer": "", "requester_email": "", "priority": "normal", "order": ""}
    error = None
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        values = {key: request.POST.get(key, "") for key in values}
        try:
            customer = None
            if values["customer"].strip():
                given = values["customer"].strip()
                customer = (
                    Customer.objects.filter(pk=int(given)).first() if given.isdigit() and len(given) < 19 else None
                )
                if customer is None:
                    raise KervanError(_("There is no such customer."), "invalid_customer", field="customer")
            ticket = actions.ticket_create(
                actor=request.actor,
                subject=values["subject"],
                body=values["body"],
                customer=customer,
                requester_email=values["requester_email"],
                priority=values["priority"],
                order_id=values["order"] or None,
                assignee_id=request.POST.get("assignee") or None,
            )
        except KervanError as exc:
            error = exc
        else:
            messages.success(request, _("Ticket %(number)s is created.") % {"number": ticket.number})
            return redirect("support:ticket_detail", ticket.pk)
    return render(
        request,
        "support/tickets/new.html",
        {"values": values, "error": error, "priorities": TicketPriority.choices, "agents": actions.agents()},
        status=400 if error else 200,
    )


def _change(request, ticket: Ticket) -> str:
    """Apply the posted change; returns the message to show."""
    post, actor = request.POST, request.actor
    action = post.get("action", "")
    if action == "reply":
        ticket_reply_with_files(
            actor=actor,
            ticket=ticket,
            body=post.get("body"),
            status=post.get("then_status", ""),
            uploads=request.FILES.getlist("attachments"),
        )
        return _("The reply is sent.")
    if action == "note":
        actions.ticket_note(actor=actor, ticket=ticket, body=post.get("body"))
        return _("The note is added.")
    if action == "update":
        actions.ticket_set_priority(actor=actor, ticket=ticket, priority=post.get("priority", ticket.priority))
        actions.ticket_assign(actor=actor, ticket=ticket, assignee_id=post.get("assignee") or None)
        actions.ticket_set_tags(actor=actor, ticket=ticket, tags=post.get("tags", "").split(","))
        actions.ticket_set_status(actor=actor, ticket=ticket, status=post.get("status", ticket.status))
        return _("The ticket is saved.")
    if action == "merge":
        given = post.get("target", "").strip().upper().removeprefix("T-")
        target = selectors.ticket_get(actor=actor, ticket_id=int(given) if given.isdigit() and len(given) < 19 else 0)
        actions.ticket_merge(actor=actor, source=ticket, target=target)
        return _("The ticket is merged into %(number)s.") % {"number": target.number}
    raise KervanError(_("Choose what to change."), "unknown_action", field="action")


@require_access("support", "read")
def ticket_detail(request, ticket_id: int):
    ticket = selectors.ticket_get(actor=request.actor, ticket_id=ticket_id)
    error = None
    tools = tools_views.ticket_tools(request, ticket)  # a canned reply inserted, a reply crossing a newer message
    if request.method == "POST" and not tools.get("held"):
        if not request.actor.can("support", "write"):
            return _forbidden(request)
        try:
            done = _change(request, ticket)
        except KervanError as exc:
            error = exc
            ticket = selectors.ticket_get(actor=request.actor, ticket_id=ticket_id)
        else:
            messages.success(request, done)
            if ticket.merged_into_id:
                return redirect("support:ticket_detail", ticket.merged_into_id)
            return redirect("support:ticket_detail", ticket.pk)
    return render(
        request,
        "support/tickets/detail.html",
        {
            "ticket": ticket,
            "timer": selectors.sla_timer(ticket),
            "conversation": selectors.ticket_messages(ticket).prefetch_related("attachments"),
            "summary": selectors.customer_summary(actor=request.actor, ticket=ticket),
            "statuses": Ticket.Status.choices,
            "priorities": TicketPriority.choices,
            "agents": actions.agents().order_by("username"),
            "error": error,
            **tools_views.ticket_context(request, ticket, tools),
        },
        status=400 if error else tools.get("status", 200),
    )


@require_access("support", "read")
def attachment_download(request, ticket_id: int, attachment_id: int):
    """A ticket's file, always as a download of a type no browser renders as a page (nosniff)."""
    ticket = selectors.ticket_get(actor=request.actor, ticket_id=ticket_id)
    attachment = get_object_or_404(TicketAttachment, pk=attachment_id, message__ticket=ticket)
    try:
        handle = attachment.file.open("rb")
    except OSError:
        raise Http404(_("This file is no longer stored.")) from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=download_type(attachment)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
@require_access("support", "read")
def presence(request):
    if not request.actor.can("support", "write"):
        return _forbidden(request)
    try:
        actions.agent_presence_set(actor=request.actor, status=request.POST.get("status", ""))
    except KervanError as error:
        messages.error(request, error.detail)
    return redirect("support:ticket_list")
