"""Predictions and RFM per customer, refreshed in bulk by `predictions_refresh` (kervan.predictions.actions).

Tables (names are stable: segment conditions read them):
- `CustomerPrediction` (db table `predictions_customerprediction`), one row per customer with at least one order
  (`customer_id` is the primary key; customers who never ordered have no row):
    p_alive                 probability the customer is still active (BG/NBD), 0..1
    expected_orders_30/90/365  expected orders in the next 30/90/365 days (BG/NBD)
    expected_order_value    expected value of their next orders (Gamma-Gamma), reporting currency
    clv_12m                 expected_orders_365 × expected_order_value, Decimal, reporting currency (undiscounted)
    churn_risk              probability of no order in the next 365 days, 0..1
    expected_next_order_at  median time of the next order if they are active; null when P(alive) < 0.5 or it is
                            more than two years away ("not expected")
    basis                   "fit" | "prior" (pooled default priors: the shop has too little data) | "thin" (this
                            customer's first order is under CUSTOMER_MIN_DAYS old: the numbers are mostly the
                            shop's average)
    rfm_r, rfm_f, rfm_m     RFM quintile scores 1..5; rfm_segment (one of Segment), rfm_month (first day of the
                            month the segment was computed in), previous_segment (the segment of the last refresh in
                            an earlier month; "" if none): month-over-month movement
    fitted_at               when the model these numbers come from was fitted (PredictionFit.fitted_at)
- `PredictionFit`: one row per refresh (the latest is the model in force): parameters, basis, data size, how much
  more is needed for a fit, and the RFM grid and segment counts of that refresh (what the Analytics page shows).
- `RfmSnapshot(month, segment, count)`: the segment sizes per month (the current month's row is rewritten by each
  refresh, earlier months stay as they were last computed).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core.money import AmountField
from kervan.customers.models import Customer


class Basis(models.TextChoices):
    FIT = "fit", _("fit on this shop's orders")
    PRIOR = "prior", _("pooled prior")
    THIN = "thin", _("too little history")


class Segment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential Loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need Attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to Sleep")
    AT_RISK = "at_risk", _("At Risk")
    CANT_LOSE = "cant_lose", _("Can't Lose Them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class PredictionFit(models.Model):
    fitted_at = models.DateTimeField(db_index=True)
    basis = models.CharField(max_length=8, choices=[(Basis.FIT, Basis.FIT.label), (Basis.PRIOR, Basis.PRIOR.label)])
    r = models.FloatField()
    alpha = models.FloatField()  # in days
    a = models.FloatField()
    b = models.FloatField()
    p = models.FloatField()
    q = models.FloatField()
    gamma = models.FloatField()  # in the reporting currency
    log_likelihood = models.FloatField(null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)  # customers with at least one order
    history_days = models.PositiveIntegerField(default=0)  # from the first order in the shop to the refresh
    customers_needed = models.PositiveIntegerField(default=0)  # more customers needed for a fit (0: enough)
    days_needed = models.PositiveIntegerField(default=0)  # more days of history needed for a fit (0: enough)
    seconds = models.FloatField(default=0)  # how long the refresh took
    # What the Analytics page shows, counted by the refresh (a page view reads this row, not a million):
    grid = models.JSONField(default=list)  # customers per R (rows, 5 first) and F (columns, 1 first)
    segments = models.JSONField(default=dict)  # {segment: {"count", "moved_in", "moved_out"}}

    class Meta:
        ordering = ["-fitted_at", "-id"]


class CustomerPrediction(models.Model):
    customer = models.OneToOneField(Customer, primary_key=True, on_delete=models.CASCADE, related_name="prediction")
    p_alive = models.FloatField()
    expected_orders_30 = models.FloatField()
    expected_orders_90 = models.FloatField()
    expected_orders_365 = models.FloatField()
    expected_order_value = AmountField()
    clv_12m = AmountField()
    churn_risk = models.FloatField()
    expected_next_order_at = models.DateTimeField(null=True, blank=True)
    basis = models.CharField(max_length=8, choices=Basis.choices)
    rfm_r = models.PositiveSmallIntegerField()
    rfm_f = models.PositiveSmallIntegerField()
    rfm_m = models.PositiveSmallIntegerField()
    rfm_segment = models.CharField(max_length=20, choices=Segment.choices)
    rfm_month = models.DateField()
    previous_segment = models.CharField(max_length=20, choices=Segment.choices, blank=True, default="")
    fitted_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["rfm_segment", "-clv_12m"], name="pred_segment_clv_idx"),
            models.Index(fields=["-clv_12m"], name="pred_clv_idx"),
        ]


class RfmSnapshot(models.Model):
    month = models.DateField()  # the first day of the month
    segment = models.CharField(max_length=20, choices=Segment.choices)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "segment"], name="rfm_snapshot_month_segment")]
        ordering = ["month", "segment"]


class CalibrationReport(models.Model):
    """How well the model predicts this shop: fitted on the orders before `calibration_end`, its expected orders per
    customer over the next `holdout_days` against the orders they really placed (kervan.predictions.calibration).
    basis "fit", or "thin" when the shop has too little history or too few customers (then *_needed say how much
    more, and there are no rows)."""

    computed_at = models.DateTimeField(db_index=True)
    basis = models.CharField(max_length=8)
    calibration_end = models.DateTimeField(null=True, blank=True)
    holdout_days = models.PositiveIntegerField(default=0)
    history_days = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)  # customers with an order before calibration_end
    customers_needed = models.PositiveIntegerField(default=0)
    days_needed = models.PositiveIntegerField(default=0)
    r = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)  # in days
    a = models.FloatField(null=True, blank=True)
    b = models.FloatField(null=True, blank=True)
    # [{"repeat": repeat orders in the calibration period (0 … 6, 6 meaning 6+), "customers", "predicted", "actual"}]:
    # predicted and actual holdout orders, means per customer
    rows = models.JSONField(default=list)
    predicted_total = models.FloatField(default=0)
    actual_total = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-computed_at", "-id"]
