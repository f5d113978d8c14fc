"""Reads for the integration pages and API: connections, their sync health, deliveries, backfills."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q

from kervan.accounts.actors import Actor
from kervan.core import clock, crypto
from kervan.core.errors import NotFound
from kervan.integrations.models import Backfill, Connection, Delivery

HEALTH_WINDOW = dt.timedelta(hours=24)


def connection_list(*, actor: Actor):
    actor.require("integrations", "read")
    return Connection.objects.select_related("source").order_by("name", "id")


def connection_get(*, actor: Actor, connection_id: int) -> Connection:
    actor.require("integrations", "read")
    connection = Connection.objects.select_related("source").filter(pk=connection_id).first()
    if connection is None:
        raise NotFound()
    return connection


@dataclass(frozen=True)
class Health:
    last_delivery_at: dt.datetime | None
    backlog: int  # waiting or retrying
    oldest_waiting_at: dt.datetime | None
    received: int  # in the window
    failed: int  # dead, in the window
    dead_total: int

    @property
    def error_rate(self) -> float | None:
        return None if not self.received else self.failed / self.received


def connection_health(connection: Connection) -> Health:
    since = clock.now() - HEALTH_WINDOW
    waiting = (Delivery.Status.PENDING, Delivery.Status.RETRYING)
    figures = Delivery.objects.filter(connection=connection).aggregate(
        last=Max("received_at"),
        backlog=Count("id", filter=Q(status__in=waiting)),
        received=Count("id", filter=Q(received_at__gte=since)),
        failed=Count("id", filter=Q(received_at__gte=since, status=Delivery.Status.DEAD)),
        dead=Count("id", filter=Q(status=Delivery.Status.DEAD)),
    )
    oldest = (
        Delivery.objects.filter(connection=connection, status__in=waiting)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    return Health(
        last_delivery_at=figures["last"],
        backlog=figures["backlog"],
        oldest_waiting_at=oldest,
        received=figures["received"],
        failed=figures["failed"],
        dead_total=figures["dead"],
    )


def masked_credentials(connection: Connection) -> list[tuple[str, str]]:
    """(label, what is shown) per credential: secrets masked, the rest as stored."""
    stored = connection.credentials
    return [
        (spec.label, crypto.mask(stored.get(spec.name, "")) if spec.secret else stored.get(spec.name, ""))
        for spec in connection.platform_impl.credential_fields
    ]


def deliveries(connection: Connection, *, status: str = "", limit: int = 100):
    rows = Delivery.objects.filter(connection=connection)
    if status:
        rows = rows.filter(status=status)
    return rows.defer("body", "headers")[:limit]


def delivery_get(*, actor: Actor, connection: Connection, delivery_id: int) -> Delivery:
    actor.require("integrations", "read")
    delivery = Delivery.objects.filter(connection=connection, pk=delivery_id).first()
    if delivery is None:
        raise NotFound()
    return delivery


def backfill_get(*, actor: Actor, connection: Connection, backfill_id: int) -> Backfill:
    actor.require("integrations", "read")
    backfill = Backfill.objects.filter(connection=connection, pk=backfill_id).first()
    if backfill is None:
        raise NotFound()
    return backfill
