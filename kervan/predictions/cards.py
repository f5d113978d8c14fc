"""The predictions on screen: the Customer 360 card and the Today page's "VIPs at risk" card."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.currency.selectors import reporting_currency
from kervan.predictions import selectors
from kervan.predictions.actions import CUSTOMER_MIN_DAYS
from kervan.predictions.models import Basis, Segment
from kervan.workspace.today import TodayCard, bounded_count, register_today_card


def card_360(customer: Model) -> dict[str, Any] | None:
    """The "Predictions" card: None (not shown) for a customer without an order or before the first refresh."""
    prediction = selectors.prediction_for(customer.pk)
    if prediction is None:
        return None
    fit = selectors.latest_fit()
    return {
        "p": prediction,
        "fit": fit,
        "currency": reporting_currency(),
        "p_alive_pct": round(prediction.p_alive * 100),
        "churn_pct": round(prediction.churn_risk * 100),
        "segment": Segment(prediction.rfm_segment).label,
        "previous": Segment(prediction.previous_segment).label if prediction.previous_segment else "",
        "prior": prediction.basis == Basis.PRIOR or (fit is not None and fit.basis == Basis.PRIOR),
        "thin": prediction.basis == Basis.THIN,
        "customer_min_days": CUSTOMER_MIN_DAYS,
    }


def vips_context(actor: Actor) -> dict[str, Any] | None:
    if selectors.latest_fit() is None:
        return None  # never refreshed: nothing to say yet
    rows = selectors.vips_at_risk(actor)
    return {
        "count": bounded_count(rows),
        "label": _("high-value customers At Risk or Can't Lose Them"),
        "url": f"{reverse('predictions:rfm')}?vip=1#customers",
        "id": "today-vips-count",
        "top": list(rows.select_related("customer").order_by("-clv_12m", "-customer_id")[:5]),
        "currency": reporting_currency(),
    }


def register_today() -> None:
    register_today_card(
        TodayCard(
            "vips_at_risk",
            _("VIPs at risk"),
            area="analytics",
            template="predictions/today_vips.html",
            context=vips_context,
            position=60,
        )
    )
