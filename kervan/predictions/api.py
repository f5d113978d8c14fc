"""Predictions in the API: one customer's predictions and RFM, and the shop's RFM grid and segments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.translation import gettext as _
from ninja import Router, Schema

from kervan.core.api import ERRORS
from kervan.core.errors import NotFound
from kervan.predictions import selectors
from kervan.predictions.models import CustomerPrediction

router = Router(tags=["predictions"])


class PredictionOut(Schema):
    customer_id: int
    p_alive: float
    expected_orders_30: float
    expected_orders_90: float
    expected_orders_365: float
    expected_order_value: Decimal
    clv_12m: Decimal
    churn_risk: float
    expected_next_order_at: dt.datetime | None
    basis: str
    rfm_r: int
    rfm_f: int
    rfm_m: int
    rfm_segment: str
    previous_segment: str
    rfm_month: dt.date
    fitted_at: dt.datetime


class FitOut(Schema):
    fitted_at: dt.datetime
    basis: str
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float
    customers: int
    history_days: int
    customers_needed: int
    days_needed: int


class RfmSegmentOut(Schema):
    code: str
    label: str
    count: int
    last_month: int | None
    moved_in: int
    moved_out: int


class RfmOut(Schema):
    fit: FitOut | None
    grid: list[list[int]]  # rows R 5..1, columns F 1..5
    segments: list[RfmSegmentOut]


@router.get("/customers/{customer_id}", response={200: PredictionOut, **ERRORS})
def customer_prediction(request, customer_id: int):
    """A customer's predictions and RFM scores (404 for a customer without an order, or before the first refresh)."""
    rows = request.auth.scope("analytics", CustomerPrediction.objects.filter(customer_id=customer_id))
    prediction = rows.first()
    if prediction is None:
        raise NotFound(_("No predictions for customer %(id)s.") % {"id": customer_id}, "prediction_not_found")
    return prediction


@router.get("/rfm", response={200: RfmOut, **ERRORS})
def rfm_summary(request):
    """The R×F grid, the segments with last month's sizes and movement, and the model in force."""
    actor = request.auth
    segments = [{**row.__dict__, "label": str(row.label)} for row in selectors.segment_table(actor)]
    return {"fit": selectors.latest_fit(), "grid": selectors.rfm_grid(actor), "segments": segments}
