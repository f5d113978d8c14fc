from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core.cache import customer_360


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# The sources Kervan creates for its own channels (kervan.core.sources, the tracker, the file import): key → (the
# stored English name, its translation for display).
KERVAN_CHANNEL_NAMES: dict[str, tuple[str, Any]] = {
    "api": ("API", _("API")),
    "manual": ("Manual entry", _("Manual entry")),
    "import": ("File import", _("File import")),
    "website": ("Website", _("Website")),
}


class Source(TimeStampedModel):
    """Where rows come from: a Shopify shop, a WooCommerce site, a marketplace account, a POS, an import.

    Every imported row keeps its source and the source's own id, so the same row arriving twice is recognised.
    """

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        TRACKER = "tracker", _("Website tracker")
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"
        MAGENTO = "magento", "Magento"
        OPENCART = "opencart", "OpenCart"
        MARKETPLACE = "marketplace", _("Marketplace")
        POS = "pos", _("Store POS")
        PAYMENTS = "payments", _("Payment provider")

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MANUAL)
    currency = models.CharField(max_length=3, default="TRY")
    time_zone = models.CharField(max_length=64, default="Europe/Istanbul")

    def __str__(self) -> str:
        return str(self.label)

    # Source names label identities on Customer 360 pages; sources change rarely, so every cached 360 is forgotten.
    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        customer_360.everything_changed()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        customer_360.everything_changed()
        return super().delete(*args, **kwargs)

    @property
    def label(self) -> Any:
        """The name to show: Kervan's own channels (created with an English name) in the viewer's language, unless
        the shop renamed them; a store's own name as it was given."""
        own = KERVAN_CHANNEL_NAMES.get(self.key)
        return own[1] if own and self.name == own[0] else self.name


class AuditLog(models.Model):
    """Who (staff user or API key) viewed, changed, exported or deleted which customer data."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        MERGE = "merge", _("Merged")
        IMPORT = "import", _("Imported")
        LOGIN = "login", _("Logged in")

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": [old, new]} or a short summary
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer_id", "-occurred_at"], name="audit_customer_idx"),
            models.Index(fields=["actor_user", "-occurred_at"], name="audit_user_idx"),
        ]
        ordering = ["-occurred_at", "-id"]


class DueWork(models.Model):
    """Work that falls due at a time: a scheduled send, a flow step, an SLA timer, a webhook retry.

    Workers take due rows with kervan.core.claim.claim_due(), which leases each row to one worker until
    `leased_until`; the rows of a worker that died are taken over when their lease runs out. `lease_token` names
    one claim, so a worker whose lease was taken over cannot finish the row (claim.finish/release). `due_at` is
    None when nothing is due; `attempts` counts the claims since the last reset (a retry limit reads it)."""

    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    leased_by = models.CharField(max_length=100, blank=True, default="")
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class ScheduledJob(DueWork):
    """A task that runs on a schedule (kervan.core.schedule): one row per registered schedule, due at its next run."""

    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name
