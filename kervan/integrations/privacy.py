"""Integrations in a privacy request (kervan.customers.privacy). Stored webhook deliveries are the platform's raw
payloads, kept for inspection and replay: they name people but point at no customer. On erasure every stored
delivery whose body names the person (their email, phone or name as the request gives them) loses its body; the
delivery row stays (what arrived when, and what it did). Deliveries are also deleted after their retention
(kervan.integrations.tasks.deliveries_prune), so nothing is kept for ever."""

from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.integrations.models import Delivery

ERASED_BODY = '{"erased": "personal data request"}'


def export(subject: PrivacySubject) -> dict[str, Any]:
    return {}  # raw payloads are the platform's copy of what the export already holds, in Kervan's terms


def anonymise(subject: PrivacySubject) -> list[str]:
    values = [v for v in subject.values if v and len(v) >= 5]  # a short value would match everybody's payloads
    if not values:
        return []
    naming = Delivery.objects.filter(reduce(or_, (Q(body__icontains=v) for v in values))).exclude(body=ERASED_BODY)
    erased = naming.update(body=ERASED_BODY, headers={})
    return ["integrations.Delivery.body"] if erased else []


HANDLER = PrivacyHandler(name="integrations", export=export, anonymise=anonymise)
