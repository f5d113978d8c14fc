"""Campaigns: one message (a template on a channel) to the members of segments, now, at a time, or at the same local
time for each recipient; throttled, paused, resumed or cancelled mid-send; optionally an A/B test on a sample."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core.models import TimeStampedModel
from kervan.messaging.models import Channel, SenderIdentity, Template


class Campaign(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    class Winner(models.TextChoices):
        OPENS = "opens", _("Opens")
        CLICKS = "clicks", _("Clicks")
        REVENUE = "revenue", _("Revenue")

    name = models.CharField(_("name"), max_length=150)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="campaigns")
    sender = models.ForeignKey(SenderIdentity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    segments = models.ManyToManyField("segments.Segment", related_name="campaigns")
    excluded_segments = models.ManyToManyField("segments.Segment", blank=True, related_name="excluded_from_campaigns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # Send at send_at's wall-clock time in each recipient's own time zone (a 10:00 in Istanbul and in Berlin).
    local_time = models.BooleanField(_("at the same local time for everyone"), default=False)
    throttle_per_hour = models.PositiveIntegerField(_("at most per hour"), null=True, blank=True)
    # A/B: the sample that gets the variants (percent of the audience), the other template, how the winner is chosen
    # and when; the rest of the audience gets the winner.
    variant_template = models.ForeignKey(
        Template, null=True, blank=True, on_delete=models.PROTECT, related_name="variant_campaigns"
    )
    test_percent = models.PositiveSmallIntegerField(default=0)
    winner_by = models.CharField(max_length=8, choices=Winner.choices, default=Winner.OPENS)
    winner_after_hours = models.PositiveSmallIntegerField(default=4)
    winner = models.CharField(max_length=1, blank=True)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=5)
    queued_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def origin(self) -> str:
        """The outbox's name for this campaign's messages (kervan.messaging.models.Message.origin)."""
        return f"campaign:{self.pk}"
