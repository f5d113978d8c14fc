"""What Kervan sends out: webhook endpoints and their deliveries (an outbox), and scheduled exports for ERP and
accounting systems."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core import crypto
from kervan.core.models import DueWork, TimeStampedModel


class WebhookEndpoint(TimeStampedModel):
    """A URL of another system that receives the events it chose, signed with its own secret."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # event names (kervan.core.outgoing)
    # The HMAC key, encrypted at rest (kervan.core.crypto: it must be read back to sign with); the pages show it
    # once, on creation and rotation, and a hint (its first characters) after that.
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["url", "pk"]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret(self) -> str:
        return crypto.decrypt_text(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt_text(value)

    @property
    def secret_hint(self) -> str:
        return self.secret[:10] + "…"


class WebhookDelivery(DueWork, TimeStampedModel):
    """One event for one endpoint: due until it is delivered, failed (the receiver refused it), or dead (it never
    answered after every attempt). Unique per endpoint and event id, so an event emitted twice is sent once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        DEAD = "dead", _("Gave up")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    event_id = models.CharField(max_length=200)
    payload = models.JSONField()  # the whole body as sent: {"id", "event", "created_at", "data"}
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)  # the start of the receiver's last answer
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replays = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="outbound_delivery_once")]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="outbound_delivery_log_idx")]
        ordering = ["-created_at", "-pk"]


class ExportSchedule(DueWork, TimeStampedModel):
    """A file of orders or customers, in the columns and titles the user chose, downloaded from the page or mailed
    on a schedule. `due_at` is the next scheduled run (None while inactive)."""

    class Kind(models.TextChoices):
        ORDERS = "orders", _("Orders")
        CUSTOMERS = "customers", _("Customers")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Period(models.TextChoices):
        LAST_DAY = "last_day", _("The previous day")
        LAST_WEEK = "last_week", _("The previous 7 days")
        LAST_MONTH = "last_month", _("The previous calendar month")
        SINCE_LAST_RUN = "since_last_run", _("Since the last run")

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    format = models.CharField(max_length=5, choices=Format.choices, default=Format.CSV)
    columns = models.JSONField(default=list)  # [{"field": "number", "title": "Sipariş no"}], in file order
    period = models.CharField(max_length=16, choices=Period.choices, default=Period.LAST_DAY)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    at_time = models.TimeField(default=dt.time(6, 0))  # wall-clock time in `time_zone`
    weekday = models.PositiveSmallIntegerField(default=0)  # weekly: 0 Monday … 6 Sunday
    day_of_month = models.PositiveSmallIntegerField(default=1)  # monthly: 1–31, the month's last day if shorter
    time_zone = models.CharField(max_length=64, default="Europe/Istanbul")
    recipients = models.JSONField(default=list)  # email addresses
    active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_until = models.DateTimeField(null=True, blank=True)  # end of the last mailed period (since_last_run)
    last_run_rows = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name
