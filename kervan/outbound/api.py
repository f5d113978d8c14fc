"""/api/v1/outbound: webhook endpoints (list, create, read, change, delete, rotate the secret, send a test), their
delivery log, replay, and the events an endpoint may choose. The "outbound" area: read to list, write to change."""

import datetime as dt
from typing import Any

from ninja import Router, Schema, Status

from kervan.core.api import ERRORS, Id, InputSchema
from kervan.core.outgoing import outbound_events
from kervan.outbound import actions, selectors
from kervan.outbound.models import WebhookDelivery, WebhookEndpoint

router = Router(tags=["outbound"])


class WebhookEndpointIn(InputSchema):
    url: str
    events: list[str]
    description: str = ""
    active: bool = True


class WebhookEndpointPatchIn(InputSchema):
    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    active: bool | None = None


class WebhookEndpointOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    secret_hint: str
    created_at: dt.datetime


class WebhookEndpointSecretOut(WebhookEndpointOut):
    secret: str  # only in the answer to a create or a rotation


class WebhookDeliveryOut(Schema):
    id: int
    endpoint_id: int
    event: str
    event_id: str
    status: str
    attempts: int
    replays: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_response: str
    last_error: str
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    payload: dict[str, Any]


class OutboundEventOut(Schema):
    name: str
    label: str


def _endpoint(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    out = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
        "secret_hint": endpoint.secret_hint,
        "created_at": endpoint.created_at,
    }
    return {**out, "secret": endpoint.secret} if secret else out


def _delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.pk,
        "endpoint_id": d.endpoint_id,
        "event": d.event,
        "event_id": d.event_id,
        "status": d.status,
        "attempts": d.attempts,
        "replays": d.replays,
        "next_attempt_at": d.due_at if d.status == WebhookDelivery.Status.PENDING else None,
        "last_attempt_at": d.last_attempt_at,
        "last_status_code": d.last_status_code,
        "last_response": d.last_response,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
        "payload": d.payload,
    }


@router.get("/events", response={200: list[OutboundEventOut], **ERRORS}, summary="Events an endpoint may choose")
def list_events(request):
    request.auth.require("outbound", "read")
    return [{"name": e.name, "label": str(e.label)} for e in outbound_events()]


@router.get("/endpoints", response={200: list[WebhookEndpointOut], **ERRORS}, summary="List webhook endpoints")
def list_endpoints(request):
    return [_endpoint(e) for e in selectors.endpoint_list(actor=request.auth)[:500]]


@router.post("/endpoints", response={201: WebhookEndpointSecretOut, **ERRORS}, summary="Add a webhook endpoint")
def create_endpoint(request, payload: WebhookEndpointIn):
    """The answer holds the signing secret: the only time it is shown in full."""
    endpoint = actions.endpoint_create(actor=request.auth, **payload.dict())
    return Status(201, _endpoint(endpoint, secret=True))


@router.get("/endpoints/{endpoint_id}", response={200: WebhookEndpointOut, **ERRORS}, summary="One endpoint")
def get_endpoint(request, endpoint_id: Id):
    return _endpoint(selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id))


@router.patch("/endpoints/{endpoint_id}", response={200: WebhookEndpointOut, **ERRORS}, summary="Change an endpoint")
def update_endpoint(request, endpoint_id: Id, payload: WebhookEndpointPatchIn):
    endpoint = selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
    return _endpoint(actions.endpoint_update(actor=request.auth, endpoint=endpoint, **payload.dict(exclude_none=True)))


@router.delete("/endpoints/{endpoint_id}", response={204: None, **ERRORS}, summary="Delete an endpoint and its log")
def delete_endpoint(request, endpoint_id: Id):
    request.auth.require("outbound", "write")
    actions.endpoint_delete(
        actor=request.auth, endpoint=selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
    )
    return Status(204, None)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret", response={200: WebhookEndpointSecretOut, **ERRORS}, summary="New secret"
)
def rotate_secret(request, endpoint_id: Id):
    request.auth.require("outbound", "write")
    endpoint = selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
    return _endpoint(actions.endpoint_rotate_secret(actor=request.auth, endpoint=endpoint), secret=True)


@router.post("/endpoints/{endpoint_id}/test", response={200: WebhookDeliveryOut, **ERRORS}, summary="Send a test")
def send_test(request, endpoint_id: Id):
    request.auth.require("outbound", "write")
    endpoint = selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
    return _delivery(actions.endpoint_send_test(actor=request.auth, endpoint=endpoint))


@router.get("/deliveries", response={200: list[WebhookDeliveryOut], **ERRORS}, summary="The delivery log")
def list_deliveries(
    request, endpoint_id: Id | None = None, status: str = "", before_id: Id | None = None, limit: int = 100
):
    """Newest first; `before_id` (the last id of a page) reads the next page."""
    endpoint = selectors.endpoint_get(actor=request.auth, endpoint_id=endpoint_id) if endpoint_id else None
    rows = selectors.delivery_list(
        actor=request.auth, endpoint=endpoint, status=status, before_id=before_id, limit=limit
    )
    return [_delivery(d) for d in rows]


@router.get("/deliveries/{delivery_id}", response={200: WebhookDeliveryOut, **ERRORS}, summary="One delivery")
def get_delivery(request, delivery_id: Id):
    return _delivery(selectors.delivery_get(actor=request.auth, delivery_id=delivery_id))


@router.post("/deliveries/{delivery_id}/replay", response={200: WebhookDeliveryOut, **ERRORS}, summary="Send again")
def replay_delivery(request, delivery_id: Id):
    """The same body and event id, due now; tries counted afresh."""
    request.auth.require("outbound", "write")
    delivery = selectors.delivery_get(actor=request.auth, delivery_id=delivery_id)
    return _delivery(actions.delivery_replay(actor=request.auth, delivery=delivery))
