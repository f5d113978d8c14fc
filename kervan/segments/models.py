from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core.models import DueWork


class Segment(models.Model):
    """A named group of customers: `definition` (kervan.segments.definition) for a dynamic segment, kept materialised
    in SegmentMembership; a static list holds the members it was given (a selection, a CSV of emails)."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic")
        STATIC = "static", _("Static list")

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    definition = models.JSONField(default=dict, blank=True)
    # Whether a condition is relative to now ("ordered in the last 30 days"): membership moves with the clock.
    relative = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    member_count = models.PositiveIntegerField(default=0)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    # For a segment relative to now: the time up to which the clock's moves are applied (kervan.segments.freshness).
    moved_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")]
        indexes = [models.Index(fields=["customer", "segment"], name="segment_member_customer_idx")]


class SegmentChange(models.Model):
    """History: a customer entered or left a segment."""

    class Kind(models.TextChoices):
        ENTERED = "entered", _("Entered")
        EXITED = "exited", _("Exited")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["segment", "-at"], name="segment_change_time_idx"),
            models.Index(fields=["customer", "-at"], name="segment_change_customer_idx"),
        ]


class SegmentTouch(DueWork):
    """A customer whose data changed (an order, an event, a profile edit), waiting for the worker to re-evaluate them
    in every dynamic segment (kervan.segments.freshness). One row per customer, claimed in batches (kervan.core.claim);
    a touch that arrives while the row is being worked on moves `touched_at`, so the row is kept for another pass."""

    customer_id = models.BigIntegerField(unique=True)
    touched_at = models.DateTimeField()
    # All that changed is new events (the firehose): only segments that read events need to look again.
    events_only = models.BooleanField(default=False)
