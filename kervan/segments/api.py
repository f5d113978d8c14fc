"""/api/v1/segments: CRUD, members (cursor), rebuild, and /preview (the count of a posted definition)."""

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status

from kervan.core.api import ERRORS
from kervan.core.pagination import paginate
from kervan.customers.models import Customer
from kervan.segments import actions, selectors
from kervan.segments.models import Segment

router = Router(tags=["segments"])


class SegmentIn(Schema):
    name: str
    kind: str = "dynamic"
    definition: dict[str, Any] | None = None


class SegmentPatch(Schema):
    name: str | None = None
    definition: dict[str, Any] | None = None


class SegmentOut(Schema):
    id: int
    name: str
    kind: str
    definition: dict[str, Any]
    relative: bool
    member_count: int
    rebuilt_at: dt.datetime | None
    updated_at: dt.datetime


class SegmentList(Schema):
    items: list[SegmentOut]


class PreviewIn(Schema):
    definition: dict[str, Any]
    segment_id: int | None = None


class PreviewOut(Schema):
    count: int
    sample: list[int]


class MembersQuery(Schema):
    cursor: str | None = None
    limit: int = 50


class MemberOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    city: str


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class RebuildOut(Schema):
    entered: int
    exited: int
    members: int


def segment_out(s: Segment) -> dict:
    return {
        "id": s.pk,
        "name": s.name,
        "kind": s.kind,
        "definition": s.definition,
        "relative": s.relative,
        "member_count": s.member_count,
        "rebuilt_at": s.rebuilt_at,
        "updated_at": s.updated_at,
    }


@router.get("", response={200: SegmentList, **ERRORS}, summary="List segments")
def list_segments(request):
    return {"items": [segment_out(s) for s in selectors.segment_list(actor=request.auth)]}


@router.post("", response={201: SegmentOut, **ERRORS}, summary="Create a segment")
def create_segment(request, payload: SegmentIn):
    """An invalid definition is refused (400) with `field` naming the offending part, e.g. "conditions[1].value"."""
    segment = actions.segment_create(
        actor=request.auth, name=payload.name, kind=payload.kind, definition=payload.definition
    )
    if segment.kind == Segment.Kind.DYNAMIC:
        actions.segment_rebuild(segment=segment)
        segment.refresh_from_db()
    return Status(201, segment_out(segment))


@router.post("/preview", response={200: PreviewOut, **ERRORS}, summary="Count the customers a definition matches")
def preview(request, payload: PreviewIn):
    result = selectors.segment_preview(actor=request.auth, definition=payload.definition, segment_id=payload.segment_id)
    return {"count": result.count, "sample": [c.pk for c in result.sample]}


@router.get("/{segment_id}", response={200: SegmentOut, **ERRORS}, summary="One segment")
def get_segment(request, segment_id: int):
    return segment_out(selectors.segment_get(actor=request.auth, segment_id=segment_id))


@router.patch("/{segment_id}", response={200: SegmentOut, **ERRORS}, summary="Change a segment")
def update_segment(request, segment_id: int, payload: SegmentPatch):
    request.auth.require("segments", "write")
    segment = selectors.segment_get(actor=request.auth, segment_id=segment_id)
    segment = actions.segment_update(
        actor=request.auth, segment=segment, name=payload.name, definition=payload.definition
    )
    if payload.definition is not None:
        actions.segment_rebuild(segment=segment)
        segment.refresh_from_db()
    return segment_out(segment)


@router.delete("/{segment_id}", response={204: None, **ERRORS}, summary="Delete a segment")
def delete_segment(request, segment_id: int):
    request.auth.require("segments", "write")
    actions.segment_delete(actor=request.auth, segment=selectors.segment_get(actor=request.auth, segment_id=segment_id))
    return Status(204, None)


@router.post("/{segment_id}/rebuild", response={200: RebuildOut, **ERRORS}, summary="Rebuild now")
def rebuild_segment(request, segment_id: int):
    request.auth.require("segments", "write")
    segment = selectors.segment_get(actor=request.auth, segment_id=segment_id)
    result = actions.segment_rebuild_now(actor=request.auth, segment=segment)
    return {"entered": len(result.entered), "exited": len(result.exited), "members": result.members}


@router.get("/{segment_id}/members", response={200: MemberPage, **ERRORS}, summary="A segment's members")
def members(request, segment_id: int, query: Query[MembersQuery]):
    segment = selectors.segment_get(actor=request.auth, segment_id=segment_id)
    qs = request.auth.scope("customers", Customer.objects.active()).filter(segment_memberships__segment=segment)
    page = paginate(qs, order="-id", cursor=query.cursor, limit=query.limit)
    return {
        "items": [
            {"id": c.pk, "first_name": c.first_name, "last_name": c.last_name, "email": c.email, "city": c.city}
            for c in page.items
        ],
        "next_cursor": page.next_cursor,
    }
