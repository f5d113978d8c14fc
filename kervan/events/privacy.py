"""Events in a privacy request (kervan.customers.privacy): every event of the person, and of the visitor ids they
browsed under before they were known, in the export. On erasure an event keeps its name and time (segments, flows
and reports count them) and loses its properties — pages and URLs visited, search words, IP address, user agent,
what was typed into a form — and the visitor id that tied it to a browser."""

from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.events.models import Event


def _events(subject: PrivacySubject):
    mine = Q(customer_id__in=subject.customer_ids)
    if subject.anonymous_ids:
        # The visitor's events that no identify joined to the profile (the index on unidentified visitor ids).
        mine |= Q(customer__isnull=True, anonymous_id__in=subject.anonymous_ids)
    return Event.objects.filter(mine)


def export(subject: PrivacySubject) -> dict[str, Any]:
    rows = _events(subject).order_by("occurred_at", "id")
    return {
        "events": [
            {**row, "source": row.pop("source__name")}
            for row in rows.values("name", "occurred_at", "received_at", "properties", "anonymous_id", "source__name")
        ]
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    rows = _events(subject).filter(~Q(properties={}) | ~Q(anonymous_id=""))
    return (
        ["events.Event.properties", "events.Event.anonymous_id"] if rows.update(properties={}, anonymous_id="") else []
    )


HANDLER = PrivacyHandler(name="events", export=export, anonymise=anonymise, models=("events.Event",))
