from django.db import models
from django.db.models import Q


class CanonicalEvent(models.TextChoices):
    """Names every source (store platforms, the JS tracker, the API) uses, so segments and flows work alike."""

    VIEWED_PAGE = "Viewed Page"
    VIEWED_PRODUCT = "Viewed Product"
    ADDED_TO_CART = "Added to Cart"
    STARTED_CHECKOUT = "Started Checkout"
    PLACED_ORDER = "Placed Order"
    ORDERED_PRODUCT = "Ordered Product"
    FULFILLED_ORDER = "Fulfilled Order"
    SHIPPED_ORDER = "Shipped Order"
    DELIVERED_ORDER = "Delivered Order"
    CANCELLED_ORDER = "Cancelled Order"
    REFUNDED_ORDER = "Refunded Order"
    RETURNED_PRODUCT = "Returned Product"
    SUBSCRIBED_BACK_IN_STOCK = "Subscribed to Back in Stock"
    RECEIVED_EMAIL = "Received Email"
    OPENED_EMAIL = "Opened Email"
    CLICKED_EMAIL = "Clicked Email"
    BOUNCED_EMAIL = "Bounced Email"
    UNSUBSCRIBED = "Unsubscribed"
    RECEIVED_SMS = "Received SMS"
    CLICKED_SMS = "Clicked SMS"
    OPENED_TICKET = "Opened Ticket"
    STARTED_CHAT = "Started Chat"
    SUBMITTED_REVIEW = "Submitted Review"
    ANSWERED_SURVEY = "Answered Survey"
    EARNED_POINTS = "Earned Points"
    REDEEMED_POINTS = "Redeemed Points"


# The tracker's high-volume names, left out of the by-name index (see Event.Meta).
BROWSING_NAMES = ("Added to Cart", "Viewed Page", "Viewed Product")


class Event(models.Model):
    """Append-only behaviour record. `dedupe_key` makes every delivery idempotent.

    (customer, name, occurred_at) is indexed so "did X at least N times in the last D days" is a range scan; it
    also finds a customer's events for the timeline and the event list, which sort them by time. (occurred_at, id)
    serves the newest events of everyone (the event list without a customer, "since" windows): without it that
    list sorted the whole table on every request (44 ms at 345,000 events, seconds at millions); new events land at
    its right edge, so it costs ingestion little (bench/README.md, "Event ingestion"). Every other
    index is paid for by every event inserted, so there are as few as possible (bench/README.md, "Event
    ingestion"): no (customer, occurred_at) index, no index on `source` (a source is deleted rarely, by an admin;
    the SET NULL then scans the table), and no database FK constraint to the customer — deleting a customer
    still deletes their events (Django's collector cascades on_delete), and merges move them (events_reassign).
    """

    dedupe_key = models.CharField(max_length=100, unique=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    anonymous_id = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    properties = models.JSONField(default=dict, blank=True)
    source = models.ForeignKey(
        "core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["customer", "name", "occurred_at"], name="event_customer_name_time_idx"),
            models.Index(fields=["occurred_at", "id"], name="event_time_idx"),
            # The event list filtered by a rare name, newest first ("Ordered Product", 120 of 30M): without it the
            # time index is walked back through everything (1.1 s at 30M events). Not for the browsing names that
            # are most of what the tracker sends: they stay cheap to write, and a filter on one of them finds its 50
            # rows quickly on the time index.
            models.Index(
                fields=["name", "occurred_at", "id"],
                condition=~Q(name__in=BROWSING_NAMES),
                name="event_name_time_idx",
            ),
            models.Index(
                fields=["anonymous_id"], condition=Q(customer__isnull=True), name="event_unidentified_anon_idx"
            ),
            # The Today page's checkouts of the last 24 hours (kervan/events/today.py): "Started Checkout" events only,
            # so the tracker's other events cost it nothing; with who started each (PostgreSQL: an index-only scan).
            models.Index(
                fields=["occurred_at"],
                include=["customer", "anonymous_id"],
                condition=Q(name="Started Checkout"),
                name="event_checkout_time_idx",
            ),
        ]


class TrackerSite(models.Model):
    """A storefront that runs the JS tracker. Its `public_key` is publishable: it sits in the page's HTML, so it
    only lets a browser send storefront events for visitors, never read data or act as a staff member.

    `identity_secret` is the shop's server's: it never reaches a browser. The server signs the identity of its
    logged-in customer with it (hex HMAC-SHA256 of the customer id or email) and the page passes the signature to
    identify(); only a signed identify may join a visitor to a customer Kervan already knows
    (kervan.events.storefront).
    """

    name = models.CharField(max_length=100)
    public_key = models.CharField(max_length=40, unique=True)
    identity_secret = models.CharField(max_length=64, default="")
    # Exact origins ("https://shop.example.com") allowed to call the collect endpoint from a browser.
    allowed_origins = models.JSONField(default=list, blank=True)
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
