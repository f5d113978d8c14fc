"""A connection to a store or payment platform, what it delivers to Kervan, and what Kervan pulls from it.

- Connection: one shop (or payment account) of one platform, with its own Source (so its customer ids and order
  ids are scoped to it, and the same person in two shops is one customer by identity resolution) and its
  credentials encrypted at rest (kervan.core.crypto).
- Delivery: a webhook as it arrived, stored before anything is read from it (kervan.integrations.intake), then
  processed by a worker (kervan.integrations.worker). The raw body stays for inspection and replay; a delivery that
  cannot be processed after its retries is "dead": the dead-letter list of the sync-health page.
- SyncState: the newest platform update time seen per object, so a retry or an out-of-order delivery is ignored.
- Backfill: a pull of a connection's history through the platform's API, resumable from its saved cursor.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core import crypto
from kervan.core.models import DueWork, TimeStampedModel


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    MAGENTO = "magento", "Magento 2"
    OPENCART = "opencart", "OpenCart"
    IYZICO = "iyzico", "iyzico"
    STRIPE = "stripe", "Stripe"


class Connection(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")

    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=120)
    source = models.OneToOneField("core.Source", on_delete=models.PROTECT, related_name="connection")
    # The store's address (https://shop.example.com, the myshopify domain, the API base): the clients call it.
    base_url = models.CharField(max_length=300, blank=True)
    # The secret part of the webhook address Kervan gives the platform: /integrations/hooks/<token>/.
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    credentials_encrypted = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    checked_at = models.DateTimeField(null=True, blank=True)
    # Incremental pulls (OpenCart's database): how far they have read, e.g. {"modified_since": "..."}.
    poll_cursor = models.JSONField(default=dict, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    poll_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.name}"

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json(value)

    @property
    def platform_impl(self):
        from kervan.integrations.platforms import platform_for

        return platform_for(self.platform)


class Delivery(DueWork):
    """One webhook delivery. Due while it waits to be processed (or retried); `due_at` None once done or dead."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Processed")
        IGNORED = "ignored", _("Ignored")  # a topic Kervan does not use, or an update older than what it has
        RETRYING = "retrying", _("Retrying")
        DEAD = "dead", _("Failed")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="deliveries")
    topic = models.CharField(max_length=100)
    # The platform's id of the delivery (Shopify's X-Shopify-Webhook-Id, Stripe's event id …), else a hash of the
    # body: the same delivery twice is stored once.
    delivery_id = models.CharField(max_length=200)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    received_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)  # what processing did: counts, the records' keys

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_id"], name="delivery_connection_id_unique")
        ]
        indexes = [models.Index(fields=["connection", "status", "-received_at"], name="delivery_health_idx")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


class SyncState(models.Model):
    """The platform's update time of the newest version of an object Kervan has applied."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)  # customer, order, product, checkout, consent
    external_id = models.CharField(max_length=200)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "kind", "external_id"], name="syncstate_object_unique")
        ]


# What a backfill reads, as the pages name it (the platforms' backfill_kinds).
BACKFILL_KINDS = {
    "customers": _("Customers"),
    "products": _("Products"),
    "orders": _("Orders"),
    "payments": _("Payments"),
}


def kind_label(kind: str) -> str:
    return str(BACKFILL_KINDS.get(kind, kind))


class Backfill(DueWork):
    """A pull of history: `kinds` in order (customers, products, orders …), each page's cursor saved as it is
    written, so a failure resumes at the page that failed and nothing is written twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="backfills")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    kinds = models.JSONField(default=list)
    kind = models.CharField(max_length=20, blank=True)  # the kind being read now
    cursor = models.JSONField(null=True, blank=True)  # the next page of `kind`
    counts = models.JSONField(default=dict, blank=True)  # {kind: {"read": n, "written": n, "unchanged": n, ...}}
    totals = models.JSONField(default=dict, blank=True)  # {kind: the platform's count, when it says}
    pages = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0)  # failures in a row; reset by a page that succeeds
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def progress_percent(self) -> int | None:
        """Share of the platform's announced totals read so far; None when the platform gives no counts."""
        if self.status == self.Status.DONE:
            return 100
        total = sum(self.totals.values()) if self.totals else 0
        if not total:
            return None
        read = sum(c.get("read", 0) for c in self.counts.values())
        return min(99, int(100 * read / total))
