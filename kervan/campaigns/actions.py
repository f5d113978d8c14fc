"""Every write of campaigns: create, schedule or send now, pause, resume, cancel; the start that queues the audience
(at send time, so the segments are as they are then), and the A/B winner.

The audience is evaluated when the campaign starts, not when it is scheduled; each message is still checked against
the policy when it goes (kervan.messaging.sending), so a consent withdrawn between the two is honoured.
"""

import datetime as dt
import random
import zoneinfo

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.campaigns import tasks as campaign_tasks
from kervan.campaigns.models import Campaign
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import KervanError
from kervan.core.queue import enqueue_on_commit
from kervan.customers.models import Customer
from kervan.messaging import tasks as messaging_tasks
from kervan.messaging.actions import messages_enqueue
from kervan.messaging.models import Message, SenderIdentity, Template
from kervan.messaging.rendering import TemplateProblem, compile_template
from kervan.segments.models import Segment, SegmentMembership

EARLIEST_OFFSET = dt.timedelta(hours=14)  # UTC+14 (Kiribati): the first place a local-time send is due


def audience(campaign: Campaign) -> QuerySet[Customer]:
    """The customers in any of the campaign's segments and in none of its excluded ones (merged profiles never).

    The segments are read first, so the members are one uncorrelated set (hashed by PostgreSQL) rather than a join
    to the campaign's segments repeated for each of a million customers."""
    included = list(campaign.segments.values_list("pk", flat=True))
    excluded = list(campaign.excluded_segments.values_list("pk", flat=True))
    members = SegmentMembership.objects.filter(segment_id__in=included).values("customer_id")
    customers = Customer.objects.filter(pk__in=members, merged_into__isnull=True)
    if excluded:
        customers = customers.exclude(
            pk__in=SegmentMembership.objects.filter(segment_id__in=excluded).values("customer_id")
        )
    return customers


def campaign_save(
    *,
    actor: Actor,
    name: str,
    template: Template,
    segments: list[Segment],
    excluded_segments: list[Segment] | None = None,
    sender: SenderIdentity | None = None,
    throttle_per_hour: int | None = None,
    variant_template: Template | None = None,
    test_percent: int = 0,
    winner_by: str = Campaign.Winner.OPENS,
    winner_after_hours: int = 4,
    attribution_days: int | None = None,
    campaign: Campaign | None = None,
) -> Campaign:
    """Create or change a draft. Refused, with nothing saved: no name, no segment, a template that does not render,
    a sender or variant of another channel, an A/B sample outside 1-50 %."""
    actor.require("campaigns", "write")
    if campaign is not None and campaign.status != Campaign.Status.DRAFT:
        raise KervanError(_("Only a draft can be changed."), "not_draft", status=409)
    if not name.strip():
        raise KervanError(_("A campaign needs a name."), field="name")
    if not segments:
        raise KervanError(_("Choose at least one segment or list to send to."), "no_audience", field="segments")
    _check_template(template)
    if sender is not None and sender.channel != template.channel:
        raise KervanError(_("The sender is for another channel than the template."), field="sender")
    if variant_template is not None:
        if variant_template.channel != template.channel:
            raise KervanError(_("Both versions of an A/B test must be on one channel."), field="variant_template")
        _check_template(variant_template)
        if not 1 <= test_percent <= 50:
            raise KervanError(_("The test sample is 1 to 50 percent of the audience."), field="test_percent")
    if throttle_per_hour is not None and throttle_per_hour < 1:
        raise KervanError(_("A throttle sends at least one message an hour."), field="throttle_per_hour")
    with transaction.atomic():
        created = campaign is None
        campaign = campaign or Campaign(created_by_id=actor.user_id)
        campaign.name, campaign.channel, campaign.template = name.strip(), template.channel, template
        campaign.sender, campaign.throttle_per_hour = sender, throttle_per_hour
        campaign.variant_template = variant_template
        campaign.test_percent = test_percent if variant_template else 0
        campaign.winner_by, campaign.winner_after_hours = winner_by, winner_after_hours
        campaign.attribution_days = attribution_days or (1 if template.channel == "sms" else 5)
        campaign.save()
        campaign.segments.set(segments)
        campaign.excluded_segments.set(excluded_segments or [])
        audit(actor=actor, action="create" if created else "update", obj=campaign, changes={"name": campaign.name})
    return campaign


def campaign_schedule(
    *, actor: Actor, campaign: Campaign, send_at: dt.datetime | None = None, local_time: bool = False
) -> Campaign:
    """Send now (send_at None) or at send_at; with local_time, at send_at's wall-clock time in each recipient's zone.
    Refused: not a draft, a time in the past, an audience of nobody."""
    actor.require("campaigns", "write")
    now = clock.now()
    if campaign.status != Campaign.Status.DRAFT:
        raise KervanError(_("This campaign has already been scheduled or sent."), "not_draft", status=409)
    if send_at is not None and send_at.tzinfo is None:
        raise KervanError(_("Give the time with its time zone."), field="send_at")
    if send_at is not None and send_at < now - dt.timedelta(minutes=1) and not local_time:
        raise KervanError(_("The time to send is in the past."), "in_the_past", field="send_at")
    if not audience(campaign).exists():
        raise KervanError(_("Nobody is in the audience: nothing would be sent."), "empty_audience")
    campaign.send_at, campaign.local_time = send_at or now, local_time
    campaign.status = Campaign.Status.SCHEDULED
    campaign.save(update_fields=["send_at", "local_time", "status", "updated_at"])
    audit(actor=actor, action="update", obj=campaign, changes={"status": "scheduled", "send_at": campaign.send_at})
    if campaign.send_at <= now:
        enqueue_on_commit(campaign_tasks.campaign_start_task, campaign.pk)
    return campaign


def campaign_start(*, campaign_id: int) -> int:
    """Queue the audience of a scheduled campaign whose time has come (idempotent: messages are unique per
    campaign and customer, and only a scheduled campaign starts). Returns how many were queued."""
    now = clock.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.SCHEDULED or campaign.send_at is None:
            return 0
        start_at = campaign.send_at - EARLIEST_OFFSET if campaign.local_time else campaign.send_at
        if start_at > now:
            return 0
        customers = list(audience(campaign).values_list("pk", "time_zone"))
        random.Random(campaign.pk).shuffle(customers)  # the A/B sample and a throttle's order are not the id order
        due = _due_times(campaign, customers, now)
        queued = 0
        if campaign.variant_template_id and campaign.test_percent:
            sample = customers[: max(2, len(customers) * campaign.test_percent // 100)]
            half = len(sample) // 2
            for variant, template, part in (
                ("A", campaign.template, sample[:half]),
                ("B", campaign.variant_template, sample[half:]),
            ):
                queued += _enqueue(campaign, template, [c for c, _ in part], due, variant=variant)
        else:
            queued = _enqueue(campaign, campaign.template, [c for c, _ in customers], due)
        campaign.status, campaign.started_at = Campaign.Status.SENDING, now
        campaign.queued_count = queued
        campaign.save(update_fields=["status", "started_at", "queued_count", "updated_at"])
    return queued


def campaign_pick_winner(*, campaign_id: int) -> str:
    """After the A/B test's time: the variant with more opens / clicks / revenue per message sent wins (A on a tie)
    and the rest of the audience is queued with it. Returns the winner ("" if it is not time yet)."""
    from kervan.campaigns.selectors import campaign_report

    now = clock.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.winner or not campaign.variant_template_id or campaign.started_at is None:
            return ""
        if campaign.status not in (Campaign.Status.SENDING, Campaign.Status.PAUSED):
            return ""
        if now < campaign.started_at + dt.timedelta(hours=campaign.winner_after_hours):
            return ""
        report = campaign_report(campaign)
        score = {v["variant"]: v[f"{campaign.winner_by}_per_sent"] for v in report["variants"]}
        winner = "B" if score.get("B", 0) > score.get("A", 0) else "A"
        template = campaign.variant_template if winner == "B" else campaign.template
        rest = list(audience(campaign).exclude(messages__origin=campaign.origin).values_list("pk", "time_zone"))
        queued = _enqueue(campaign, template, [c for c, _ in rest], _due_times(campaign, rest, now), variant=winner)
        campaign.winner = winner
        campaign.queued_count += queued
        campaign.save(update_fields=["winner", "queued_count", "updated_at"])
    return winner


def campaign_pause(*, actor: Actor, campaign: Campaign) -> int:
    """Stop sending: the messages not yet sent wait (no due time) until resumed. Returns how many were paused."""
    actor.require("campaigns", "write")
    if campaign.status not in (Campaign.Status.SENDING, Campaign.Status.SCHEDULED):
        raise KervanError(_("Only a campaign that is sending or scheduled can be paused."), "not_sending", status=409)
    with transaction.atomic():
        paused = _unsent(campaign).update(due_at=None)
        campaign.status = Campaign.Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
        audit(actor=actor, action="update", obj=campaign, changes={"status": "paused", "messages": paused})
    return paused


def campaign_resume(*, actor: Actor, campaign: Campaign) -> int:
    actor.require("campaigns", "write")
    if campaign.status != Campaign.Status.PAUSED:
        raise KervanError(_("Only a paused campaign can be resumed."), "not_paused", status=409)
    now = clock.now()
    with transaction.atomic():
        waiting = list(_unsent(campaign).values_list("pk", "customer__time_zone"))
        if campaign.started_at is None:  # paused before it started: it starts when it was meant to
            campaign.status = Campaign.Status.SCHEDULED
        else:
            campaign.status = Campaign.Status.SENDING
            due = _due_times(campaign, waiting, now, respect_send_at=False)
            for pk, at in due.items():
                Message.objects.filter(pk=pk).update(due_at=at)
        campaign.save(update_fields=["status", "updated_at"])
        audit(actor=actor, action="update", obj=campaign, changes={"status": campaign.status, "messages": len(waiting)})
    enqueue_on_commit(messaging_tasks.messages_send_task)
    return len(waiting)


def campaign_cancel(*, actor: Actor, campaign: Campaign) -> int:
    """Stop for good: what has not gone is cancelled. Returns how many."""
    actor.require("campaigns", "write")
    if campaign.status in (Campaign.Status.SENT, Campaign.Status.CANCELLED):
        raise KervanError(_("This campaign has finished."), "finished", status=409)
    with transaction.atomic():
        cancelled = _unsent(campaign).update(status=Message.Status.CANCELLED, due_at=None)
        campaign.status, campaign.finished_at = Campaign.Status.CANCELLED, clock.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
        audit(actor=actor, action="update", obj=campaign, changes={"status": "cancelled", "messages": cancelled})
    return cancelled


def campaigns_advance() -> int:
    """Every few seconds: start campaigns whose time has come, pick A/B winners whose time has come, and mark sent
    the campaigns with nothing left to send. Returns how many campaigns moved."""
    now = clock.now()
    moved = 0
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, send_at__lte=now + EARLIEST_OFFSET)
    for campaign_id in due.values_list("pk", flat=True):
        moved += bool(campaign_start(campaign_id=campaign_id))
    testing = Campaign.objects.filter(status=Campaign.Status.SENDING, winner="", variant_template__isnull=False)
    for campaign_id in testing.values_list("pk", flat=True):
        moved += bool(campaign_pick_winner(campaign_id=campaign_id))
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        waiting_for_winner = campaign.variant_template_id and not campaign.winner
        if not waiting_for_winner and not _unsent(campaign).exists():
            Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
                status=Campaign.Status.SENT, finished_at=now
            )
            moved += 1
    return moved


def _unsent(campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(
        Q(status=Message.Status.QUEUED) | Q(status=Message.Status.HELD), origin=campaign.origin
    )


def _enqueue(campaign: Campaign, template: Template, ids: list[int], due: dict, variant: str = "") -> int:
    queued = messages_enqueue(
        origin=campaign.origin,
        customer_ids=ids,
        channel=campaign.channel,
        purpose=template.purpose,
        template=template,
        sender=campaign.sender,
        variant=variant,
        due_for=due,
    )
    enqueue_on_commit(messaging_tasks.messages_send_task)
    return queued


def _due_times(
    campaign: Campaign, customers: list[tuple[int, str]], now: dt.datetime, *, respect_send_at: bool = True
) -> dict[int, dt.datetime]:
    """When each customer's message may go: the campaign's time (in their own zone for a local-time send), spread
    by the throttle (at most N an hour from the start)."""
    due: dict[int, dt.datetime] = {}
    base = max(campaign.send_at or now, now) if respect_send_at else now
    for i, (customer_id, time_zone) in enumerate(customers):
        at = base
        if campaign.local_time and campaign.send_at is not None and respect_send_at:
            at = max(_local(campaign.send_at, time_zone), now)
        if campaign.throttle_per_hour:
            at = max(at, now + dt.timedelta(seconds=3600 * i / campaign.throttle_per_hour))
        due[customer_id] = at
    return due


def _local(send_at: dt.datetime, time_zone: str) -> dt.datetime:
    """send_at's wall-clock time (as the shop gave it, in the shop's zone) in `time_zone`."""
    shop = send_at.astimezone(zoneinfo.ZoneInfo("Europe/Istanbul"))
    try:
        zone = zoneinfo.ZoneInfo(time_zone or "Europe/Istanbul")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("Europe/Istanbul")
    return shop.replace(tzinfo=zone).astimezone(dt.UTC)


def _check_template(template: Template) -> None:
    try:
        compile_template(template)
    except TemplateProblem as problem:
        raise KervanError(str(problem), "template_invalid", field="template") from problem
