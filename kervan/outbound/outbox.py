"""The outbox: an emitted event becomes one WebhookDelivery row per subscribed endpoint, inserted in the
transaction of the change that caused it (kervan.core.outgoing.emit calls `deliveries_add` through the sink this app
sets). The worker (sending.py) sends them after the commit; a rollback leaves none."""

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from kervan.core import clock
from kervan.outbound.models import WebhookDelivery, WebhookEndpoint

BATCH = 2000


def envelope(name: str, event_id: str, data: Mapping[str, Any], at: Any) -> dict[str, Any]:
    """The body receivers get: the event's id (the same on every retry and replay), its name, when it happened."""
    return {"id": event_id, "event": name, "created_at": at.isoformat(), "data": jsonable(data)}


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):  # whole ISO 8601 (Django's encoder cuts to milliseconds)
            return o.isoformat()
        return super().default(o)


def jsonable(data: Any) -> Any:
    """Decimals as strings (money keeps its digits), datetimes in ISO 8601 with their offset."""
    return json.loads(json.dumps(data, cls=_Encoder))


def subscribers(name: str) -> list[int]:
    # Endpoints are few: read them all (JSON "contains" is not portable to SQLite) and pick in Python.
    return [
        pk for pk, events in WebhookEndpoint.objects.filter(active=True).values_list("pk", "events") if name in events
    ]


def deliveries_add(name: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
    """Queue `events` of `name` for every active endpoint that chose it; an (endpoint, event id) already queued is
    left as it is. Returns how many rows were offered."""
    endpoints = subscribers(name)
    if not endpoints:
        return 0
    now = clock.now()
    rows: list[WebhookDelivery] = []
    offered = 0
    for event_id, data in events:
        body = envelope(name, str(event_id)[:200], data, now)
        rows += [
            WebhookDelivery(endpoint_id=pk, event=name, event_id=body["id"], payload=body, due_at=now)
            for pk in endpoints
        ]
        if len(rows) >= BATCH:
            offered += _insert(rows)
            rows = []
    return offered + _insert(rows)


def _insert(rows: list[WebhookDelivery]) -> int:
    if rows:
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
