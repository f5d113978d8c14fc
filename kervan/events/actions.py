"""Writes to the event store. Events are append-only; a repeated dedupe_key is ignored, never stored twice."""

from django.db import IntegrityError, transaction

from kervan.customers.models import CustomerStats
from kervan.events.models import Event


def event_record(
    *,
    name: str,
    occurred_at,
    dedupe_key: str,
    customer_id: int | None = None,
    anonymous_id: str = "",
    properties: dict | None = None,
    source=None,
) -> bool:
    """Store one event for a customer (or an anonymous visitor). Returns False if dedupe_key was already seen.

    Used by domain actions (orders emit "Placed Order" and friends); the API's batch path bulk-inserts instead.
    """
    try:
        with transaction.atomic():
            Event.objects.create(
                name=name,
                occurred_at=occurred_at,
                dedupe_key=dedupe_key,
                customer_id=customer_id,
                anonymous_id=anonymous_id,
                properties=properties or {},
                source=source,
            )
    except IntegrityError:
        return False
    if customer_id is not None:
        _touch_last_event(customer_id, occurred_at)
    return True


def _touch_last_event(customer_id: int, occurred_at) -> None:
    from django.db.models import Q

    CustomerStats.objects.filter(customer_id=customer_id).filter(
        Q(last_event_at__isnull=True) | Q(last_event_at__lt=occurred_at)
    ).update(last_event_at=occurred_at)


def events_attach_anonymous(*, anonymous_id: str, customer_id: int) -> int:
    """Give an identified visitor's earlier anonymous events to their profile."""
    return Event.objects.filter(anonymous_id=anonymous_id, customer__isnull=True).update(customer_id=customer_id)


def events_reassign(*, from_customer_id: int, to_customer_id: int) -> int:
    """Move a merged customer's events to the surviving profile."""
    return Event.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
