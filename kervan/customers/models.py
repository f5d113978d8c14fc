from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Expression, F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from kervan.core.models import TimeStampedModel
from kervan.core.money import AmountField, CurrencyField


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "", _("Unknown")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    UNKNOWN = "", _("Unknown")


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(models.QuerySet):
    def active(self):
        """Customers that have not been merged into another profile."""
        return self.filter(merged_into__isnull=True)


class Customer(TimeStampedModel):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Primary email (normalised) and phone (E.164). Looked up through Identity, which indexes them; no index here
    # keeps imports of a million customers cheaper.
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True, default="")
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="TR", blank=True)
    language = models.CharField(max_length=8, default="tr", blank=True)
    time_zone = models.CharField(max_length=64, default="Europe/Istanbul")
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from", db_index=False
    )  # indexed for the few merged profiles only (customer_merged_into_idx)
    # Marketing consent per channel for the address messages go to now (email, phone; push per customer), cached
    # from the ledger by customers.consent_state so lists and segments can filter without reading it.
    consent_email = models.CharField(max_length=8, choices=ConsentStatus.choices, blank=True, default="")
    consent_sms = models.CharField(max_length=8, choices=ConsentStatus.choices, blank=True, default="")
    consent_call = models.CharField(max_length=8, choices=ConsentStatus.choices, blank=True, default="")
    consent_push = models.CharField(max_length=8, choices=ConsentStatus.choices, blank=True, default="")
    consent_whatsapp = models.CharField(max_length=8, choices=ConsentStatus.choices, blank=True, default="")
    # Turkish-folded name/email/phone/city (kervan.core.text.search_fold), for case- and accent-blind search.
    search_key = models.TextField(blank=True, default="")
    # Turkish-folded "first last", for duplicate suggestions.
    name_key = models.CharField(max_length=201, blank=True, default="")
    # The mailbox `email` reaches (kervan.core.emails.email_match_key): email consent is matched on it, so a refusal
    # given for "ayse.kaya+shop@googlemail.com" covers "aysekaya@gmail.com". Set wherever email is.
    email_key = models.CharField(max_length=254, blank=True, default="")
    # Set when the person's data was erased (KVKK/GDPR, kervan.customers.privacy): the row stays for its orders.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="customer_created_idx"),
            # A plain B-tree: db_index=True on a CharField also builds a LIKE index on PostgreSQL, unused here.
            models.Index(fields=["name_key"], name="customer_name_key_idx"),
            # The city filter: a small city (0.4% of customers) is read through it instead of a scan of every
            # customer, and the city drop-down's distinct cities come from it (customers.lists.city_choices).
            models.Index(fields=["city"], name="customer_city_idx"),
            # Only the merged-away profiles (a merge finds the profiles merged into one through it). A full index
            # would hold a NULL for every active customer, written by every import, and lead SQLite (no statistics
            # unless ANALYZE ran) to read "merged_into_id IS NULL" through it — every customer, then a sort — instead
            # of walking the list's order: 70 ms for a page of the newest at 100k customers.
            models.Index(
                fields=["merged_into"], condition=Q(merged_into__isnull=False), name="customer_merged_into_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Identity(models.Model):
    """One way of recognising a customer. Each (kind, value[, source]) points at exactly one customer."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        SOURCE_ID = "source_id", _("Store customer id")
        ANONYMOUS = "anonymous", _("Anonymous visitor id")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=254)
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            # Store customer ids are unique per source; emails, phones and visitor ids are global.
            models.UniqueConstraint(
                fields=["kind", "value", "source"], condition=Q(source__isnull=False), name="identity_unique_sourced"
            ),
            models.UniqueConstraint(
                fields=["kind", "value"], condition=Q(source__isnull=True), name="identity_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Epoch(Expression):
    """1970-01-01 UTC as a constant written into the SQL (not a parameter): a customer who never ordered sorts as if
    their last order were then. The list's sort and the index below spell the same expression, so the database can
    match them (PostgreSQL and SQLite only use an expression index for the same expression, constants included)."""

    output_field = models.DateTimeField()

    def as_sql(self, compiler, connection):
        if connection.vendor == "postgresql":
            return "'1970-01-01 00:00:00+00'::timestamptz", []
        return "'1970-01-01 00:00:00'", []  # how Django stores an aware datetime on SQLite: UTC, no offset


def last_order_sort(prefix: str = ""):
    """The last order's time, never NULL (the epoch for a customer who never ordered): the list's "last order" sort
    key, served by the index stats_last_order_sort_idx. `prefix` reaches it from another model ("stats__")."""
    return Coalesce(F(f"{prefix}last_order_at"), Epoch())


class CustomerStats(models.Model):
    """Order aggregates per customer, kept up to date in the same transaction as each order change.

    Cancelled orders do not count; refunds reduce total_spent (net revenue).
    """

    customer = models.OneToOneField(Customer, primary_key=True, on_delete=models.CASCADE, related_name="stats")
    currency = CurrencyField()
    total_spent = AmountField()
    order_count = models.PositiveIntegerField(default=0)
    average_order_value = AmountField()
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    returns_count = models.PositiveIntegerField(default=0)
    refunded_total = AmountField()
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-total_spent", "-customer"], name="stats_spent_idx"),
            models.Index(fields=["-order_count", "-customer"], name="stats_orders_idx"),
            # The list's sorts walk these (key, customer) pairs in order and stop after a page (customers.selectors).
            models.Index(last_order_sort().desc(), F("customer").desc(), name="stats_last_order_sort_idx"),
        ]

    def recompute_average(self) -> None:
        self.average_order_value = average_order_value(self.total_spent, self.order_count)


def average_order_value(total_spent: Decimal, order_count: int) -> Decimal:
    """The one rounding of a customer's average order (the decimal context's half-even)."""
    return (total_spent / order_count).quantize(Decimal("0.01")) if order_count else Decimal("0")


class CustomerNote(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer_idx")]


class CustomerMerge(models.Model):
    """A merge, kept for history: the merged profile stays (merged_into set), its identities moved over."""

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_received")
    merged = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_given")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    snapshot = models.JSONField(default=dict)  # the merged profile as it was
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["survivor", "-occurred_at"], name="merge_survivor_idx")]


class CustomFieldDefinition(models.Model):
    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes/no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=FieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class ConsentRecord(models.Model):
    """Append-only consent ledger. The latest record per (customer, channel, purpose, address) is the truth for that
    address (push has no address: per customer); on a tie in time a refusal wins (customers.consent_state).

    Carries what İYS (İleti Yönetim Sistemi) needs: channel MESAJ/ARAMA/EPOSTA, status ONAY/RET,
    consent source code and recipient type.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        CALL = "call", _("Phone call")
        PUSH = "push", _("Push")
        WHATSAPP = "whatsapp", "WhatsApp"

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        TRANSACTIONAL = "transactional", _("Transactional")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Refused")

    class IysSource(models.TextChoices):
        WEB = "HS_WEB", _("Website")
        PHYSICAL = "HS_FIZIKSEL_ORTAM", _("In store")
        WET_SIGNATURE = "HS_ISLAK_IMZA", _("Wet signature")
        CALL_CENTER = "HS_CAGRI_MERKEZI", _("Call centre")
        SOCIAL = "HS_SOSYAL_MEDYA", _("Social media")
        EMAIL = "HS_EPOSTA", _("Email")
        MESSAGE = "HS_MESAJ", _("Message")
        EVENT = "HS_ETKINLIK", _("Event")
        BEFORE_2015 = "HS_2015", _("Before 2015")
        ATM = "HS_ATM", "ATM"
        DECISION = "HS_KARAR", _("Authority decision")

    class RecipientType(models.TextChoices):
        INDIVIDUAL = "BIREYSEL", _("Individual")
        MERCHANT = "TACIR", _("Merchant")

    # İYS knows three channels; SMS and WhatsApp are both messages (MESAJ), push has no İYS channel.
    IYS_CHANNEL = {"email": "EPOSTA", "sms": "MESAJ", "whatsapp": "MESAJ", "call": "ARAMA", "push": ""}

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    purpose = models.CharField(max_length=14, choices=Purpose.choices, default=Purpose.MARKETING)
    status = models.CharField(max_length=8, choices=Status.choices)
    source = models.CharField(max_length=100, blank=True)  # where it was given: "checkout form", "import"
    proof = models.TextField(blank=True)  # the text the customer agreed to, a form id, a recording ref
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(max_length=254, blank=True)  # the email/phone the consent covers
    iys_channel = models.CharField(max_length=8, blank=True)
    iys_status = models.CharField(max_length=4, blank=True)
    iys_source = models.CharField(max_length=20, choices=IysSource.choices, blank=True)
    iys_recipient_type = models.CharField(
        max_length=10, choices=RecipientType.choices, default=RecipientType.INDIVIDUAL
    )

    class Meta:
        # The latest record for one address is the first entry under its prefix, however long the history.
        indexes = [
            models.Index(
                fields=["customer", "channel", "purpose", "address", "-occurred_at"], name="consent_address_idx"
            )
        ]
        ordering = ["-occurred_at", "-id"]
