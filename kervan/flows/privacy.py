"""Flows in a privacy request (kervan.customers.privacy): the journeys the person went through and what they asked
to hear about (back in stock, new products). On erasure a run keeps its path and times (the flow's report counts
it) and loses what its trigger carried (a cart, a product viewed, a coupon)."""

from typing import Any

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.flows.models import FlowRun, ProductSubscription


def export(subject: PrivacySubject) -> dict[str, Any]:
    runs = FlowRun.objects.filter(customer_id__in=subject.customer_ids).order_by("entered_at", "id")
    subscriptions = ProductSubscription.objects.filter(customer_id__in=subject.customer_ids).order_by("id")
    return {
        "flow_runs": [
            {**r, "flow": r.pop("flow__name")}
            for r in runs.values(
                "flow__name", "status", "step", "entered_at", "ended_at", "exit_reason", "converted_at", "context"
            )
        ],
        "product_subscriptions": list(
            subscriptions.values(
                "kind", "product__title", "variant__sku", "category__name", "created_at", "notified_at"
            )
        ),
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    runs = FlowRun.objects.filter(customer_id__in=subject.customer_ids).exclude(context={})
    return ["flows.FlowRun.context"] if runs.update(context={}) else []


HANDLER = PrivacyHandler(
    name="flows",
    export=export,
    anonymise=anonymise,
    models=("flows.FlowRun", "flows.ProductSubscription"),
)
