"""Messages and what governs them: senders, templates, the suppression list, the sending policy, and the outbox.

A Message is one (origin, customer) send: its origin names what asked for it ("campaign:12", "flow:3:step:7",
"test:<user>") and the pair is unique, so a campaign can be queued twice, or a worker killed mid-send and replaced,
without anyone getting it twice. The outbox is due work (kervan.core.models.DueWork): workers claim due rows,
check the policy again at send time, render, send, and record what happened.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kervan.core.models import DueWork, TimeStampedModel


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push")


class Purpose(models.TextChoices):
    # İYS: anything that promotes (a birthday greeting, a celebration, a coupon) is marketing and needs consent;
    # transactional messages (an order's confirmation, a shipment) do not, but a refusal of them is still honoured.
    MARKETING = "marketing", _("Marketing")
    TRANSACTIONAL = "transactional", _("Transactional")


class SenderIdentity(TimeStampedModel):
    """Who messages on a channel come from: an email's from name/address and reply-to, an SMS originator."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=120, blank=True)
    address = models.CharField(_("address or originator"), max_length=254)
    reply_to = models.CharField(_("reply-to"), max_length=254, blank=True)
    is_default = models.BooleanField(_("default for the channel"), default=False)

    class Meta:
        ordering = ["channel", "-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"], condition=models.Q(is_default=True), name="one_default_sender_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


class Topic(models.Model):
    """What a marketing message is about ("Kampanyalar", "Yeni ürünler", "Bülten"): a customer can stay subscribed
    to a channel and still turn one topic off in the preference centre."""

    name_tr = models.CharField(_("name (Turkish)"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80)

    class Meta:
        ordering = ["name_tr", "id"]

    def __str__(self) -> str:
        return self.name_tr

    def name_in(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_tr


class TopicOptOut(models.Model):
    """A customer who turned a topic off: no marketing message of that topic, on any channel."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="topic_opt_outs")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="opt_outs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "topic"], name="one_opt_out_per_topic")]


class Template(TimeStampedModel):
    """A staff-written message: per language (`content["tr"]`, `content["en"]`) a subject, an HTML body and a text
    body (SMS and push use the text). `blocks` keeps the block editor's structure the HTML was made from."""

    class Editor(models.TextChoices):
        BLOCKS = "blocks", _("Blocks")
        HTML = "html", _("HTML")
        TEXT = "text", _("Text")

    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=14, choices=Purpose.choices, default=Purpose.MARKETING)
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="templates", verbose_name=_("topic")
    )
    editor = models.CharField(max_length=8, choices=Editor.choices, default=Editor.HTML)
    content = models.JSONField(default=dict)
    blocks = models.JSONField(default=dict, blank=True)  # language → the block editor's blocks
    # Refuse a variable that does not exist (a typo in {{ customer.frist_name }}) instead of rendering it empty.
    strict = models.BooleanField(_("refuse unknown variables"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Suppression(TimeStampedModel):
    """An address nothing (marketing or transactional) is sent to on a channel, and why. Some reasons come from the
    address itself (a hard bounce, a complaint): subscribing again does not lift them, only staff can."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        SOFT_BOUNCES = "soft_bounces", _("Repeated soft bounces")
        COMPLAINT = "complaint", _("Spam complaint")
        INVALID = "invalid", _("Invalid address")
        MANUAL = "manual", _("Added by staff")
        IMPORT = "import", _("Imported")

    # A hard bounce or complaint is the mailbox's owner or provider speaking: a new consent does not undo it.
    STICKY = frozenset({Reason.HARD_BOUNCE, Reason.COMPLAINT, Reason.INVALID})

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254)  # as consent records name it (the mailbox key, E.164)
    reason = models.CharField(max_length=14, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="one_suppression_per_address")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"


class Policy(models.Model):
    """The sending rules (one row): frequency caps per channel and quiet hours for SMS and push, in the recipient's
    own time. Defaults: at most one marketing email in 16 hours and one SMS or push in 24; no SMS or push between
    21:00 and 09:00."""

    email_cap = models.PositiveSmallIntegerField(default=1)
    email_cap_hours = models.PositiveSmallIntegerField(default=16)
    sms_cap = models.PositiveSmallIntegerField(default=1)
    sms_cap_hours = models.PositiveSmallIntegerField(default=24)
    push_cap = models.PositiveSmallIntegerField(default=1)
    push_cap_hours = models.PositiveSmallIntegerField(default=24)
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(9, 0))

    def cap(self, channel: str) -> tuple[int, int]:
        """(messages, hours): at most that many marketing messages on `channel` in that many hours (0: no cap)."""
        return getattr(self, f"{channel}_cap"), getattr(self, f"{channel}_cap_hours")


class Message(DueWork):
    """One message to one customer (see the module). `due_at` is when it may go; NULL once it is done."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        HELD = "held", _("Held for quiet hours")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Not sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Skip(models.TextChoices):
        NO_ADDRESS = "no_address", _("No address")
        NO_CONSENT = "no_consent", _("No consent")
        TOPIC = "topic", _("Topic turned off")
        SUPPRESSED = "suppressed", _("Suppressed")
        CAPPED = "capped", _("Frequency cap")
        MERGED = "merged", _("Profile merged")

    origin = models.CharField(max_length=60)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=14, choices=Purpose.choices)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="messages")
    sender = models.ForeignKey(SenderIdentity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    variant = models.CharField(max_length=4, blank=True)  # an A/B test's arm
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    skip_reason = models.CharField(max_length=12, choices=Skip.choices, blank=True)
    to_address = models.CharField(max_length=254, blank=True)  # where it went, as sent
    subject = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    opens = models.PositiveIntegerField(default=0)
    machine_opens = models.PositiveIntegerField(default=0)  # prefetching proxies and scanners, counted apart
    clicks = models.PositiveIntegerField(default=0)
    # What the sender knew that the profile does not: a flow's trigger (the cart's items, the product back in stock)
    # and the coupon a flow step issued; templates read it as `flow`.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["origin", "customer"], name="one_message_per_origin")]
        indexes = [
            models.Index(fields=["customer", "channel", "-sent_at"], name="message_recent_idx"),
            models.Index(fields=["origin", "status"], name="message_origin_idx"),
            models.Index(fields=["provider_id"], name="message_provider_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.origin} → {self.customer_id} ({self.status})"


class PushSubscription(TimeStampedModel):
    """A browser's web push subscription (the Push API's endpoint and keys), made by the storefront's subscribe
    prompt. A customer may have several (phone, laptop); one the push service says is gone (404/410) is deleted."""

    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    anonymous_id = models.CharField(max_length=64, blank=True)  # the visitor, until they are identified
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer"], name="push_customer_idx"),
            # A visitor's subscriptions, looked up on every identify that carries a visitor id (events.identified).
            models.Index(fields=["anonymous_id"], condition=Q(customer__isnull=True), name="push_visitor_idx"),
        ]

    def info(self) -> dict:
        """The subscription as the Push API gives it (what pywebpush takes)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
