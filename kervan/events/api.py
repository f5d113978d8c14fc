"""/api/v1/events: track, identify, batch (API keys with events:write) and the event list (events:read)."""

from ninja import Field, Query, Router, Schema, Status

from kervan.core.api import ERRORS, DateTimeIn
from kervan.events import actions, selectors
from kervan.events.schemas import (
    MAX_ID,
    BatchIn,
    EventPage,
    IdentifyIn,
    IdentifyOut,
    IngestOut,
    TrackIn,
)

router = Router(tags=["events"])

# A batch over the size limit is refused with 413 before its items are read.
WRITE_ERRORS = {**ERRORS, 413: ERRORS[400]}


@router.post("/track", response={202: IngestOut, **ERRORS}, summary="Record one event")
def track(request, payload: TrackIn):
    """Store one event. Re-sending the same `event_id` (from the same `source`) stores nothing new."""
    actor = request.auth
    actor.require("events", "write")
    result = actions.events_ingest(actor=actor, items=[payload], batched=False)
    return Status(202, result)


@router.post("/identify", response={200: IdentifyOut, **ERRORS}, summary="Identify a visitor or customer")
def identify(request, payload: IdentifyIn):
    """Find or create the customer behind these identifiers, update traits, and join the anonymous visitor's
    earlier events to the profile."""
    actor = request.auth
    actor.require("events", "write")
    customer, created = actions.events_identify(actor=actor, item=payload)
    return Status(200, {"customer_id": customer.pk, "created": created})


@router.post("/batch", response={202: IngestOut, **WRITE_ERRORS}, summary="Record a batch of track/identify calls")
def batch(request, payload: BatchIn):
    """Up to KERVAN_EVENT_BATCH_MAX (1,000) items, each {"type": "track" | "identify", ...}. All or nothing: one
    bad item refuses the batch (the detail names its index). Identify items are applied before track items."""
    actor = request.auth
    actor.require("events", "write")
    return Status(202, actions.events_ingest(actor=actor, items=payload.batch))


class EventFilters(Schema):
    customer_id: int | None = Field(None, ge=1, le=MAX_ID)
    name: str = Field("", max_length=100, pattern=r"^[^\x00]*$")
    since: DateTimeIn | None = None
    until: DateTimeIn | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


@router.get("/", response={200: EventPage, **ERRORS}, summary="List events")
def event_list(request, filters: Query[EventFilters]):
    """Newest first (by occurred_at). Pass `next_cursor` back as `cursor` for the next page."""
    page = selectors.events_page(
        actor=request.auth,
        customer_id=filters.customer_id,
        name=filters.name,
        since=filters.since,
        until=filters.until,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return Status(200, {"items": [_event_out(e) for e in page.items], "next_cursor": page.next_cursor})


def _event_out(event) -> dict:
    return {
        "id": event.pk,
        "name": event.name,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "customer_id": event.customer_id,
        "anonymous_id": event.anonymous_id,
        "properties": event.properties,
        "source": event.source.key if event.source_id else None,
    }
