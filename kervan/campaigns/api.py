"""/api/v1/campaigns: create, the real audience, send now or schedule, pause, resume, cancel, the report."""

import datetime as dt
from typing import Any

from ninja import Router, Schema, Status

from kervan.campaigns import actions, selectors
from kervan.campaigns.models import Campaign
from kervan.core.api import ERRORS
from kervan.core.errors import KervanError, NotFound
from kervan.messaging.models import SenderIdentity, Template
from kervan.segments.models import Segment

router = Router(tags=["campaigns"])


class CampaignIn(Schema):
    name: str
    template_id: int
    segment_ids: list[int]
    excluded_segment_ids: list[int] = []
    sender_id: int | None = None
    throttle_per_hour: int | None = None
    variant_template_id: int | None = None
    test_percent: int = 0
    winner_by: str = "opens"
    winner_after_hours: int = 4
    attribution_days: int | None = None


class ScheduleIn(Schema):
    send_at: dt.datetime | None = None
    local_time: bool = False


class CampaignOut(Schema):
    id: int
    name: str
    channel: str
    status: str
    template_id: int
    segment_ids: list[int]
    excluded_segment_ids: list[int]
    send_at: dt.datetime | None
    local_time: bool
    queued_count: int
    winner: str


def _out(c: Campaign) -> dict:
    return {
        "id": c.pk,
        "name": c.name,
        "channel": c.channel,
        "status": c.status,
        "template_id": c.template_id,
        "segment_ids": sorted(c.segments.values_list("pk", flat=True)),
        "excluded_segment_ids": sorted(c.excluded_segments.values_list("pk", flat=True)),
        "send_at": c.send_at,
        "local_time": c.local_time,
        "queued_count": c.queued_count,
        "winner": c.winner,
    }


def _campaign(request, campaign_id: int) -> Campaign:
    request.auth.require("campaigns", "read")
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.", "not_found")
    return campaign


def _one(model, pk: int | None, field: str):  # noqa: ANN001, ANN202 - a model class and its row
    if pk is None:
        return None
    row = model.objects.filter(pk=pk).first()
    if row is None:
        raise KervanError(f"No such {field.removesuffix('_id').replace('_', ' ')}: {pk}.", "not_found", field=field)
    return row


def _segments(ids: list[int], field: str) -> list[Segment]:
    found = list(Segment.objects.filter(pk__in=ids))
    missing = set(ids) - {s.pk for s in found}
    if missing:
        raise KervanError(f"No such segment: {sorted(missing)}.", "not_found", field=field)
    return found


@router.get("", response={200: list[CampaignOut], **ERRORS}, summary="List campaigns")
def list_campaigns(request):
    request.auth.require("campaigns", "read")
    return [_out(c) for c in Campaign.objects.all()[:500]]


@router.post("", response={201: CampaignOut, **ERRORS}, summary="Create a draft campaign")
def create_campaign(request, payload: CampaignIn):
    request.auth.require("campaigns", "write")
    campaign = actions.campaign_save(
        actor=request.auth,
        name=payload.name,
        template=_one(Template, payload.template_id, "template_id"),
        segments=_segments(payload.segment_ids, "segment_ids"),
        excluded_segments=_segments(payload.excluded_segment_ids, "excluded_segment_ids"),
        sender=_one(SenderIdentity, payload.sender_id, "sender_id"),
        throttle_per_hour=payload.throttle_per_hour,
        variant_template=_one(Template, payload.variant_template_id, "variant_template_id"),
        test_percent=payload.test_percent,
        winner_by=payload.winner_by,
        winner_after_hours=payload.winner_after_hours,
        attribution_days=payload.attribution_days,
    )
    return Status(201, _out(campaign))


@router.get("/{campaign_id}", response={200: CampaignOut, **ERRORS}, summary="One campaign")
def get_campaign(request, campaign_id: int):
    return _out(_campaign(request, campaign_id))


@router.get("/{campaign_id}/audience", response={200: dict[str, Any], **ERRORS}, summary="Who it would reach")
def campaign_audience(request, campaign_id: int):
    """How many the campaign reaches after consent, suppression and frequency caps, and how many each excludes."""
    return selectors.audience_preview(_campaign(request, campaign_id))


@router.get("/{campaign_id}/report", response={200: dict[str, Any], **ERRORS}, summary="Counts, rates, revenue")
def campaign_report(request, campaign_id: int):
    report = selectors.campaign_report(_campaign(request, campaign_id))
    report["revenue"] = str(report["revenue"])
    for variant in report["variants"]:
        variant["revenue"] = str(variant["revenue"])
    return report


@router.post("/{campaign_id}/schedule", response={200: CampaignOut, **ERRORS}, summary="Send now or at a time")
def schedule_campaign(request, campaign_id: int, payload: ScheduleIn):
    campaign = actions.campaign_schedule(
        actor=request.auth,
        campaign=_campaign(request, campaign_id),
        send_at=payload.send_at,
        local_time=payload.local_time,
    )
    return _out(campaign)


@router.post("/{campaign_id}/pause", response={200: CampaignOut, **ERRORS}, summary="Pause sending")
def pause_campaign(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    actions.campaign_pause(actor=request.auth, campaign=campaign)
    return _out(campaign)


@router.post("/{campaign_id}/resume", response={200: CampaignOut, **ERRORS}, summary="Resume sending")
def resume_campaign(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    actions.campaign_resume(actor=request.auth, campaign=campaign)
    return _out(campaign)


@router.post("/{campaign_id}/cancel", response={200: CampaignOut, **ERRORS}, summary="Cancel what has not gone")
def cancel_campaign(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    actions.campaign_cancel(actor=request.auth, campaign=campaign)
    return _out(campaign)
