"""Events on the Customer 360 timeline, and how a merge moves them (registered in EventsConfig.ready)."""

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy

from kervan.customers.registry import TimelineSource, register_merge, register_timeline_source
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


def _present(event: Event) -> dict[str, Any]:
    # The page's line under the title: the first four properties, each cut to 60 characters.
    summary = " · ".join(f"{key}: {Truncator(value).chars(60)}" for key, value in list(event.properties.items())[:4])
    return {"title": event.name, "data": event.properties, "summary": summary}


def register() -> None:
    register_merge("events", events_reassign)
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
