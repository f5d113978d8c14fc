"""What the Analytics page reads instead of scanning orders (kervan.reports.rollup fills and refreshes them).

- `ChannelDay`: one closed day (the shop's time zone) × sales channel, in the reporting currency: orders placed that
  day and not cancelled, those with a rate (`rated`), their revenue Σ(reporting_total − reporting_refunded), and how
  many were the customer's first order (`new_orders`; the rest are returning customers' orders). Every channel has
  a row for every computed day, zeros included, so a missing row means "not computed yet".
- `CohortCell`: customers by the month of their first order (`cohort`, its first day) and `offset` months later:
  how many of them ordered in that month (offset 0: the cohort's size).
- `StoredFigure`: a figure counted over all customers by the refresh (the repeat-purchase rate, the CLV histogram),
  as JSON with the time it was computed.
"""

from django.db import models

from kervan.core.money import AmountField, CurrencyField


class ChannelDay(models.Model):
    day = models.DateField()
    channel = models.CharField(max_length=12)
    currency = CurrencyField()  # the reporting currency it was summed in; a row in another one is recomputed
    orders = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)  # orders with an exchange rate (the others add no money yet)
    revenue = AmountField()
    new_orders = models.PositiveIntegerField(default=0)  # first orders: one per new customer
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel"], name="reports_channel_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.orders} orders"


class CohortCell(models.Model):
    cohort = models.DateField()  # the first day of the month of the customers' first order
    offset = models.PositiveSmallIntegerField()  # months after the cohort month
    customers = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cohort", "offset"], name="reports_cohort_cell_unique")]


class StoredFigure(models.Model):
    key = models.CharField(max_length=40, unique=True)
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField()


class SegmentDay(models.Model):
    """One closed day's entered/exited counts of one segment (from SegmentChange), so that segment sizes over a period
    read a row per segment and day instead of every change: a rebuild writes a change per member. `segment_id` 0
    marks a day as summed (days without any change have no other row)."""

    day = models.DateField()
    segment_id = models.BigIntegerField()
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "segment_id"], name="reports_segment_day_unique")]
