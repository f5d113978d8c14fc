"""Predictions in a privacy request (kervan.customers.privacy): the person's RFM segment, expected orders and
lifetime value are profiling (KVKK md. 11/1-g, GDPR art. 15/1-h), so they are in the export. Nothing to erase:
they are figures about an (emptied) profile, refitted each night."""

from typing import Any

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.predictions.models import CustomerPrediction


def export(subject: PrivacySubject) -> dict[str, Any]:
    rows = CustomerPrediction.objects.filter(customer_id__in=subject.customer_ids).order_by("customer_id")
    return {
        "predictions": list(
            rows.values(
                "p_alive",
                "expected_orders_30",
                "expected_orders_90",
                "expected_orders_365",
                "expected_order_value",
                "clv_12m",
                "churn_risk",
                "expected_next_order_at",
                "basis",
                "rfm_r",
                "rfm_f",
                "rfm_m",
                "rfm_segment",
                "rfm_month",
                "previous_segment",
                "fitted_at",
            )  # fmt: skip
        )
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    return []


HANDLER = PrivacyHandler(
    name="predictions", export=export, anonymise=anonymise, models=("predictions.CustomerPrediction",)
)
