"""Events on the Customer 360 timeline, and how a merge moves them (registered in EventsConfig.ready)."""

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from kervan.customers.registry import TimelineSource, register_merge, register_timeline_source
from kervan.events import labels
from kervan.events.actions import events_reassign
from kervan.events.models import Event
from kervan.events.selectors import customer_newest_event_keys

# Dedupe-key namespaces of events that other apps' actions emit for rows their own timeline source shows (an order's
# "Placed Order" beside the order's own entry): left off the timeline so nothing shows twice. Apps add theirs with
# hide_emitted_events() from their ready().
_hidden_key_prefixes: list[str] = []


def hide_emitted_events(*key_prefixes: str) -> None:
    _hidden_key_prefixes.extend(p for p in key_prefixes if p not in _hidden_key_prefixes)


def _rows(customer_id: int) -> QuerySet[Event]:
    rows = Event.objects.filter(customer_id=customer_id)
    for prefix in _hidden_key_prefixes:
        rows = rows.exclude(dedupe_key__startswith=prefix)
    return rows


def _newest_keys(
    customer_id: int, *, count: int, before: tuple[dt.datetime, int] | None, not_after: dt.datetime | None
) -> list[tuple[dt.datetime, int]]:
    return customer_newest_event_keys(
        customer_id,
        count=count,
        before=before,
        not_after=not_after,
        exclude_key_prefixes=tuple(_hidden_key_prefixes),
    )


class _Present:
    """An event on the timeline: its name in the UI language, and under it its first properties as labelled text
    ("Product: Çaydanlık · Value: ₺349,90"). `many` presents a page of events with one query for the products and
    variants they name (kervan.customer360.timeline calls it when a source's present has it)."""

    def __call__(self, event: Event) -> dict[str, Any]:
        return self.many([event])[0]

    def many(self, events: list[Event]) -> list[dict[str, Any]]:
        return [
            {"title": labels.event_label(event.name), "data": event.properties, "summary": labels.summary(details)}
            for event, details in zip(events, labels.describe(events), strict=True)
        ]


_present = _Present()


def register() -> None:
    register_merge("events", events_reassign)
    from kervan.customers.registry import register_privacy
    from kervan.events import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    register_timeline_source(
        TimelineSource(
            kind="event",
            label=gettext_lazy("Events"),
            position=0,  # the lowest: at one instant, an event sorts after any other kind's entry
            area="events",
            rows=_rows,
            time_field="occurred_at",
            present=_present,
            # On PostgreSQL a customer's events are read apart, per event name: the events table has no (customer,
            # time) index, and sorting a long history inside the UNION costs seconds.
            newest_keys=_newest_keys if connection.vendor == "postgresql" else None,
        )
    )
