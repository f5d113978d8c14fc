"""Outgoing webhooks in a privacy request (kervan.customers.privacy): a delivery's payload is the event as it was
sent (a customer's email and name in customer.created). On erasure every stored delivery whose payload names the
person keeps its event, id and times and loses its data; one not yet sent then goes out with the data erased."""

from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.outbound.models import WebhookDelivery

ERASED = "personal data request"


def export(subject: PrivacySubject) -> dict[str, Any]:
    return {}  # what the payloads hold is in the export already, from its own records


def anonymise(subject: PrivacySubject) -> list[str]:
    values = [v for v in subject.values if v and len(v) >= 5]  # a short value would match everybody's payloads
    if not values:
        return []
    naming = (
        WebhookDelivery.objects.annotate(text=Cast("payload", TextField()))
        .filter(reduce(or_, (Q(text__icontains=v) for v in values)))
        .exclude(text__icontains=ERASED)
    )
    changed = 0
    for delivery in naming.only("pk", "payload"):
        payload = {k: v for k, v in delivery.payload.items() if k in ("id", "event", "created_at")}
        changed += WebhookDelivery.objects.filter(pk=delivery.pk).update(
            payload={**payload, "data": {"erased": ERASED}}
        )
    return ["outbound.WebhookDelivery.payload"] if changed else []


HANDLER = PrivacyHandler(name="outbound", export=export, anonymise=anonymise)
