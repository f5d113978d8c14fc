from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kervan.core.models import TimeStampedModel
from kervan.core.money import AmountField, CurrencyField


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    PAID = "paid", _("Paid")
    FULFILLED = "fulfilled", _("Fulfilled")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


# Which status may follow which. Skipping ahead is allowed (a POS sale is paid and fulfilled at once);
# going back is not, and a cancelled or delivered order is final.
NEXT_STATUSES = {
    OrderStatus.PLACED: {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.FULFILLED: {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
    OrderStatus.DELIVERED: set(),
    OrderStatus.CANCELLED: set(),
}


class SalesChannel(models.TextChoices):
    WEB = "web", _("Web store")
    MOBILE_APP = "mobile_app", _("Mobile app")
    MARKETPLACE = "marketplace", _("Marketplace")
    POS = "pos", _("Store POS")
    PHONE = "phone", _("Phone")


class Marketplace(models.TextChoices):
    NONE = "", "—"
    TRENDYOL = "trendyol", "Trendyol"
    HEPSIBURADA = "hepsiburada", "Hepsiburada"
    N11 = "n11", "n11"
    AMAZON = "amazon", "Amazon"
    CICEKSEPETI = "ciceksepeti", "Çiçeksepeti"


class Order(TimeStampedModel):
    # Always set (kervan.core.sources names the channel's own when the sender names none): the unique constraint below
    # recognises a replayed (source, external_id), and a constraint never matches a NULL.
    source = models.ForeignKey("core.Source", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=64, blank=True)  # the source's own order id
    number = models.CharField(max_length=64, blank=True)  # what the customer sees: "#1001"
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    currency = CurrencyField()
    subtotal = AmountField()
    discount_total = AmountField()
    tax_total = AmountField()
    shipping_total = AmountField()
    total = AmountField()
    refunded_total = AmountField()
    # The order in the shop's reporting currency (settings.KERVAN_REPORTING_CURRENCY), at the rate of its placed day
    # (kervan.currency): units of the reporting currency per unit of `currency`, and `total` converted with it. Both
    # null while the rate is missing: the order is "awaiting a rate", left out of the customer's totals (money and
    # count) until kervan.orders.rates counts it when the rate arrives. Refunds convert cumulatively:
    # reporting_refunded = refunded_total converted, so a full refund takes back exactly reporting_total.
    reporting_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    reporting_total = AmountField(null=True, blank=True, default=None)
    reporting_refunded = AmountField(null=True, blank=True, default=None)  # refunded_total converted with that rate
    sales_channel = models.CharField(max_length=12, choices=SalesChannel.choices, default=SalesChannel.WEB)
    marketplace = models.CharField(max_length=12, choices=Marketplace.choices, blank=True, default="")
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    discount_codes = models.JSONField(default=list, blank=True)
    placed_at = models.DateTimeField()
    # Where the order went (its shipping address), as far as the source says: a two-letter ISO country and a city.
    shipping_country = models.CharField(max_length=2, blank=True, default="")
    shipping_city = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="order_source_external_unique"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_time_idx"),
            # The order list's (migration 0007 made them; 0011 told Django, so SQLite's table rebuilds keep them)
            models.Index(fields=["status", "-placed_at"], name="order_status_time_idx"),
            models.Index(fields=["total", "id"], name="order_total_idx"),
            models.Index(fields=["number"], name="order_number_idx"),
            # With the figures the daily sales sum (kervan/orders/daily_sales.py) on PostgreSQL: today's sales are an
            # index-only scan of today's entries, not a visit to each order's row (bench/README.md, "Today page").
            models.Index(
                fields=["-placed_at"],
                include=["status", "reporting_total", "reporting_refunded"],
                name="order_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def net_total(self):
        return self.total - self.refunded_total

    @property
    def awaiting_rate(self) -> bool:
        return self.reporting_rate is None

    def can_cancel(self) -> bool:
        return self.status in (OrderStatus.PLACED, OrderStatus.PAID)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sku = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField()
    unit_price = AmountField()
    discount = AmountField()
    tax = AmountField()
    total = AmountField()  # quantity × unit_price − discount + tax
    returned_quantity = models.PositiveIntegerField(default=0)


class Payment(models.Model):
    class Method(models.TextChoices):
        CARD = "card", _("Card")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        CASH_ON_DELIVERY = "cod", _("Cash on delivery")
        WALLET = "wallet", _("Wallet")
        MARKETPLACE = "marketplace", _("Marketplace")

    class Status(models.TextChoices):
        AUTHORIZED = "authorized", _("Authorised")
        CAPTURED = "captured", _("Captured")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    amount = AmountField()
    currency = CurrencyField()
    method = models.CharField(max_length=14, choices=Method.choices, default=Method.CARD)
    provider = models.CharField(max_length=40, blank=True)  # iyzico, stripe, paytr …
    reference = models.CharField(max_length=100, blank=True)
    installments = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CAPTURED)
    occurred_at = models.DateTimeField()


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=60)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipped_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tracking_number"], name="shipment_tracking_idx")]  # the list's search


class OrderStatusChange(models.Model):
    """The order's timeline: one row per status it entered, with who and any details (carrier, tracking)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    customer_id = models.BigIntegerField()  # denormalised so the customer timeline reads one index
    status = models.CharField(max_length=12, choices=OrderStatus.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer_id", "-occurred_at"], name="status_customer_time_idx")]
        ordering = ["occurred_at", "id"]


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", _("Damaged or defective")
    WRONG_ITEM = "wrong_item", _("Wrong item")
    SIZE = "size", _("Wrong size or fit")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    CHANGED_MIND = "changed_mind", _("Changed mind")
    LATE = "late", _("Arrived late")
    OTHER = "other", _("Other")


class Return(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    customer_id = models.BigIntegerField()
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    note = models.TextField(blank=True)
    external_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Waiting for its money: no refund names this return and the order is not fully refunded. Kept by
    # kervan.orders.actions.returns_settle (after every refund, and after bulk writes), so "returns waiting" (the Today
    # card, the orders list's has_return=waiting) reads a small partial index instead of matching refunds to returns.
    waiting = models.BooleanField(default=True, db_default=True)  # (bulk writers may leave it out)

    class Meta:
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="return_customer_time_idx"),
            models.Index(fields=["order"], condition=Q(waiting=True), name="return_waiting_idx"),
        ]


class ReturnLine(models.Model):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="return_lines")
    quantity = models.PositiveIntegerField()


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    customer_id = models.BigIntegerField()
    return_request = models.ForeignKey(Return, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds")
    amount = AmountField()
    currency = CurrencyField()
    # `amount` in the reporting currency at the order's rate (Order.reporting_rate); null while the order awaits it.
    reporting_amount = AmountField(null=True, blank=True, default=None)
    reason = models.CharField(max_length=20, choices=ReturnReason.choices, default=ReturnReason.OTHER)
    note = models.TextField(blank=True)
    external_id = models.CharField(max_length=64, blank=True)  # the source's refund id: replays are recognised
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], condition=~Q(external_id=""), name="refund_external_unique"
            )
        ]
        indexes = [models.Index(fields=["customer_id", "-occurred_at"], name="refund_customer_time_idx")]


class DailySales(models.Model):
    """One closed day's sales (the shop's time zone), in the reporting currency: the Today page's 30-day chart reads
    these rows instead of summing a month of orders on every view. Filled and kept fresh by
    kervan.orders.daily_sales (an hourly scheduled refresh of the recent days, and on demand for a missing day);
    today is always summed live. `orders`: orders placed that day and not cancelled; `revenue`: their
    reporting_total − reporting_refunded (those with a rate); `awaiting_rate`: those still without one."""

    day = models.DateField(unique=True)
    currency = CurrencyField()  # the reporting currency the row was summed in; a row in another one is recomputed
    orders = models.PositiveIntegerField(default=0)
    revenue = AmountField()
    awaiting_rate = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day}: {self.orders} orders, {self.revenue} {self.currency}"
