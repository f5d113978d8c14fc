"""/api/v1/support/tickets: list (the list page's filters, cursor-paginated), create (channel "api"), one ticket with
its conversation, reply and status. Included in the support router (kervan.support.api)."""

import datetime as dt
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status

from kervan.core.api import ERRORS, Id, InputSchema
from kervan.core.pagination import paginate
from kervan.customers.selectors import customer_get
from kervan.support import ticket_actions as actions
from kervan.support import ticket_selectors as selectors
from kervan.support.models import Ticket

router = Router(tags=["support"])

TicketStatusName = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
TicketPriorityName = Literal["low", "normal", "high", "urgent"]


class TicketOut(Schema):
    id: int
    number: str
    subject: str
    status: str
    priority: str
    channel: str
    customer_id: int | None
    requester_email: str
    order_id: int | None
    assignee_id: int | None
    tags: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    first_responded_at: dt.datetime | None
    solved_at: dt.datetime | None
    closed_at: dt.datetime | None
    first_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    breached_first_response: bool
    breached_resolution: bool
    sla_state: str  # ok, at_risk, breached, paused or done (kervan.support.ticket_selectors.Timer)
    merged_into_id: int | None


class TicketAttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int


class TicketMessageOut(Schema):
    id: int
    direction: str
    body: str
    author_user_id: int | None
    author_customer_id: int | None
    created_at: dt.datetime
    delivery: str  # a reply's email: "" (not emailed), queued, sent or failed (with delivery_error)
    delivery_error: str
    attachments: list[TicketAttachmentOut]

    @staticmethod
    def resolve_attachments(message) -> list:
        return list(message.attachments.all())


class TicketDetailOut(TicketOut):
    custom_fields: dict[str, Any]
    messages: list[TicketMessageOut]


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class TicketQuery(Schema):
    status: str = Field("", max_length=20, description="A status, or 'active' (every status but solved and closed).")
    priority: str = Field("", max_length=20)
    assignee: str = Field("", max_length=20, description="A user id, or 'none'.")
    sla: str = Field("", max_length=20, description="'breached' or 'at_risk'.")
    customer_id: Id | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int = 50


class TicketIn(InputSchema):
    subject: str = Field(..., max_length=actions.SUBJECT_MAX)
    body: str = Field(..., max_length=actions.BODY_MAX)
    customer_id: Id | None = None
    requester_email: str = Field("", max_length=254)
    requester_name: str = Field("", max_length=actions.NAME_MAX)
    priority: TicketPriorityName = "normal"
    tags: list[str] = Field(default_factory=list, max_length=actions.TAGS_MAX)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    order_id: Id | None = None
    assignee_id: Id | None = None


class TicketReplyIn(InputSchema):
    body: str = Field(..., max_length=actions.BODY_MAX)
    status: TicketStatusName | None = None


class TicketStatusIn(InputSchema):
    status: TicketStatusName


def _out(ticket: Ticket) -> dict:
    return {
        **{field: getattr(ticket, field) for field in TicketOut.model_fields if hasattr(ticket, field)},
        "sla_state": selectors.sla_timer(ticket).state,
    }


def _detail(ticket: Ticket) -> dict:
    return {
        **_out(ticket),
        "custom_fields": ticket.custom_fields,
        "messages": list(selectors.ticket_messages(ticket).prefetch_related("attachments")),
    }


@router.get("/tickets", response={200: TicketPage, **ERRORS}, summary="List tickets")
def list_tickets(request, query: Query[TicketQuery]):
    rows = selectors.ticket_list(
        actor=request.auth,
        status=query.status,
        priority=query.priority,
        assignee=query.assignee,
        sla=query.sla,
        customer_id=query.customer_id,
    )
    page = paginate(rows, order="-created_at", cursor=query.cursor, limit=query.limit)
    return {"items": [_out(t) for t in page.items], "next_cursor": page.next_cursor}


@router.post("/tickets", response={201: TicketDetailOut, **ERRORS}, summary="Create a ticket")
def create_ticket(request, payload: TicketIn):
    """A ticket from another system (channel "api"): for a customer, or for an email address (linked to the
    customer who has it, when there is one)."""
    request.auth.require("support", "write")
    data = payload.dict()
    customer_id = data.pop("customer_id")
    customer = customer_get(actor=request.auth, customer_id=customer_id) if customer_id else None
    ticket = actions.ticket_create(actor=request.auth, channel=Ticket.Channel.API, customer=customer, **data)
    return Status(201, _detail(ticket))


@router.get("/tickets/{int:ticket_id}", response={200: TicketDetailOut, **ERRORS}, summary="One ticket")
def get_ticket(request, ticket_id: int):
    return _detail(selectors.ticket_get(actor=request.auth, ticket_id=ticket_id))


@router.post("/tickets/{int:ticket_id}/reply", response={201: TicketDetailOut, **ERRORS}, summary="Reply")
def reply_ticket(request, ticket_id: int, payload: TicketReplyIn):
    """A reply to the customer (the first one is the ticket's first response); `status` then, e.g. pending."""
    request.auth.require("support", "write")
    ticket = selectors.ticket_get(actor=request.auth, ticket_id=ticket_id)
    actions.ticket_reply(actor=request.auth, ticket=ticket, body=payload.body, status=payload.status or "")
    return Status(201, _detail(ticket))


@router.post("/tickets/{int:ticket_id}/status", response={200: TicketDetailOut, **ERRORS}, summary="Set status")
def set_ticket_status(request, ticket_id: int, payload: TicketStatusIn):
    request.auth.require("support", "write")
    ticket = selectors.ticket_get(actor=request.auth, ticket_id=ticket_id)
    actions.ticket_set_status(actor=request.auth, ticket=ticket, status=payload.status)
    return _detail(ticket)
