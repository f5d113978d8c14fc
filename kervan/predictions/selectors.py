"""Reads of the predictions: the latest fit, the RFM grid, segment sizes and their month-over-month movement, the
VIPs at risk. All read the precomputed rows (CustomerPrediction, RfmSnapshot), never orders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.predictions.models import CustomerPrediction, PredictionFit, RfmSnapshot, Segment

# "VIPs at risk": the top fifth by money spent (M score 5) in a segment that is slipping away.
RISK_SEGMENTS = (Segment.AT_RISK, Segment.CANT_LOSE)
VIP_M_SCORE = 5


def latest_fit() -> PredictionFit | None:
    return PredictionFit.objects.order_by("-fitted_at", "-id").first()


def prediction_for(customer_id: int) -> CustomerPrediction | None:
    return CustomerPrediction.objects.filter(customer_id=customer_id).first()


def rfm_grid(actor: Actor) -> list[list[int]]:
    """Customer counts by R (rows, 5 first) and F (columns, 1 first), as the latest refresh counted them."""
    actor.require("analytics", "read")
    fit = latest_fit()
    return fit.grid if fit is not None and fit.grid else [[0] * 5 for _ in range(5)]


@dataclass(frozen=True)
class SegmentRow:
    code: str
    label: Any
    count: int
    last_month: int | None  # the snapshot of the latest earlier month; None: no earlier month yet
    moved_in: int  # customers whose previous month's segment was another one
    moved_out: int

    @property
    def change(self) -> int | None:
        return None if self.last_month is None else self.count - self.last_month


def segment_table(actor: Actor) -> list[SegmentRow]:
    """Each segment's size at the latest refresh, at the last refresh of an earlier month, and how many customers
    moved in and out since then: read from the refresh's own counts (PredictionFit.segments) and RfmSnapshot."""
    actor.require("analytics", "read")
    fit = latest_fit()
    counts: dict[str, dict[str, int]] = fit.segments if fit is not None else {}
    last: dict[str, int] | None = None
    if fit is not None:
        month = clock_month(fit)
        earlier = RfmSnapshot.objects.filter(month__lt=month).order_by("-month").values_list("month", flat=True)
        previous = earlier.first()
        if previous is not None:
            last = dict(RfmSnapshot.objects.filter(month=previous).values_list("segment", "count"))
    return [
        SegmentRow(
            code,
            label,
            counts.get(code, {}).get("count", 0),
            None if last is None else last.get(code, 0),
            counts.get(code, {}).get("moved_in", 0),
            counts.get(code, {}).get("moved_out", 0),
        )
        for code, label in Segment.choices
    ]


def clock_month(fit: PredictionFit) -> dt.date:
    """The month (its first day, in the shop's time zone) a refresh belongs to."""
    return timezone.localtime(fit.fitted_at).date().replace(day=1)


def vips_at_risk(actor: Actor) -> QuerySet[CustomerPrediction]:
    return actor.scope(
        "analytics",
        CustomerPrediction.objects.filter(rfm_segment__in=RISK_SEGMENTS, rfm_m=VIP_M_SCORE),
    )


def customers_in(actor: Actor, *, segment: str = "", vip: bool = False) -> QuerySet[CustomerPrediction]:
    """The customers a segment link shows, highest 12-month CLV first."""
    rows = actor.scope("analytics", CustomerPrediction.objects.select_related("customer"))
    if vip:
        rows = rows.filter(rfm_segment__in=RISK_SEGMENTS, rfm_m=VIP_M_SCORE)
    if segment:
        if segment not in Segment.values:
            raise KervanError(
                _("Unknown segment: %(segment)s.") % {"segment": segment}, "invalid_segment", field="segment"
            )
        rows = rows.filter(rfm_segment=segment)
    return rows.order_by("-clv_12m", "-customer_id")
