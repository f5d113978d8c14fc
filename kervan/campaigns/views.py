"""Campaign pages: the list, the form (audience, template, sender, throttle, A/B test), and a campaign's page (the real
audience before sending, send now or schedule, pause, resume, cancel, and the report)."""

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.campaigns import actions, selectors
from kervan.campaigns.models import Campaign
from kervan.core.errors import KervanError
from kervan.messaging.models import Message, SenderIdentity, Template
from kervan.segments.models import Segment

SHOP_ZONE = zoneinfo.ZoneInfo("Europe/Istanbul")


@require_access("campaigns", "read")
def campaign_list(request):
    campaigns = Campaign.objects.select_related("template").all()[:200]
    return render(request, "campaigns/list.html", {"campaigns": campaigns})


@require_access("campaigns", "read")
def campaign_form(request, campaign_id: int | None = None):
    campaign = get_object_or_404(Campaign, pk=campaign_id) if campaign_id else None
    error = None
    if request.method == "POST":
        request.actor.require("campaigns", "write")
        try:
            campaign = _save(request, campaign)
        except KervanError as exc:
            error = exc
        else:
            return redirect("campaigns:detail", campaign.pk)
    return render(
        request,
        "campaigns/form.html",
        {
            "campaign": campaign,
            "post": request.POST if request.method == "POST" else None,
            "templates": Template.objects.all(),
            "senders": SenderIdentity.objects.all(),
            "segments": Segment.objects.all(),
            "chosen": set(campaign.segments.values_list("pk", flat=True)) if campaign else set(),
            "excluded": set(campaign.excluded_segments.values_list("pk", flat=True)) if campaign else set(),
            "winners": Campaign.Winner.choices,
            "error": error,
        },
        status=400 if error else 200,
    )


def _number(raw: str | None, field: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise KervanError(_("Give a whole number."), field=field)
    return int(raw)


def _save(request, campaign: Campaign | None) -> Campaign:
    post = request.POST
    template = Template.objects.filter(pk=_number(post.get("template"), "template") or 0).first()
    if template is None:
        raise KervanError(_("Choose a template."), field="template")
    variant = Template.objects.filter(pk=_number(post.get("variant_template"), "variant_template") or 0).first()
    return actions.campaign_save(
        actor=request.actor,
        name=post.get("name", ""),
        template=template,
        segments=list(Segment.objects.filter(pk__in=post.getlist("segments"))),
        excluded_segments=list(Segment.objects.filter(pk__in=post.getlist("excluded_segments"))),
        sender=SenderIdentity.objects.filter(pk=_number(post.get("sender"), "sender") or 0).first(),
        throttle_per_hour=_number(post.get("throttle_per_hour"), "throttle_per_hour"),
        variant_template=variant,
        test_percent=_number(post.get("test_percent"), "test_percent") or 0,
        winner_by=post.get("winner_by") or Campaign.Winner.OPENS,
        winner_after_hours=_number(post.get("winner_after_hours"), "winner_after_hours") or 4,
        attribution_days=_number(post.get("attribution_days"), "attribution_days"),
        campaign=campaign,
    )


@require_access("campaigns", "read")
def campaign_detail(request, campaign_id: int):
    campaign = get_object_or_404(Campaign.objects.select_related("template", "sender"), pk=campaign_id)
    context = {
        "campaign": campaign,
        "report": selectors.campaign_report(campaign),
        "reasons": dict(Message.Skip.choices),
    }
    if campaign.status == Campaign.Status.DRAFT:
        context["preview"] = selectors.audience_preview(campaign)
    return render(request, "campaigns/detail.html", context)


@require_POST
@require_access("campaigns", "write")
def campaign_action(request, campaign_id: int, action: str):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        if action == "schedule":
            send_at = _send_at(request.POST.get("send_at", ""))
            actions.campaign_schedule(
                actor=request.actor, campaign=campaign, send_at=send_at, local_time=request.POST.get("local") == "on"
            )
            messages.success(request, _("Scheduled.") if send_at else _("Sending."))
        elif action == "pause":
            actions.campaign_pause(actor=request.actor, campaign=campaign)
            messages.success(request, _("Paused."))
        elif action == "resume":
            actions.campaign_resume(actor=request.actor, campaign=campaign)
            messages.success(request, _("Resumed."))
        elif action == "cancel":
            actions.campaign_cancel(actor=request.actor, campaign=campaign)
            messages.success(request, _("Cancelled."))
        else:
            raise KervanError(_("Unknown action."), status=404)
    except KervanError as exc:
        messages.error(request, exc.detail)
    return redirect("campaigns:detail", campaign.pk)


def _send_at(raw: str) -> dt.datetime | None:
    """A datetime-local field's value, in the shop's time zone; blank: now."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=SHOP_ZONE)
    except ValueError as exc:
        raise KervanError(_("Give the time as day, month, year and hour."), field="send_at") from exc
